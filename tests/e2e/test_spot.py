"""Spot instances in a real game (tests/e2e/scenarios/spot.yaml): at the scenario's
seeded times each interruption is announced two game minutes ahead (an event, an
audit record, the instance's status), then the instance is terminated by "ec2-spot"
and its group replaces it. Spot hours are billed at the discount."""

import pytest

from conftest import scenario_path, shared_game

SCENARIO = scenario_path("spot.yaml")
SPEED = 60
NET = 219  # team 1 lives at 127.219.0.0/16: no other test uses it


@pytest.fixture(scope="module")
def game(tmp_path_factory):
    yield from shared_game(tmp_path_factory, SCENARIO, "spot", port=18460, speed=SPEED, net=NET,
                           customers=False)


def clock(g):
    return g.status()["clock"]


def live_members(g):
    return [i for i in g.instances()
            if i["status"].get("asg") == "web" and i["status"]["state"] in ("pending", "running")]


def test_notice_then_termination_then_replacement(game):
    g = game
    warn = g.wait_until(
        lambda: [a for a in g.audit() if a["eventName"] == "SpotInstanceInterruptionWarning"],
        60, "a spot interruption notice")[0]
    iid = warn["requestParameters"]["instanceId"]
    at = warn["responseElements"]["time"]
    st = g.get(f"/resources/{iid}")["status"]
    assert st["market"] == "spot" and st["interruption_at"] == at
    # Two game minutes ahead (the server acts on its 100 ms tick: 6 game s at x60).
    assert at - 120 <= st["notice_at"] <= at - 120 + 12, st
    assert st["state"] == "running", "it serves until its interruption"
    ev = [e for e in g.get("/score/events?limit=0") if e["source"] == "ec2-spot"]
    assert any(iid in e["reason"] and "notice" in e["reason"] for e in ev), ev

    g.wait_until(lambda: g.get(f"/resources/{iid}")["status"]["state"] == "terminated", 60,
                 "the interruption")
    st = g.get(f"/resources/{iid}")["status"]
    assert st["terminated_at"] >= at - 1e-6 and "spot interruption" in st["reason"], st
    term = [a for a in g.audit() if a["eventName"] == "TerminateInstances"
            and a["requestParameters"].get("instanceId") == iid]
    assert term and term[-1]["principal"] == "ec2-spot", term
    g.wait_until(lambda: len(live_members(g)) == 3 and iid not in
                 [m["id"] for m in live_members(g)], 30, "the group's replacement")

    bill = g.get("/bill")
    spot = [l for l in bill["by_line"] if l["line"] == "t3.micro spot"]
    assert spot and spot[0]["quantity"] > 0, bill["by_line"]
    assert not [l for l in bill["by_line"] if l["line"] == "t3.micro on-demand"]
    # 30 % of the list price, times the multiplier.
    assert spot[0]["usd"] == pytest.approx(spot[0]["quantity"] * 0.0104 * 0.3 * 1000, rel=1e-6)


def test_every_team_is_interrupted_at_the_same_times(game):
    """Both teams run the same fleet: each interruption warns both, at the same game
    time, each about its own oldest spot instance (no team's instance in the other's
    records)."""
    g = game
    admin = g.info["admin_token"]
    g.wait_until(lambda: len([a for a in g.get("/audit?limit=0&team=2", token=admin)
                              if a["eventName"] == "SpotInstanceInterruptionWarning"]) >= 2, 60,
                 "two notices for team 2")
    by_team = {}
    for t in (1, 2):
        rows = [a for a in g.get(f"/audit?limit=0&team={t}", token=admin)
                if a["eventName"] == "SpotInstanceInterruptionWarning"]
        by_team[t] = [(a["responseElements"]["time"], a["requestParameters"]["instanceId"])
                      for a in rows]
    n = min(len(by_team[1]), len(by_team[2]))
    assert n >= 2, by_team
    assert [x[0] for x in by_team[1][:n]] == [x[0] for x in by_team[2][:n]], by_team
    ids1 = {x[1] for x in by_team[1]}
    ids2 = {x[1] for x in by_team[2]}
    assert not ids1 & ids2, "each team's notice names its own instance"
    assert all(b > a for a, b in zip(by_team[1], by_team[1][1:])), "in time order"
