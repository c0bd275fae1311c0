"""`gameday dns` on its own: the real binary answering the real `dig` (bind9-dnsutils)
over UDP and TCP, its zones pushed over the admin API. Addresses: 127.241.0.0/16."""

import json
import re

import pytest

from conftest import daemon, dig_answers, http
from conftest import dig as dig_at

LISTEN = ("127.241.0.53", 5353)
ADMIN = "127.241.0.54:9000"
TOKEN = "dns-test-token"

ZONES = {"zones": [
    {"name": "team1.gameday.test", "team": 1, "records": [
        {"name": "www", "type": "A", "ttl": 60, "values": ["127.1.0.4", "127.1.0.5"]},
        {"name": "shop", "type": "CNAME", "ttl": 300, "values": ["www.team1.gameday.test"]},
        {"name": "w", "type": "A", "ttl": 30, "values": ["127.1.0.6"], "weight": 1},
        {"name": "w", "type": "A", "ttl": 30, "values": ["127.1.0.7"], "weight": 3},
        {"name": "f", "type": "A", "ttl": 10, "values": ["127.1.0.8"], "failover": "primary",
         "healthy": False},
        {"name": "f", "type": "A", "ttl": 10, "values": ["127.1.0.9"], "failover": "secondary"},
        {"name": "v6.deep", "type": "AAAA", "ttl": 10, "values": ["::1"]},
    ] + [  # a chain of CNAMEs with long names: over 512 bytes in all
        {"name": f"c{i}-{'x' * 55}", "type": "CNAME", "ttl": 5,
         "values": [f"c{i + 1}-{'x' * 55}.team1.gameday.test"]} for i in range(5)
    ] + [{"name": f"c5-{'x' * 55}", "type": "A", "ttl": 5, "values": ["127.1.5.5"]}]},
    {"name": "team2.gameday.test", "team": 2, "records": [
        {"name": "www", "type": "A", "ttl": 60, "values": ["127.2.0.4"]}]},
]}


def dig(*args):
    return dig_at(*LISTEN, *args)


answers = dig_answers


def status(text):
    m = re.search(r"status: (\w+)", text)
    return m.group(1) if m else None


@pytest.fixture(scope="module")
def dnsd(tmp_path_factory):
    log = tmp_path_factory.mktemp("dns") / "dns.err"
    with daemon(["dns", "--listen", f"{LISTEN[0]}:{LISTEN[1]}", "--admin", ADMIN],
                f"http://{ADMIN}/health", log, env={"GAMEDAY_ADMIN_TOKEN": TOKEN}) as p:
        r = http("PUT", f"http://{ADMIN}/config", body=ZONES, token=TOKEN)
        assert r.status == 200, r
        yield p


def test_dig_gets_the_records_with_their_ttls(dnsd):
    out = dig("www.team1.gameday.test", "A", "+noall", "+answer", "+comments")
    assert status(out) == "NOERROR"
    assert " aa" in out.split("flags:")[1].split(";")[0], "an authoritative answer"
    assert sorted(answers(out)) == [("www.team1.gameday.test.", 60, "A", "127.1.0.4"),
                                    ("www.team1.gameday.test.", 60, "A", "127.1.0.5")]
    # names are case-insensitive, and TCP answers the same
    tcp = dig("WWW.Team1.Gameday.Test", "A", "+tcp", "+noall", "+answer")
    assert sorted(v for _, _, _, v in answers(tcp)) == ["127.1.0.4", "127.1.0.5"]
    six = dig("v6.deep.team1.gameday.test", "AAAA", "+noall", "+answer")
    assert answers(six) == [("v6.deep.team1.gameday.test.", 10, "AAAA", "::1")]


def test_a_cname_resolves_within_the_zone(dnsd):
    out = dig("shop.team1.gameday.test", "A", "+noall", "+answer")
    rows = answers(out)
    assert rows[0] == ("shop.team1.gameday.test.", 300, "CNAME", "www.team1.gameday.test.")
    assert sorted(v for _, _, t, v in rows if t == "A") == ["127.1.0.4", "127.1.0.5"]


def test_missing_names_and_other_zones(dnsd):
    nx = dig("nope.team1.gameday.test", "A", "+noall", "+comments", "+authority")
    assert status(nx) == "NXDOMAIN"
    assert "SOA" in nx, "the zone's SOA for negative caching"
    # "deep" exists as an empty non-terminal, and www has no AAAA: NODATA, not NXDOMAIN
    assert status(dig("deep.team1.gameday.test", "A", "+noall", "+comments")) == "NOERROR"
    assert status(dig("www.team1.gameday.test", "AAAA", "+noall", "+comments")) == "NOERROR"
    assert status(dig("example.com", "A", "+noall", "+comments")) == "REFUSED"
    soa = dig("team1.gameday.test", "SOA", "+short").split()
    assert soa[0] == "ns.team1.gameday.test." and soa[-1] == "60"
    assert dig("team2.gameday.test", "NS", "+short").strip() == "ns.team2.gameday.test."
    assert dig("www.team2.gameday.test", "+short").strip() == "127.2.0.4", "zones are apart"


def test_weighted_and_failover_routing(dnsd):
    seen = {}
    for _ in range(200):
        ip = dig("w.team1.gameday.test", "+short").strip()
        seen[ip] = seen.get(ip, 0) + 1
    assert set(seen) == {"127.1.0.6", "127.1.0.7"}, seen
    # weight 3 of 4: about 150 of 200 (binomial sd ~6; 4 sd either way)
    assert 125 <= seen["127.1.0.7"] <= 175, seen
    # the primary is unhealthy: the secondary answers
    assert dig("f.team1.gameday.test", "+short").strip() == "127.1.0.9"


def test_udp_truncates_and_tcp_carries_it_all(dnsd):
    name = f"c0-{'x' * 55}.team1.gameday.test"
    out = dig(name, "A", "+noedns", "+ignore", "+noall", "+comments", "+answer")
    assert " tc" in out.split("flags:")[1].split(";")[0], out
    assert answers(out) == [], "a truncated answer carries no records"
    tcp = answers(dig(name, "A", "+tcp", "+noall", "+answer"))
    assert [t for _, _, t, _ in tcp] == ["CNAME"] * 5 + ["A"] and tcp[-1][3] == "127.1.5.5"
    # dig falls back to TCP by itself, as a stub resolver does
    assert dig(name, "A", "+noedns", "+short").split()[-1] == "127.1.5.5"


def test_a_bad_zone_document_is_refused_and_changes_nothing(dnsd):
    bad = {"zones": [{"name": "team1.gameday.test", "records": [
        {"name": "www", "type": "A", "ttl": 60, "values": ["not-an-ip"]}]}]}
    r = http("PUT", f"http://{ADMIN}/config", body=bad, token=TOKEN)
    assert r.status == 400
    assert "zones[0].records[0].values" in r.body.decode() and "IPv4" in r.body.decode(), r
    r = http("PUT", f"http://{ADMIN}/config", body=ZONES, token="wrong")
    assert r.status == 401
    assert dig("www.team1.gameday.test", "+short").split() == ["127.1.0.4", "127.1.0.5"]


def test_a_new_document_changes_the_answers_and_counts_show(dnsd):
    doc = json.loads(json.dumps(ZONES))
    doc["zones"][0]["records"][0]["values"] = ["127.1.0.44"]
    r = http("PUT", f"http://{ADMIN}/config", body=doc, token=TOKEN)
    assert r.status == 200, r
    assert dig("www.team1.gameday.test", "+short").strip() == "127.1.0.44"
    stats = http("GET", f"http://{ADMIN}/stats").json()
    z1 = [z for z in stats["zones"] if z["name"] == "team1.gameday.test."][0]
    assert z1["queries"] > 0 and stats["rcodes"]["REFUSED"] >= 1
    metrics = http("GET", f"http://{ADMIN}/metrics").body.decode()
    assert re.search(r'^DNSQueries\{zone="team1.gameday.test.",team="1"\} [1-9]', metrics, re.M)
    r = http("PUT", f"http://{ADMIN}/config", body=ZONES, token=TOKEN)
    assert r.status == 200
