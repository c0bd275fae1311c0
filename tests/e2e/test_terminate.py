"""Terminations are audited with who did them, and the load balancer stops sending to
a terminated instance: a team terminates one with `gameday ctl terminate`, Chaos
Monkey (a scenario event at 1m) terminates another."""

import json

import pytest

from conftest import gameday_hash, scenario_path

SCENARIO = scenario_path("fleet.yaml")
CHAOS_AT = 60  # game seconds: the scenario's terminate_random event


@pytest.fixture(scope="module")
def fleet(module_play):
    g = module_play(SCENARIO, speed=60)
    g.wait_ready()
    g.wait_customers()
    return g


def terminations(audit, principal):
    return [a for a in audit
            if a["eventName"] == "TerminateInstances" and a["principal"] == principal]


def test_terminated_instance_is_audited_and_leaves_the_load_balancer(fleet):
    g = fleet
    # After Chaos Monkey's strike, so that it cannot pick the same instance.
    g.wait_until(lambda: g.status()["clock"] > CHAOS_AT + 5, 15, "the chaos event to pass")
    up = g.wait_until(lambda: [i for i in g.instances() if i["status"]["state"] == "running"
                               and i["status"].get("health") == "InService"],
                      10, "instances in service")
    assert len(up) >= 2, up
    victim = up[0]["id"]
    assert any(t["id"] == victim for t in g.edge_stats()["targets"])
    # Before: the victim does serve customers through the endpoint.
    seen = set()

    def served_by_victim():
        seen.add(g.request("before").header("X-Instance-Id"))
        return victim in seen

    g.wait_until(served_by_victim, 10, f"an answer from {victim} through the endpoint")

    r = g.ctl("terminate", victim)
    assert json.loads(r.stdout)["status"]["state"] == "terminated", r.stdout

    r = g.ctl("--json", "audit")
    recs = [a for a in terminations(json.loads(r.stdout), "team-1")
            if a["requestParameters"]["instanceId"] == victim]
    assert len(recs) == 1, r.stdout[-2000:]
    assert recs[0]["errorCode"] is None, recs[0]
    assert recs[0]["responseElements"]["currentState"] == "terminated", recs[0]
    assert recs[0]["sourceIP"] == "127.0.0.1", recs[0]

    def edge_dropped():
        ts = [t for t in g.edge_stats()["targets"] if t["id"] == victim]
        return not ts or ts[0]["state"] == "draining"

    g.wait_until(edge_dropped, 5, f"the edge's /stats to drop {victim} (or drain it)")
    want = {k: gameday_hash(k, SCENARIO) for k in ("a", "b", "c")}
    served = set()
    for n in range(30):
        key = "abc"[n % 3]
        r = g.request(key)
        assert r.status == 200, r
        assert r.json()["hash"] == want[key]
        iid = r.header("X-Instance-Id")
        assert iid != victim, f"request {n} after the termination was served by {victim}"
        served.add(iid)
    assert served and served <= {i["id"] for i in up}, served
    st = [i for i in g.instances() if i["id"] == victim][0]["status"]
    assert st["state"] == "terminated" and "team-1" in st["reason"], st


def test_chaos_monkey_termination_is_audited(fleet):
    g = fleet
    recs = g.wait_until(lambda: terminations(g.audit(), "chaos-monkey"), 15,
                        "Chaos Monkey's TerminateInstances record")
    assert len(recs) == 1, recs
    rec = recs[0]
    assert rec["errorCode"] is None, rec
    assert rec["eventTime"] >= CHAOS_AT, rec
    iid = rec["requestParameters"]["instanceId"]
    inst = {i["id"]: i for i in g.instances()}
    assert iid in inst and inst[iid]["status"]["asg"] == "web", "it picked an instance of web"
    assert inst[iid]["status"]["state"] == "terminated", inst[iid]["status"]
    assert "chaos-monkey" in inst[iid]["status"]["reason"], inst[iid]["status"]
    g.wait_until(lambda: all(t["id"] != iid or t["state"] == "draining"
                             for t in g.edge_stats()["targets"]),
                 5, f"the edge to drop {iid}")
    events = g.get("/score/events?limit=0")
    assert any(e["source"] == "chaos-monkey" and iid in e["reason"] for e in events), \
        "the game's event log shows the strike"
