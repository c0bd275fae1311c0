"""Versions of the service and instance refresh (tests/e2e/scenarios/refresh.yaml), with
the real binaries: the group starts on release v1, which answers a share of its requests
with 500s; a change of the launch template is a new version of it that running
instances do not get; an instance refresh replaces them one at a time, launching
before terminating, and loses no customer request (no timeout, no 5XX of the load
balancer's own; from v2 to v3 no error at all); v3 keeps computed hashes; a broken
release (v4) fails its health checks, serves nobody, and auto_rollback puts the
template back and replaces the broken instance."""

import pytest

from conftest import customer_counts as counts, elb_5xx, scenario_path, shared_game
from test_aws_cli import aws

SCENARIO = scenario_path("refresh.yaml")
NET = 253  # team 1 lives at 127.253.0.0/16: no other test uses it


@pytest.fixture(scope="module")
def game(tmp_path_factory):
    yield from shared_game(tmp_path_factory, SCENARIO, "refresh", port=18995, speed=30, net=NET)


def members(g, leaving=False):
    """The group's live instances; with leaving, also those deregistered and draining."""
    return [i for i in g.instances()
            if i["status"].get("asg") == "web" and i["status"]["state"] in ("pending", "running")
            and (leaving or i["status"].get("lifecycle") != "Terminating")]


def refresh(g):
    return g.get("/resources/web")["status"].get("refresh", {})


def run_refresh(g, *, rollback=False, timeout=120, cli=False, prefs=None, seen=None):
    if cli:  # the AWS CLI's StartInstanceRefresh
        out = aws(g, "autoscaling", "start-instance-refresh", "--auto-scaling-group-name", "web",
                  "--preferences", "InstanceWarmup=10")
        assert out["InstanceRefreshId"].startswith("ir-web-"), out
    else:
        r = g.call("POST", "/asgs/web/refresh", {"instance_warmup": 10, "auto_rollback": rollback,
                                                 **(prefs or {})})
        assert r.status == 200, r
        assert r.json()["status"]["refresh"]["status"] == "InProgress"
    done = ("Successful", "Failed", "Cancelled", "RollbackSuccessful", "RollbackFailed")
    def ended():
        rf = refresh(g)
        if seen is not None:
            seen.append((rf.get("reason", ""), len(members(g))))
        return rf.get("status") in done
    g.wait_until(ended, timeout, "the refresh to end")
    # The last instance replaced drains its requests, then goes.
    g.wait_until(lambda: len(members(g, leaving=True)) == 3, 60, "the last old one to go")
    return refresh(g)


def template(g):
    return g.get("/resources/web-template")


def update_release(g, release):
    r = g.call("PATCH", "/resources/web-template", {"spec": {"service_version": release}})
    assert r.status == 200, r
    return r.json()["status"]["version"]


def test_v1_fails_now_and_then(game):
    game.wait_until(lambda: counts(game)["ok"] >= 200, 60, "200 answers")
    c = counts(game)
    share = c["errors"] / (c["ok"] + c["errors"])
    assert 0.02 < share < 0.10, c  # 5 % of v1's answers are 500s
    assert all(i["status"]["release"] == "v1" for i in members(game))
    assert all(i["status"]["lt_version"] == 1 for i in members(game))


def test_a_template_change_is_a_new_version_running_instances_keep_theirs(game):
    v = update_release(game, "v2")
    assert v == 2
    st = template(game)["status"]
    assert st["previous_version"] == 1 and st["previous_spec"]["service_version"] == "v1"
    assert {i["status"]["release"] for i in members(game)} == {"v1"}


def test_refresh_from_v1_to_v2_loses_no_request(game):
    before_ids = {i["id"] for i in members(game)}
    c0, t0 = counts(game), game.status()["clock"]
    rf = run_refresh(game)
    c1, t1 = counts(game), game.status()["clock"]
    assert rf["status"] == "Successful", rf
    assert rf["percentage_complete"] == 100 and rf["instances_to_update"] == 0
    now = members(game)
    assert len(now) == 3 and not before_ids & {i["id"] for i in now}
    assert {(i["status"]["release"], i["status"]["lt_version"]) for i in now} == {("v2", 2)}
    assert c1["timeouts"] == c0["timeouts"], (c0, c1)
    assert elb_5xx(game, t0, t1) == 0, "the load balancer answered 5XX of its own: lost requests"
    print(f"\nrefresh v1 -> v2: {t1 - t0:.0f} game s; customers during it: "
          f"ok +{c1['ok'] - c0['ok']}, errors +{c1['errors'] - c0['errors']} (v1's 500s), "
          f"timeouts +{c1['timeouts'] - c0['timeouts']}, load balancer 5XX 0")
    assert c1["ok"] > c0["ok"]
    # Launch before terminate: the group never had fewer than 3 instances in service.
    acts = [a["description"] for a in game.get("/resources/web")["status"]["activities"]]
    assert any(a.startswith("Instance refresh ir-web-2-") for a in acts), acts
    audit = [a["eventName"] for a in game.audit()]
    assert "StartInstanceRefresh" in audit


def test_refresh_from_v2_to_v3_has_not_one_error_and_v3_keeps_hashes(game):
    update_release(game, "v3")
    c0 = counts(game)
    rf = run_refresh(game, cli=True)
    c1 = counts(game)
    assert rf["status"] == "Successful", rf
    d = aws(game, "autoscaling", "describe-instance-refreshes", "--auto-scaling-group-name", "web")
    assert [(x["InstanceRefreshId"], x["Status"], x["PercentageComplete"])
            for x in d["InstanceRefreshes"]] == [(rf["id"], "Successful", 100)], d
    assert c1["errors"] == c0["errors"] and c1["timeouts"] == c0["timeouts"], (c0, c1)
    assert c1["wrong"] == c0["wrong"] == 0
    print(f"\nrefresh v2 -> v3: customers during it: ok +{c1['ok'] - c0['ok']}, errors "
          f"+{c1['errors'] - c0['errors']}, timeouts +{c1['timeouts'] - c0['timeouts']}")
    assert {i["status"]["release"] for i in members(game)} == {"v3"}
    # v3 answers a key it has seen from its table, in a twentieth of the service time.
    lat0 = game.team()["p50_ms"]
    game.wait_until(lambda: game.team()["p50_ms"] < 1000, 60,
                    f"v3's hits to bring the median down from {lat0:.0f} ms")


def test_a_broken_release_is_rolled_back_and_never_serves(game):
    v3_version = template(game)["status"]["version"]
    update_release(game, "v4")
    c0 = counts(game)
    rf = run_refresh(game, rollback=True, timeout=180)
    c1 = counts(game)
    assert rf["status"] == "RollbackSuccessful", rf
    assert "health checks" in rf["reason"] and "version 4" in rf["reason"], rf
    st = template(game)["status"]
    assert st["version"] == v3_version + 2, "the rollback is a new version with v3's spec"
    assert template(game)["spec"]["service_version"] == "v3"
    assert {i["status"]["release"] for i in members(game)} == {"v3"}
    assert c1["errors"] == c0["errors"] and c1["timeouts"] == c0["timeouts"], (c0, c1)
    print(f"\nv4 rolled back: {rf['reason']}; customers during it: ok +{c1['ok'] - c0['ok']}, "
          f"errors +{c1['errors'] - c0['errors']}, timeouts +{c1['timeouts'] - c0['timeouts']}")
    bad = game.call("POST", "/asgs/web/refresh", {"instance_warmup": "soon"})
    assert bad.status == 400 and "instance_warmup" in bad.json()["error"]["message"]
    assert game.call("POST", "/asgs/web/refresh/cancel").status == 409


def test_terminate_first_with_a_checkpoint(game):
    """min_healthy_percentage 50 with max_healthy_percentage 100: an old instance goes
    before its replacement launches, one at a time (3 - ceil(1.5)); at the 30 %
    checkpoint the refresh waits its delay, then goes on."""
    update_release(game, "v2")
    bad = game.call("POST", "/asgs/web/refresh", {"min_healthy_percentage": 100,
                                                  "max_healthy_percentage": 100})
    assert bad.status == 400 and "not both 100" in bad.json()["error"]["message"], bad
    bad = game.call("POST", "/asgs/web/refresh", {"checkpoint_percentages": [50, 20]})
    assert bad.status == 400 and "ascending" in bad.json()["error"]["message"], bad
    seen = []
    rf = run_refresh(game, timeout=240, seen=seen,
                     prefs={"min_healthy_percentage": 50, "max_healthy_percentage": 100,
                            "checkpoint_percentages": [30], "checkpoint_delay": 60})
    assert rf["status"] == "Successful", rf
    assert {i["status"]["release"] for i in members(game)} == {"v2"}
    assert max(n for _, n in seen) <= 3, "terminate first: never more than desired"
    assert min(n for _, n in seen) == 2, "one instance out at a time"
    assert any(r.startswith("waiting at checkpoint 30%") for r, _ in seen), seen
    acts = [a["description"] for a in game.get("/resources/web")["status"]["activities"]]
    assert "Instance refresh at a checkpoint" in acts, acts
    d = aws(game, "autoscaling", "describe-instance-refreshes", "--auto-scaling-group-name", "web")
    p = d["InstanceRefreshes"][0]["Preferences"]
    # (Debian's aws CLI predates MaxHealthyPercentage: the REST status has it)
    assert (p["MinHealthyPercentage"], p["CheckpointPercentages"], p["CheckpointDelay"]) == \
        (50, [30], 60), p
    assert rf["max_healthy_percentage"] == 100
