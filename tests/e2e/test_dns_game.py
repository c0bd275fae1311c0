"""DNS in a game (tests/e2e/scenarios/dns_ttl.yaml), with the real binaries: the server
runs `gameday dns`, each team's dns_record resources are its hosted zone (dig shows
them, an alias answers its load balancer's address), and customers find the service
by resolving www in their team's zone through c-ares, each caching its answer for the
TTL. Moving the record and terminating the old instance shows the TTL lesson: errors
while the old answers live, none once they ran out (but for the few customers that
keep answers past their TTL, once each)."""

import re
import urllib.request

import pytest

from conftest import dig_answers, scenario_path, shared_game
from conftest import dig as dig_at

SCENARIO = scenario_path("dns_ttl.yaml")
SPEED = 60
NET = 220  # team 1 lives at 127.220.0.0/16: no other test uses it
ZONE = "team1.gameday.test"


@pytest.fixture(scope="module")
def game(tmp_path_factory):
    yield from shared_game(tmp_path_factory, SCENARIO, "dns_ttl", port=18460, speed=SPEED,
                           net=NET)


def dns_addr(g):
    host, port = g.info["dns"].split(":")
    return host, port


def dig(g, name, *extra):
    return dig_at(*dns_addr(g), name, *extra)


answers = dig_answers


def loadgen_metrics(g):
    with urllib.request.urlopen(f"http://127.{NET}.255.250:9100/metrics", timeout=5) as r:
        text = r.read().decode()
    sent = {m.group(1): float(m.group(2)) for m in re.finditer(
        r'^gameday_loadgen_sent_by_address_total\{team="1",address="([\d.]+)"\} (\S+)$',
        text, re.M)}
    errors = float(re.search(r'^gameday_loadgen_requests_total\{team="1",outcome="error"\} (\S+)$',
                             text, re.M).group(1))
    lookups = float(re.search(r"^gameday_loadgen_dns_lookups_total\{[^}]*\} (\S+)$", text,
                              re.M).group(1))
    return sent, errors, lookups


def clock(g):
    return g.status()["clock"]


def ip_of(g, name):
    return g.get(f"/resources/{name}")["status"]["ip"]


def test_dig_shows_the_zone_and_an_alias_answers_the_load_balancer(game):
    out = dig(game, f"www.{ZONE}", "+noall", "+answer")
    assert answers(out) == [(f"www.{ZONE}.", 60, "A", f"127.{NET}.0.4")]
    assert ip_of(game, "web1") == f"127.{NET}.0.4"
    # an alias to a load balancer answers its address, with the target's TTL
    game.ctl("create", "clb", "lb", "subnets=[\"public-a\"]", "instances=[\"web2\"]")
    game.ctl("create", "dns_record", "shop", "alias=lb")
    lb_ip = game.wait_until(lambda: game.get("/resources/lb")["status"].get("ip"), 10,
                            "the clb's address")
    rows = game.wait_until(lambda: answers(dig(game, f"shop.{ZONE}", "+noall", "+answer")), 10,
                           "the alias in the zone")
    assert rows == [(f"shop.{ZONE}.", 60, "A", lb_ip)]
    # a CNAME to it resolves within the zone
    game.ctl("create", "dns_record", "store", "type=CNAME", "values=[\"shop\"]", "ttl=300")
    rows = game.wait_until(lambda: answers(dig(game, f"store.{ZONE}", "+noall", "+answer")),
                           10, "the CNAME")
    assert rows[0] == (f"store.{ZONE}.", 300, "CNAME", f"shop.{ZONE}.")
    assert rows[1][2:] == ("A", lb_ip)
    # another team's address is refused, and nothing changes
    r = game.ctl("create", "dns_record", "evil", f"values=[\"127.{NET + 1}.0.4\"]", check=False)
    assert r.returncode != 0 and "outside this team's range" in r.stderr, r.stderr
    assert "NXDOMAIN" in dig(game, f"evil.{ZONE}", "+noall", "+comments")
    game.ctl("delete", "store")
    game.ctl("delete", "shop")
    game.ctl("delete", "lb")


def test_customers_follow_the_record_after_its_ttl(game):
    web1, web2 = ip_of(game, "web1"), ip_of(game, "web2")
    # customers resolve www and reach web1 only
    sent, _, lookups = game.wait_until(
        lambda: (lambda m: m if m[0].get(web1, 0) > 200 else None)(loadgen_metrics(game)), 30,
        "customers sending to web1")
    assert lookups > 0 and web2 not in sent
    # www moves to web2 and web1 goes away
    game.ctl("update", "www", f"values=[\"{web2}\"]")
    game.wait_until(lambda: dig(game, f"www.{ZONE}", "+short").split() == [web2], 10,
                    "the new answer")
    game.ctl("terminate", "web1", "--force")
    t0 = clock(game)
    _, errors0, _ = loadgen_metrics(game)
    # while the old answers live (TTL 60 s), customers still go to web1, and fail there
    game.wait_until(lambda: clock(game) > t0 + 20, 10, "20 s of game time")
    sent1, errors1, _ = loadgen_metrics(game)
    assert errors1 > errors0, "customers with the old answer fail at web1's address"
    # once every answer ran out, only the few who keep answers past the TTL try web1, and
    # each of them lets go of it after one failure
    game.wait_until(lambda: clock(game) > t0 + 75, 10, "the TTL to run out")
    sent2, errors2, _ = loadgen_metrics(game)
    game.wait_until(lambda: clock(game) > t0 + 150, 10, "another 75 s of game time")
    sent3, errors3, _ = loadgen_metrics(game)
    keepers = 200 * 0.05
    assert sent3.get(web1, 0) - sent2.get(web1, 0) <= 2 * keepers * 2, (sent2, sent3)
    assert errors3 - errors2 <= 2 * keepers * 2, (errors2, errors3)
    assert sent3[web2] - sent2.get(web2, 0) > 200, "customers moved to web2"
    assert errors2 - errors0 > 10, "the errors of the TTL window are counted"


def eip_get(ip, path="/time?tz=UTC"):
    with urllib.request.urlopen(f"http://{ip}:8080{path}", timeout=5) as r:
        return r.status, r.headers.get("X-Instance-Id")


def test_an_elastic_ip_reaches_its_instance_and_moves_with_it(game):
    game.ctl("create", "instance", "web3", "launch_template=web", "subnet=public-a")
    game.wait_until(lambda: game.get("/resources/web3")["status"].get("state") == "running", 10,
                    "web3 running")
    web2, web3 = game.get("/resources/web2")["id"], game.get("/resources/web3")["id"]
    game.ctl("create", "elastic_ip", "front", "instance=web2")
    eip = game.wait_until(lambda: game.get("/resources/front")["status"].get("ip"), 10,
                          "an address")
    assert eip.startswith(f"127.{NET}.251."), eip
    game.wait_until(lambda: eip_get(eip) == (200, web2), 10, "the address reaching web2")
    game.ctl("update", "front", "instance=web3")
    game.wait_until(lambda: eip_get(eip) == (200, web3), 10, "the address moved to web3")
    assert game.get("/resources/front")["status"]["association"] == web3
    # customers reach the instance through its Elastic IP
    game.ctl("update", "www", f"values=[\"{eip}\"]")
    game.wait_until(lambda: loadgen_metrics(game)[0].get(eip, 0) > 100, 30,
                    "customers going through the Elastic IP")
    # at most 5 per team (AWS's default); one more is refused
    for i in range(4):
        game.ctl("create", "elastic_ip", f"spare{i}")
    r = game.ctl("create", "elastic_ip", "one-too-many", check=False)
    assert r.returncode != 0 and "LimitExceeded" in r.stderr, r.stderr
    # and every address is billed by the hour
    game.wait_until(lambda: any(r["type"] == "elastic_ip" and r["usd"] > 0
                                for r in game.get("/bill")["by_resource"]), 10,
                    "the Elastic IPs on the bill")


def test_vertical_scaling_costs_its_downtime_in_errors(game):
    """web3, behind the Elastic IP the customers resolve, is stopped, given a bigger
    type and started again: the customers' errors grow while it is down, and stop
    once it serves again."""
    _, e0, _ = loadgen_metrics(game)
    game.ctl("stop", "web3")
    game.wait_until(lambda: game.get("/resources/web3")["status"]["state"] == "stopped", 10,
                    "web3 stopped")
    t0 = clock(game)
    game.wait_until(lambda: clock(game) > t0 + 30, 10, "30 s of game time")
    _, e1, _ = loadgen_metrics(game)
    assert e1 - e0 > 20, "requests fail while the instance is stopped"
    game.ctl("update", "web3", "instance_type=t3.small")
    game.ctl("start", "web3")
    game.wait_until(lambda: eip_get(game.get("/resources/front")["status"]["ip"])[0] == 200, 10,
                    "web3 serving again")
    t1 = clock(game)
    game.wait_until(lambda: clock(game) > t1 + 20, 10, "20 s of game time")
    _, e2, _ = loadgen_metrics(game)
    game.wait_until(lambda: clock(game) > t1 + 60, 10, "40 s more")
    _, e3, _ = loadgen_metrics(game)
    assert e3 - e2 <= 2, "no errors once it serves again"


def test_failover_follows_the_route53_health_check(game):
    web2, web3 = ip_of(game, "web2"), ip_of(game, "web3")
    hc = '{"path": "/health", "port": 8080, "interval": "10s", "failure_threshold": 1}'
    game.ctl("create", "dns_record", "api-primary", "record=api", "failover=primary",
             f"values=[\"{web2}\"]", "ttl=10s", f"health_check={hc}")
    game.ctl("create", "dns_record", "api-secondary", "record=api", "failover=secondary",
             f"values=[\"{web3}\"]", "ttl=10s")
    game.wait_until(lambda: dig(game, f"api.{ZONE}", "+short").split() == [web2], 10,
                    "the primary answering")
    game.wait_until(lambda: game.get("/resources/api-primary")["status"].get("health") ==
                    "Healthy", 10, "the primary's check healthy")
    game.ctl("terminate", "web2", "--force")
    game.wait_until(lambda: dig(game, f"api.{ZONE}", "+short").split() == [web3], 10,
                    "the secondary once the primary's check failed")
    assert game.get("/resources/api-primary")["status"]["health"] == "Unhealthy"
