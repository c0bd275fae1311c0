"""Security groups (tests/e2e/scenarios/security_groups.yaml), enforced by the real
listeners at accept: a forbidden source is closed before any answer and counted, an
allowed one is served; a group that allows only the load balancer's group makes an
instance unreachable directly and reachable through it; the GameDay favourite (a rule
flipped to deny) takes the load balancer's targets out of service, and the customers
with them."""

import http.client
import re

import pytest

from conftest import scenario_path, shared_game

NET = 223  # team 1 lives at 127.223.0.0/16: no other test uses it


@pytest.fixture(scope="module")
def game(tmp_path_factory):
    yield from shared_game(tmp_path_factory, scenario_path("security_groups.yaml"), "sg",
                           port=18520, speed=60, net=NET)


def get(ip, port, path="/?key=k1"):
    """The status of GET path, or None when the connection is closed unanswered."""
    c = http.client.HTTPConnection(ip, port, timeout=5)
    try:
        c.request("GET", path)
        return c.getresponse().status
    except (ConnectionError, http.client.HTTPException, OSError):
        return None
    finally:
        c.close()


def res(g, name):
    return g.get(f"/resources/{name}")


def log_of(g, name):
    return (g.out / "logs" / f"{res(g, name)['id']}.log").read_text()


def test_only_the_load_balancer_reaches_an_instance_behind_it(game):
    web1, open1 = res(game, "web1")["status"], res(game, "open1")["status"]
    lb = res(game, "web-lb")["status"]
    assert get(web1["ip"], web1["port"]) is None, "web1 admits only the load balancer's group"
    game.wait_until(lambda: re.search(r"ev=denied from=127\.0\.0\.1 count=\d+", log_of(game, "web1")),
                    10, "the denial in web1's log")
    assert get(lb["ip"], lb["port"]) == 200, "through the load balancer it serves"
    assert get(open1["ip"], open1["port"]) == 200, "a group open to everyone lets us in"
    assert game.team()["ok"] > 0, "the customers come through the load balancer"


def test_a_rule_flipped_to_deny_hurts_as_it_should(game):
    lb = res(game, "web-lb")["status"]
    # web-sg no longer lets the load balancer in: its health checks fail, web1 goes out of
    # service, and the customers get 503s
    game.ctl("update", "web-sg", "ingress=[]")
    game.wait_until(lambda: get(lb["ip"], lb["port"]) == 503, 20,
                    "the load balancer without a healthy target")
    errors = game.team()["errors"]
    game.wait_until(lambda: game.team()["errors"] > errors + 5, 20, "customers failing")
    # put it back: web1 comes back in service
    game.ctl("update", "web-sg", 'ingress=[{"source_group": "lb-sg", "port": 8000}]')
    game.wait_until(lambda: get(lb["ip"], lb["port"]) == 200, 20, "web1 back in service")
    # the load balancer's own group: nobody from outside may connect, and it counts them
    game.ctl("update", "lb-sg", 'ingress=[{"from": "127.T.0.0/16", "port": 8080}]')
    game.wait_until(lambda: get(lb["ip"], lb["port"]) is None, 10, "customers refused at the lb")
    stats = game.edge_stats()
    assert stats["denied"] > 0, stats
    game.ctl("update", "lb-sg", 'ingress=[{"from": "0.0.0.0/0", "port": 8080}]')
    game.wait_until(lambda: get(lb["ip"], lb["port"]) == 200, 10, "the lb open again")


def test_bad_rules_are_refused_and_change_nothing(game):
    for bad, want in [('ingress=[{"from": "somewhere"}]', "not a CIDR block"),
                      ('ingress=[{"from": "0.0.0.0/0", "source_group": "lb-sg"}]',
                       "one of them"),
                      ('ingress=[{"source_group": "nope"}]', "no security_group named 'nope'"),
                      ('ingress=[{"from": "0.0.0.0/0", "port": 70000}]', "not a port")]:
        r = game.ctl("update", "open-sg", bad, check=False)
        assert r.returncode != 0 and want in r.stderr, (bad, r.stderr)
    open1 = res(game, "open1")["status"]
    assert get(open1["ip"], open1["port"]) == 200
