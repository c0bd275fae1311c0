"""Faults on DNS records (a chaos experiment's outage, servfail, wrong address), as the
server pushes them in the zones document: the real `gameday dns` honours them for the
real `dig`, over UDP and TCP, counts them, and a bad one is refused like any bad
document. Addresses: 127.225.0.0/16 (net 225)."""

import copy
import re
import subprocess

import pytest

from conftest import daemon, dig_answers, http, net_lock, wait_until
from conftest import dig as dig_at

NET = 225
LISTEN = (f"127.{NET}.0.53", 5353)
ADMIN = f"127.{NET}.0.54:9000"
TOKEN = "dns-faults-token"
WRONG = f"127.{NET}.0.99"

ZONES = {"zones": [
    {"name": "team1.gameday.test", "team": 1, "records": [
        {"name": "www", "type": "A", "ttl": 60, "values": ["127.1.0.4"], "id": "rrset-www"},
        {"name": "www", "type": "AAAA", "ttl": 60, "values": ["::1"], "id": "rrset-www6"},
        {"name": "shop", "type": "CNAME", "ttl": 300, "values": ["www.team1.gameday.test"],
         "id": "rrset-shop"},
        {"name": "api", "type": "A", "ttl": 30, "values": ["127.1.0.5"], "id": "rrset-api"},
    ]}]}


def with_faults(*faults, record=0):
    doc = copy.deepcopy(ZONES)
    doc["zones"][0]["records"][record]["faults"] = list(faults)
    return doc


def dig(*args):
    return dig_at(*LISTEN, *args)


def dig_raw(*args):
    """dig that may fail (no answer): (its exit code, its stdout)."""
    out = subprocess.run(["dig", f"@{LISTEN[0]}", "-p", str(LISTEN[1]), "+time=1", "+tries=1",
                          *args], capture_output=True, text=True, timeout=10)
    return out.returncode, out.stdout


def status(text):
    m = re.search(r"status: (\w+)", text)
    return m.group(1) if m else None


def addresses(name, qtype="A"):
    return sorted(v for _, _, t, v in dig_answers(dig(name, qtype, "+noall", "+answer"))
                  if t == qtype)


def counter(kind):
    text = http("GET", f"http://{ADMIN}/metrics").body.decode()
    return float(re.search(rf'^gameday_dns_fault_answers_total{{kind="{kind}"}} (\S+)$', text,
                           re.M).group(1))


@pytest.fixture(scope="module")
def dnsd(tmp_path_factory):
    lock = net_lock(net=NET)
    log = tmp_path_factory.mktemp("dnsfaults") / "dns.err"
    try:
        with daemon(["dns", "--listen", f"{LISTEN[0]}:{LISTEN[1]}", "--admin", ADMIN],
                    f"http://{ADMIN}/health", log, env={"GAMEDAY_ADMIN_TOKEN": TOKEN}) as p:
            p.log = log
            yield p
    finally:
        lock.close()


def put(doc):
    return http("PUT", f"http://{ADMIN}/config", body=doc, token=TOKEN)


@pytest.fixture(autouse=True)
def clean_zones(dnsd):
    assert put(ZONES).status == 200
    yield


def test_outage_drops_the_queries_of_the_name(dnsd):
    assert addresses("www.team1.gameday.test") == ["127.1.0.4"]
    before = counter("outage")
    assert put(with_faults({"id": "f-out", "kind": "outage"})).status == 200
    for extra in ((), ("+tcp",)):
        rc, out = dig_raw("www.team1.gameday.test", "A", *extra)
        assert rc == 9 and "timed out" in out, (extra, rc, out)  # no answer at all
    rc, out = dig_raw("www.team1.gameday.test", "AAAA")
    assert rc == 9, "every query of the name, whatever its type"
    rc, out = dig_raw("shop.team1.gameday.test", "A")
    assert rc == 9, "a CNAME to the name leads into the outage"
    assert addresses("api.team1.gameday.test") == ["127.1.0.5"], "other names answer"
    assert counter("outage") >= before + 4
    assert re.search(r"ev=dns_fault_on name=www\.team1\.gameday\.test\. type=A kind=outage "
                     r"probability=1 address=- id=f-out", dnsd.log.read_text())


def test_servfail(dnsd):
    assert put(with_faults({"id": "f-sf", "kind": "servfail"})).status == 200
    for name in ("www.team1.gameday.test", "shop.team1.gameday.test"):
        for extra in ((), ("+tcp",)):
            out = dig(name, "A", *extra)
            assert status(out) == "SERVFAIL" and not dig_answers(out), (name, out)
    assert status(dig("api.team1.gameday.test", "A")) == "NOERROR"
    stats = http("GET", f"http://{ADMIN}/stats").json()
    assert stats["fault_answers"]["servfail"] >= 4 and stats["rcodes"]["SERVFAIL"] >= 4


def test_wrong_address(dnsd):
    before = counter("wrong")
    assert put(with_faults({"id": "f-w", "kind": "wrong", "address": WRONG})).status == 200
    out = dig("www.team1.gameday.test", "A", "+noall", "+answer")
    assert dig_answers(out) == [("www.team1.gameday.test.", 60, "A", WRONG)], out
    shop = dig_answers(dig("shop.team1.gameday.test", "A", "+noall", "+answer"))
    assert shop == [("shop.team1.gameday.test.", 300, "CNAME", "www.team1.gameday.test."),
                    ("www.team1.gameday.test.", 60, "A", WRONG)], shop
    assert addresses("www.team1.gameday.test", "AAAA") == ["::1"], "only A answers are wrong"
    assert counter("wrong") == before + 2


def test_probability(dnsd, tmp_path):
    batch = tmp_path / "queries"
    batch.write_text("www.team1.gameday.test A +short\n" * 60)

    def answers_of_batch():
        out = subprocess.run(["dig", f"@{LISTEN[0]}", "-p", str(LISTEN[1]), "+time=2",
                              "+tries=1", "-f", str(batch)], capture_output=True, text=True,
                             timeout=60)
        assert out.returncode == 0, out.stdout + out.stderr
        return out.stdout.split()

    fault = {"id": "f-half", "kind": "wrong", "address": WRONG}
    assert put(with_faults(dict(fault, probability=0))).status == 200
    assert set(answers_of_batch()) == {"127.1.0.4"}, "probability 0: never"
    assert put(with_faults(dict(fault, probability=0.5))).status == 200
    got = answers_of_batch()
    assert len(got) == 60 and set(got) == {"127.1.0.4", WRONG}, "some queries of 60, not all"
    assert 10 <= got.count(WRONG) <= 50, got.count(WRONG)


def test_clearing_the_faults_restores(dnsd):
    assert put(with_faults({"id": "f-w2", "kind": "wrong", "address": WRONG})).status == 200
    assert addresses("www.team1.gameday.test") == [WRONG]
    assert put(ZONES).status == 200
    assert addresses("www.team1.gameday.test") == ["127.1.0.4"]
    wait_until(lambda: re.search(r"ev=dns_fault_off name=www\.team1\.gameday\.test\. type=A "
                                 r"kind=wrong probability=1 address=127\.225\.0\.99 id=f-w2",
                                 dnsd.log.read_text()), 5, "fault_off in the log")


@pytest.mark.parametrize("faults,message", [
    ([{"kind": "blackhole"}], "zones[0].records[0].faults[0].kind: one of outage"),
    ([{"kind": "wrong"}], "zones[0].records[0].faults[0].address: the IPv4 address"),
    ([{"kind": "wrong", "address": "www.example"}], "faults[0].address:"),
    ([{"kind": "outage"}, {"kind": "servfail", "probability": 1.5}],
     "zones[0].records[0].faults[1].probability: a number 0..1"),
    ([{"kind": "outage", "probability": "often"}], "faults[0].probability:"),
    ([{"kind": "outage", "id": 7}], "faults[0].id: a string"),
    ([7], "faults[0].kind:"),
    ([{"kind": "outage"}] * 9, "zones[0].records[0].faults: a list of at most 8 faults"),
])
def test_a_bad_fault_is_refused_and_changes_nothing(dnsd, faults, message):
    assert put(with_faults({"id": "f-w", "kind": "wrong", "address": WRONG})).status == 200
    version = http("GET", f"http://{ADMIN}/stats").json()["version"]
    r = put(with_faults(*faults))
    assert r.status == 400 and r.json()["error"]["code"] == "InvalidConfig", r
    assert message in r.json()["error"]["message"], r.json()
    assert http("GET", f"http://{ADMIN}/stats").json()["version"] == version
    assert addresses("www.team1.gameday.test") == [WRONG], "the faults in force stay"
    assert dnsd.poll() is None
