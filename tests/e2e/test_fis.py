"""FIS experiments with the real binaries (tests/e2e/scenarios/fis.yaml): templates are
checked as any resource, experiments move through their states, every action happens
for real (measured at the customers, the instances or the API), is audited with the
principal fis, and what lasts is rolled back at its end or when the experiment is
stopped."""

import pytest

from conftest import scenario_path, shared_game

NET = 228  # team 1 lives at 127.228.0.0/16: no other test uses it


@pytest.fixture(scope="module")
def game(tmp_path_factory):
    yield from shared_game(tmp_path_factory, scenario_path("fis.yaml"), "fis", port=18600,
                           speed=60, net=NET)


def clock(g):
    return g.status()["clock"]


def create(g, name, spec, type="experiment_template"):
    r = g.call("POST", "/resources", {"type": type, "name": name, "spec": spec})
    assert r.status == 201, r.body
    return r.json()


def start(g, template):
    r = g.call("POST", f"/experiment_templates/{template}/start", {})
    assert r.status == 201, r.body
    return r.json()["id"]


def exp(g, eid):
    return g.get(f"/resources/{eid}")


def wait_state(g, eid, states, timeout=30):
    return g.wait_until(lambda: (lambda e: e if e["status"]["state"] in states else None)(
        exp(g, eid)), timeout, f"experiment {eid} in {states}")


def running(g, asg=None):
    return [i for i in g.instances() if i["status"]["state"] == "running"
            and (asg is None or i["status"].get("asg") == asg)]


def audits(g, **match):
    return [a for a in g.audit() if all(a.get(k) == v for k, v in match.items())]


def test_a_bad_template_is_refused_with_what_is_allowed(game):
    cases = [
        ({"actions": {"a": {"actionId": "aws:ec2:explode"}}},
         "actions.a.actionId", "aws:ec2:terminate-instances"),
        ({"actions": {"a": {"actionId": "aws:fis:wait", "parameters": {"duration": "PT1X"}}}},
         "actions.a.parameters.duration", "a duration"),
        ({"actions": {"a": {"actionId": "aws:ec2:terminate-instances",
                            "targets": {"Instances": "nope"}}}},
         "actions.a.targets.Instances", "no target named 'nope'"),
        ({"targets": {"t": {"resourceType": "aws:ec2:instance", "resourceIds": ["solo"],
                            "selectionMode": "SOME(2)"}},
          "actions": {"a": {"actionId": "aws:ec2:terminate-instances",
                            "targets": {"Instances": "t"}}}},
         "targets.t.selectionMode", "COUNT(n)"),
        ({"actions": {"a": {"actionId": "aws:fis:wait", "parameters": {"duration": "1m"},
                            "startAfter": ["b"]},
                      "b": {"actionId": "aws:fis:wait", "parameters": {"duration": "1m"},
                            "startAfter": ["a"]}}},
         "startAfter", "without cycles"),
        ({"actions": {"a": {"actionId": "aws:fis:wait", "parameters": {"duration": "1m"}}},
          "stopConditions": [{"source": "aws:cloudwatch:alarm", "value": "ghost"}]},
         "stopConditions[0].value", "no alarm named 'ghost'"),
    ]
    before = len(game.get("/resources?type=experiment_template"))
    for spec, field, words in cases:
        r = game.call("POST", "/resources", {"type": "experiment_template", "name": "bad",
                                             "spec": spec})
        assert r.status == 400, (spec, r.body)
        text = r.body.decode()
        assert field in text and words in text, (field, words, text)
    assert len(game.get("/resources?type=experiment_template")) == before
    # nor is an experiment made by hand
    r = game.call("POST", "/resources", {"type": "experiment", "name": "x",
                                         "spec": {"template": "kill-one-web"}})
    assert r.status == 400 and b"start_experiment" in r.body, r.body


def test_a_steady_state_that_does_not_hold_fails_the_experiment_before_any_action(game):
    create(game, "too-demanding", {
        "targets": {"web": {"resourceType": "aws:ec2:instance",
                            "resourceTags": {"aws:autoscaling:groupName": "web"}}},
        "actions": {"kill": {"actionId": "aws:ec2:terminate-instances",
                             "targets": {"Instances": "web"}}},
        "steadyStateHypothesis": {"title": "ten healthy", "probes": [
            {"name": "ten", "resource": "web-tg", "metric": "HealthyHostCount",
             "statistic": "Minimum", "period": "30s", "tolerance": {"min": 10}}]}})
    game.wait_until(lambda: len(running(game, "web")) == 3, 30, "three web instances")
    ids = {i["id"] for i in running(game, "web")}
    eid = start(game, "too-demanding")
    e = wait_state(game, eid, ("failed",))
    assert "steady state does not hold before" in e["status"]["reason"], e["status"]
    assert e["status"]["actions"]["kill"]["state"] == "cancelled"
    assert e["status"]["hypothesis"]["before"]["passed"] is False
    assert {i["id"] for i in running(game, "web")} == ids, "no instance was touched"


def test_terminate_by_tag_and_count_is_audited_as_fis_and_the_group_replaces(game):
    game.wait_until(lambda: len(running(game, "web")) == 3, 30, "three web instances")
    before = {i["id"] for i in running(game, "web")}
    eid = start(game, "kill-one-web")
    e = wait_state(game, eid, ("completed", "failed"), timeout=60)
    st = e["status"]
    assert st["state"] == "completed", st
    victims = st["targets"]["web"]
    assert len(victims) == 1 and victims[0] in before, st["targets"]
    assert st["actions"]["kill"]["state"] == "completed"
    assert victims[0] in st["actions"]["kill"]["reason"]
    # the victim is terminated, by fis, in the audit trail
    inst = game.get(f"/resources/{victims[0]}")
    assert inst["status"]["state"] in ("terminated", "shutting-down"), inst["status"]
    rec = [a for a in audits(game, eventName="TerminateInstances", principal="fis")
           if victims[0] in str(a.get("requestParameters"))]
    assert rec and rec[-1].get("errorCode") is None, rec
    # the hypothesis was checked after, one probe period later, on real datapoints
    after = st["hypothesis"]["after"]
    assert after["probes"][0]["value"] is not None, after
    assert st["hypothesis"]["result"] == ("passed" if after["passed"] else "failed")
    assert st["hypothesis"]["result"] == "passed", after
    game.wait_until(lambda: len(running(game, "web")) == 3, 30, "the group replaced it")
    events = game.get("/teams/1/score/events?limit=100000")
    assert any(f"{victims[0]} terminated by experiment {eid}" in ev["reason"] for ev in events)


def test_stop_instances_starts_them_again_after_the_duration(game):
    create(game, "nap", {
        "targets": {"solo": {"resourceType": "instance", "resourceIds": ["solo"]}},
        "actions": {"nap": {"actionId": "aws:ec2:stop-instances", "targets": {"Instances": "solo"},
                            "parameters": {"startInstancesAfterDuration": "PT3M"}}}})
    game.wait_until(lambda: game.get("/resources/solo")["status"]["state"] == "running", 30,
                    "solo running")
    eid = start(game, "nap")
    game.wait_until(lambda: game.get("/resources/solo")["status"]["state"] == "stopped", 30,
                    f"solo stopped: {exp(game, eid)['status']}")
    assert exp(game, eid)["status"]["state"] == "running"
    e = wait_state(game, eid, ("completed",), timeout=30)
    assert e["status"]["actions"]["nap"]["endTime"] - e["status"]["actions"]["nap"]["startTime"] \
        >= 180
    game.wait_until(lambda: game.get("/resources/solo")["status"]["state"] in
                    ("pending", "running"), 10, "solo started again")
    names = [a["eventName"] for a in audits(game, principal="fis")
             if "solo" in str(a.get("requestParameters")) or
             game.get("/resources/solo")["id"] in str(a.get("requestParameters"))]
    assert "StopInstances" in names and "StartInstances" in names, names


def test_a_security_group_flipped_to_deny_costs_customers_and_is_put_back(game):
    sg = game.get("/resources/web-sg")
    ingress = sg["spec"]["ingress"]
    create(game, "deny-web", {
        "targets": {"sg": {"resourceType": "aws:ec2:security-group", "resourceIds": ["web-sg"]}},
        "actions": {"deny": {"actionId": "gameday:ec2:security-group-deny",
                             "targets": {"SecurityGroups": "sg"},
                             "parameters": {"duration": "PT4M"}}}})
    game.wait_until(lambda: len(running(game, "web")) == 3, 30, "three web instances")
    t = game.team()
    bad0 = t["errors"] + t["timeouts"]
    eid = start(game, "deny-web")
    assert game.get("/resources/web-sg")["spec"]["ingress"] == []
    game.wait_until(lambda: (lambda t: t["errors"] + t["timeouts"] > bad0)(game.team()), 30,
                    "customers failing while nothing may reach the instances")
    wait_state(game, eid, ("completed",), timeout=30)
    assert game.get("/resources/web-sg")["spec"]["ingress"] == ingress, "rolled back"
    ups = [a for a in audits(game, principal="fis", eventName="UpdateResource")
           if sg["id"] in str(a.get("requestParameters"))]
    assert len(ups) >= 2, ups
    # customers are served again
    ok0 = game.team()["ok"]
    game.wait_until(lambda: game.team()["ok"] > ok0 + 10, 30, "customers answered again")


def test_no_capacity_refuses_launches_until_the_end_and_throttling_until_stopped(game):
    create(game, "squeeze", {
        "actions": {
            "ice": {"actionId": "aws:ec2:api-insufficient-instance-capacity-error",
                    "parameters": {"duration": "PT1H", "percentage": "100"}},
            "throttle": {"actionId": "aws:fis:inject-api-throttle-error",
                         "parameters": {"duration": "PT1H", "operations": "UpdateResource"}}}})
    eid = start(game, "squeeze")
    wait_state(game, eid, ("running",))
    r = game.call("POST", "/resources", {"type": "instance", "name": "extra",
                                         "spec": {"launch_template": "web-lt",
                                                  "subnet": "private-a"}})
    assert r.status == 400 and b"InsufficientInstanceCapacity" in r.body, r.body
    r = game.call("PATCH", "/resources/web", {"spec": {"max": 5}})
    assert r.status == 400 and b"ThrottlingException" in r.body, r.body
    assert game.get("/resources/web")["spec"]["max"] == 6, "nothing changed"
    refused = audits(game, principal="team-1", errorCode="ThrottlingException")
    assert refused and refused[-1]["eventName"] == "UpdateResource", refused
    r = game.call("POST", f"/experiments/{eid}/stop", {})
    assert r.status == 200, r.body
    e = exp(game, eid)
    assert e["status"]["state"] == "stopped", e["status"]
    assert e["status"]["reason"] == "stopped by team-1"
    assert {a["state"] for a in e["status"]["actions"].values()} == {"stopped"}
    r = game.call("PATCH", "/resources/web", {"spec": {"max": 5}})
    assert r.status == 200, r.body
    r = game.call("POST", "/resources", {"type": "instance", "name": "extra",
                                         "spec": {"launch_template": "web-lt",
                                                  "subnet": "private-a"}})
    assert r.status == 201, r.body
    assert audits(game, principal="team-1", eventName="StopExperiment")


def test_actions_run_in_their_start_after_order(game):
    create(game, "ordered", {
        "targets": {"solo": {"resourceType": "instance", "resourceIds": ["solo"]}},
        "actions": {
            "first": {"actionId": "aws:fis:wait", "parameters": {"duration": "PT2M"}},
            "then": {"actionId": "aws:ec2:reboot-instances", "targets": {"Instances": "solo"},
                     "startAfter": ["first"]}}})
    game.wait_until(lambda: game.get("/resources/solo")["status"]["state"] == "running", 30,
                    "solo running")
    eid = start(game, "ordered")
    e = wait_state(game, eid, ("completed", "failed"), timeout=30)
    acts = e["status"]["actions"]
    assert e["status"]["state"] == "completed", e["status"]
    assert acts["then"]["startTime"] >= acts["first"]["endTime"] >= acts["first"]["startTime"] + 120
    game.wait_until(lambda: game.get("/resources/solo")["status"]["state"] in
                    ("pending", "running"), 10, "solo back after its reboot")


def test_a_server_killed_mid_experiment_puts_its_faults_back_and_ends_it(game):
    import json
    import os
    import signal

    from conftest import live, proc_info

    create(game, "outlast", {
        "actions": {"ice": {"actionId": "aws:ec2:api-insufficient-instance-capacity-error",
                            "parameters": {"duration": "PT1H",
                                           "availabilityZoneIdentifiers": ["b"]}}}})
    eid = start(game, "outlast")
    wait_state(game, eid, ("running",))
    body = {"type": "instance", "name": "in-b", "spec": {"launch_template": "web-lt",
                                                         "subnet": "private-b"}}
    assert b"InsufficientInstanceCapacity" in game.call("POST", "/resources", body).body
    spid = json.loads((game.out / "game.json").read_text())["server_pid"]
    os.kill(spid, signal.SIGKILL)
    game.wait_until(lambda: not live(proc_info(spid)), 10, "the server to die")
    game.wait_until(lambda: (lambda p: p if p != spid else None)(
        json.loads((game.out / "game.json").read_text())["server_pid"]), 30,
        "play to restart the server")
    game.wait_until(game.team, 30, "the restarted server's API")
    assert exp(game, eid)["status"]["state"] == "running"
    r = game.call("POST", "/resources", body)
    assert r.status == 400 and b"InsufficientInstanceCapacity" in r.body, \
        "the fault is in force again after the restart"
    assert game.call("POST", f"/experiments/{eid}/stop", {}).status == 200
    r = game.call("POST", "/resources", body)
    assert r.status == 201, r.body
