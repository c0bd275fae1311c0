"""Scaling in behind a load balancer drains before it terminates, as EC2 Auto Scaling
does: the instances that go are deregistered first (lifecycle Terminating, audited as
DeregisterTargets), keep running while the edge still has requests in flight on them,
and are terminated once drained, long before the 300 s connection-draining limit.
No request in flight is cut: the edge never has to retry one on another instance
(without draining it does, and customers wait twice)."""

import json

from conftest import get_json, scenario_path

SCENARIO = scenario_path("scale_in.yaml")


def customers_bad(t):
    return t["errors"] + t["timeouts"] + t["wrong"]


def test_scale_in_drains_then_terminates(play):
    g = play(SCENARIO, speed=60)
    g.wait_ready()
    g.wait_customers()

    def four_in_service():
        up = [i for i in g.instances() if i["status"]["state"] == "running"
              and i["status"].get("health") == "InService"]
        return len(up) == 4 and up

    g.wait_until(four_in_service, 30, "4 instances running and InService")
    g.wait_until(lambda: g.team()["ok"] >= 10, 30, "answered customers")
    bad_before = customers_bad(g.team())
    lb = [r for r in g.get("/resources") if r["name"] == "web-lb"][0]
    edge = "http://%s:9901/stats" % lb["status"]["ip"]
    cut_before = get_json(edge)
    assert cut_before["requests"] > 0, cut_before

    r = g.ctl("scale", "web", "2")
    assert json.loads(r.stdout)["spec"]["desired"] == 2, r.stdout

    def leaving():
        out = [i for i in g.instances() if i["status"].get("lifecycle") == "Terminating"]
        return len(out) == 2 and out

    going = g.wait_until(leaving, 15, "two instances deregistered (lifecycle Terminating)")
    ids = sorted(i["id"] for i in going)
    for i in going:
        st = i["status"]
        assert st["drain_until"] - st["drain_since"] == 300, st

    def gone():
        inst = {i["id"]: i for i in g.instances()}
        done = [inst[x] for x in ids if inst[x]["status"]["state"] == "terminated"]
        return len(done) == 2 and done

    done = g.wait_until(gone, 30, "the drained instances terminated")
    for i in done:
        st = i["status"]
        # Terminated after it was deregistered, once drained: a request takes 4 s of
        # game time, so far sooner than the 300 s limit.
        assert st["drain_since"] < st["terminated_at"] < st["drain_since"] + 120, st
        assert "scale-in" in st["reason"], st

    audit = g.audit()
    for x in ids:
        dereg = [a for a in audit if a["eventName"] == "DeregisterTargets"
                 and a["requestParameters"]["instanceId"] == x]
        term = [a for a in audit if a["eventName"] == "TerminateInstances"
                and a["requestParameters"]["instanceId"] == x]
        assert len(dereg) == 1 and dereg[0]["principal"] == "autoscaling", dereg
        assert len(term) == 1 and term[0]["principal"] == "autoscaling", term
        assert dereg[0]["eventTime"] <= term[0]["eventTime"], (dereg, term)

    running = [i for i in g.instances() if i["status"]["state"] == "running"]
    assert len(running) == 2, running
    # The customers of the requests in flight on the leaving instances were answered.
    ok_then = g.team()["ok"]
    g.wait_until(lambda: g.team()["ok"] >= ok_then + 5, 30, "more answers after the scale-in")
    assert customers_bad(g.team()) == bad_before, g.team()
    cut = get_json(edge)
    for k in ("retries", "backend_connection_errors", "elb_5xx"):
        assert cut[k] == cut_before[k], (k, cut_before, cut)
