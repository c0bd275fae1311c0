"""Scaling the fleet up raises capacity: one instance (1.25 rps) for 3 rps of
customers, then `gameday ctl scale web 6`; once the six instances are running and
InService, customers get more answers per second and far fewer errors."""

import json

from conftest import scenario_path

SCENARIO = scenario_path("scale.yaml")


def report_points(g, n, timeout=15):
    """Watches /status until the customers' counters changed n times (one loadgen
    report each); returns (game clock, ok, not ok) at each change, the first being
    the state when called."""
    pts = []
    last = [None]

    def changed():
        s = g.status()
        t = s["teams"][0]
        key = (t["ok"], t["errors"], t["timeouts"], t["wrong"])
        if key != last[0]:
            last[0] = key
            pts.append((s["clock"], t["ok"], t["errors"] + t["timeouts"] + t["wrong"]))
            return True
        return False

    g.wait_until(changed, timeout, "the customers' counters")
    for i in range(n):
        g.wait_until(changed, timeout, f"customer report {i + 1} of {n}")
    return pts


def rates(pts):
    """(ok per game second, errors per game second) between the first and last point."""
    dt = pts[-1][0] - pts[0][0]
    assert dt > 0, pts
    return (pts[-1][1] - pts[0][1]) / dt, (pts[-1][2] - pts[0][2]) / dt


def test_scaling_up_raises_capacity(play):
    g = play(SCENARIO, speed=60)
    g.wait_ready()
    g.wait_customers()
    # Under-provisioned: the queue fills and customers start to get errors.
    g.wait_until(lambda: g.team()["errors"] > 0, 20, "errors from the lone instance")
    before = report_points(g, 4)
    ok_before, err_before = rates(before)
    assert err_before > 0.5, f"one instance cannot carry 3 rps: {before}"

    r = g.ctl("scale", "web", "6")
    asg = json.loads(r.stdout)
    assert asg["spec"]["desired"] == 6, r.stdout

    def six_in_service():
        inst = g.instances()
        up = [i for i in inst if i["status"]["state"] == "running"
              and i["status"].get("health") == "InService"]
        return len(up) >= 6 and inst

    inst = g.wait_until(six_in_service, 30, "6 instances running and InService")
    assert len([i for i in inst if i["status"]["state"] == "running"]) == 6, inst
    audit = g.audit()
    assert any(a["eventName"] == "SetDesiredCapacity" and a["principal"] == "team-1"
               and not a["errorCode"] for a in audit), "the scaling is audited"
    assert sum(a["eventName"] == "RunInstances" and a["principal"] == "autoscaling"
               and not a["errorCode"] for a in audit) >= 6, "five launches after the first one"

    after = report_points(g, 5)[1:]  # from the first report made with the new capacity
    ok_after, err_after = rates(after)
    assert ok_after > 1.6 * ok_before, \
        f"ok/s {ok_before:.2f} -> {ok_after:.2f} (before {before}, after {after})"
    assert ok_after > 2.4, f"six instances carry the whole 3 rps: {ok_after:.2f} ok/s"
    assert err_after < 0.25 * err_before, \
        f"errors/s {err_before:.2f} -> {err_after:.2f} (before {before}, after {after})"
