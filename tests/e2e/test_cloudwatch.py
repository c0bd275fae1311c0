"""CloudWatch and Auto Scaling in a real game (tests/e2e/scenarios/cloudwatch.yaml):
statistics per period from the metric store, an alarm that goes OK -> ALARM -> OK with
its history and runs a simple scaling policy while in ALARM, and a target tracking
policy that scales a group out on a surge and back in after 15 minutes of quiet. Every
change of capacity is a SetDesiredCapacity by "autoscaling" in the audit trail. Real
binaries: `gameday play` with its server, edge, instances and loadgen, on a network of
its own (--net 216)."""

import pytest

from conftest import scenario_path, shared_game

SCENARIO = scenario_path("cloudwatch.yaml")
SPEED = 60
NET = 216  # team 1 lives at 127.216.0.0/16: no other test uses it


@pytest.fixture(scope="module")
def game(tmp_path_factory):
    yield from shared_game(tmp_path_factory, SCENARIO, "cloudwatch", port=18420, speed=SPEED,
                           net=NET)


def clock(g):
    return g.status()["clock"]


def res(g, name):
    return g.get(f"/resources/{name}")


def desired(g, asg):
    return res(g, asg)["spec"]["desired"]


def stats(g, resource, metric, statistic, period=60, window=3600):
    return g.get(f"/metrics?resource={resource}&metric={metric}&statistic={statistic}"
                 f"&period={period}&window={window}")


def test_statistics_per_period(game):
    g = game
    g.wait_until(lambda: clock(g) > 5 * 60, 30, "five game minutes")
    j = stats(g, "web-alb", "RequestCount", "Sum")
    assert j["Label"] == "RequestCount" and j["Statistic"] == "Sum" and j["Period"] == 60
    full = [d for d in j["Datapoints"] if 60 <= d["Timestamp"] < (clock(g) // 60 - 1) * 60]
    assert len(full) >= 3, j
    for d in full:
        # 1 rps: about 60 a minute (Poisson: 4 sigma is 31); several samples each.
        assert 29 <= d["Sum"] <= 91, d
        assert d["SampleCount"] >= 2, d
        assert d["Unit"] == "Count"
    mx = stats(g, "web-alb", "RequestCount", "Maximum")["Datapoints"]
    for a, b in zip(sorted(full, key=lambda d: d["Timestamp"]), mx):
        assert b["Maximum"] <= a["Sum"] + 1e-9
    p = stats(g, "web-alb", "RequestCount", "p99")["Datapoints"]
    assert p and all("p99" in d for d in p)
    cpu = stats(g, "web", "CPUUtilization", "Average")["Datapoints"]
    assert cpu and all(0 <= d["Average"] <= 100 for d in cpu), cpu
    assert stats(g, "web", "GroupDesiredCapacity", "Maximum")["Datapoints"][-1]["Maximum"] == 2
    # The same through ctl, as a table.
    r = g.ctl("metrics", "web-alb", "RequestCount", "--statistic", "Sum", "--period", "2m")
    rows = r.stdout.splitlines()
    assert rows[0].split() == ["TIME", "VALUE", "STATISTIC", "SAMPLES", "UNIT"], r.stdout
    assert len(rows) >= 3 and all(" Sum " in row and row.endswith("Count") for row in rows[1:])
    # Bad parameters are a clear 400.
    for q, what in [("statistic=Mean", "statistic"), ("statistic=Sum&period=0", "period"),
                    ("statistic=Sum&period=1&window=86400", "1440")]:
        resp = g.call("GET", f"/metrics?resource=web-alb&metric=RequestCount&{q}")
        assert resp.status == 400, (q, resp)
        assert what in resp.json()["error"]["message"], (q, resp.json())
    bad = g.ctl("metrics", "web-alb", "RequestCount", "--statistic", "Mean", check=False)
    assert bad.returncode != 0 and "InvalidParameterValue" in bad.stderr, bad.stderr


def test_alarm_ok_alarm_ok_runs_its_policy(game):
    g = game
    g.ctl("create", "alarm", "busy-alb", "resource=web-alb", "metric=RequestCount",
          "statistic=Sum", "threshold=1000000", "alarm_actions=[\"batch-out\"]")
    state = lambda: res(g, "busy-alb")["status"].get("state")
    g.wait_until(lambda: state() == "OK", 20, "the new alarm to be OK")
    start = desired(g, "batch")
    assert start == 1
    g.ctl("update", "busy-alb", "threshold=5")
    g.wait_until(lambda: state() == "ALARM", 20, "the alarm to go to ALARM")
    # In ALARM, its scaling action runs every period (cooldown 0) up to the group's max.
    g.wait_until(lambda: desired(g, "batch") == 3, 30, "batch to reach its max through batch-out")
    g.ctl("update", "busy-alb", "threshold=1000000")
    g.wait_until(lambda: state() == "OK", 20, "the alarm to come back to OK")
    st = res(g, "busy-alb")["status"]
    moves = [(h["from"], h["to"]) for h in st["history"]]
    assert ("OK", "ALARM") in moves and ("ALARM", "OK") in moves, st["history"]
    alarm_at = [h for h in st["history"] if h["to"] == "ALARM"][0]
    assert "breach GreaterThanThreshold 5" in alarm_at["reason"], alarm_at
    events = g.get("/score/events?limit=100000")
    lines = [e["reason"] for e in events if e["source"] == "cloudwatch"]
    assert any("busy-alb: OK -> ALARM" in x for x in lines), lines
    assert any("busy-alb: ALARM -> OK" in x for x in lines), lines
    audit = g.audit()
    sets = [a for a in audit if a["eventName"] == "SetDesiredCapacity"
            and a["principal"] == "autoscaling"
            and a["requestParameters"].get("autoScalingGroupName") == "batch"]
    assert len(sets) == 2, sets
    # A bad alarm is refused with what is wrong, and changes nothing.
    bad = g.ctl("create", "alarm", "bad", "resource=web-alb", "metric=RequestCount",
                "threshold=1", "statistic=Mean", check=False)
    assert bad.returncode != 0 and "Mean is not a statistic" in bad.stderr, bad.stderr
    bad = g.ctl("create", "alarm", "bad", "resource=nothing", "metric=RequestCount",
                "threshold=1", check=False)
    assert bad.returncode != 0 and "no resource named 'nothing'" in bad.stderr, bad.stderr
    assert g.call("GET", "/resources/bad").status == 404


def test_scheduled_actions_once_and_on_a_recurrence(game):
    g = game
    start = clock(g)
    at = int(start // 60 + 3) * 60
    g.ctl("create", "scheduled_action", "batch-night", "asg=batch", f"at={at}", "min=1", "max=2",
          "desired=1")
    g.wait_until(lambda: res(g, "batch")["spec"]["max"] == 2, 20, "the one-off action to run")
    spec = res(g, "batch")["spec"]
    assert (spec["min"], spec["desired"]) == (1, 1), spec
    ran = res(g, "batch-night")["status"]["ran_at"]
    assert at <= ran < at + 60, (at, ran)
    # Every 2 game minutes: desired 2 (within the max the one-off left).
    g.ctl("create", "scheduled_action", "batch-tick", "asg=batch", "recurrence=*/2 * * * *",
          "desired=2")
    g.wait_until(lambda: desired(g, "batch") == 2, 20, "the recurrence to run")
    ups = [a for a in g.audit() if a["eventName"] == "UpdateResource"
           and a["principal"] == "autoscaling"]
    assert len(ups) >= 2, ups
    g.ctl("delete", "batch-tick")
    # What is wrong is said, and nothing is created.
    for args, want in [(("at=1h", "recurrence=0 * * * *", "desired=1"), "not both"),
                       (("recurrence=61 * * * *", "desired=1"), "minute: not"),
                       (("recurrence=0 * 1 * *", "desired=1"), "must be *"),
                       (("at=1h",), "sets desired, min or max"),
                       (("at=1h", "min=3", "max=2"), "disagree")]:
        r = g.ctl("create", "scheduled_action", "bad", "asg=batch", *args, check=False)
        assert r.returncode != 0 and want in r.stderr, (args, r.stderr)
    assert g.call("GET", "/resources/bad").status == 404


def test_target_tracking_scales_out_on_the_surge_and_back_in(game):
    g = game
    # The surge starts at 12m; three one-minute datapoints above the target, then out.
    g.wait_until(lambda: desired(g, "web") > 2, 60, "target tracking to scale web out")
    at = clock(g)
    assert 12 * 60 < at < 19 * 60, at
    pol = res(g, "web-requests")["status"]
    assert pol["wish"] in ("out", "hold"), pol
    # The quiet starts at 25m; 15 datapoints under 90 % of the target, then in.
    g.wait_until(lambda: clock(g) > 25 * 60, 60, "the quiet phase")
    peak = desired(g, "web")
    assert peak >= 4, peak
    g.wait_until(lambda: desired(g, "web") < peak, 60, "target tracking to scale web in")
    audit = [a for a in g.audit() if a["eventName"] == "SetDesiredCapacity"
             and a["requestParameters"].get("autoScalingGroupName") == "web"]
    assert audit and all(a["principal"] == "autoscaling" for a in audit), audit
    ups, downs = [], []
    last = 2
    for a in sorted(audit, key=lambda a: a["eventTime"]):
        n = a["requestParameters"]["desiredCapacity"]
        (ups if n > last else downs).append(a["eventTime"])
        last = n
    assert ups and downs, audit
    # In only after 15 one-minute datapoints under the target, none of them in the
    # warm-up of a scale-out.
    assert downs[0] >= ups[-1] + 15 * 60, (ups, downs)
