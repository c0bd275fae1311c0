"""Rolling ECS deployments (tests/e2e/scenarios/ecs_deploy.yaml), with the real binaries:
service web runs 3 tasks of web-td revision 1 (release v1, a share of 500s) on two
m5.large container instances behind web-alb. A change of the task definition is its
revision 2 (v2); the service rolls to it with minimum 100 % healthy and maximum 200 %:
the new tasks start beside the old, an old one is deregistered, drained and stopped
only once a new one is in service, and no customer request is lost (no timeout, no
5XX of the load balancer's own). Revision 3 (the broken v4) fails its health checks:
the circuit breaker trips and rolls the service back to revision 2, and the customers
never see it."""

import json

import pytest

from conftest import customer_counts as counts, elb_5xx, scenario_path, shared_game
from test_aws_cli import aws, aws_error

SCENARIO = scenario_path("ecs_deploy.yaml")
NET = 213  # team 1 lives at 127.213.0.0/16: no other test uses it


@pytest.fixture(scope="module")
def game(tmp_path_factory):
    yield from shared_game(tmp_path_factory, SCENARIO, "ecs_deploy", port=19013, speed=30,
                           net=NET)


def res(g, name):
    return g.get(f"/resources/{name}")


def tasks(g, live=True):
    ts = [t for t in g.get("/resources?type=task")
          if t["spec"]["ecs_service"] == "web"]
    return [t for t in ts if t["status"].get("state") != "stopped"] if live else ts


def in_service(g):
    """The ids web-alb's edge counts InService in web-tg now."""
    return {t["id"] for t in g.edge_stats()["targets"]
            if t.get("target_group") == "web-tg" and t["state"] == "InService"}


def deployed(g, key, timeout, seen=None):
    """Waits until web's deployment of key is COMPLETED and no task of another revision
    is left (draining ones included); seen collects the InService counts on the way."""
    def done():
        if seen is not None:
            seen.append(len(in_service(g)))
        st = res(g, "web")["status"]
        left = [t for t in tasks(g) if f"{t['spec']['task_definition']}:"
                f"{t['status'].get('revision', 1)}" != key]
        return st if (st.get("deployment_task_definition") == key and
                      st.get("deployment_state") == "COMPLETED" and not left) else None
    return g.wait_until(done, timeout, f"web's deployment of {key} to complete")


def set_release(g, release):
    r = g.call("PATCH", "/resources/web-td", {"spec": {"service_version": release}})
    assert r.status == 200, r
    return r.json()["status"]["revision"]


def test_revision_1_serves_with_v1s_errors(game):
    g = game
    st = deployed(g, "web-td:1", 90)
    assert st["running_count"] == 3 and st["failed_tasks"] == 0, st
    g.wait_until(lambda: len(in_service(g)) == 3, 60, "3 tasks in service")
    g.wait_until(lambda: counts(g)["ok"] >= 150, 90, "150 answers")
    c = counts(g)
    assert 0.01 < c["errors"] / (c["ok"] + c["errors"]) < 0.12, c  # v1: 5 % of 500s
    assert {t["status"]["revision"] for t in tasks(g)} == {1}
    assert len({t["status"]["container_instance"] for t in tasks(g)}) == 2, "spread: 2 hosts"


def test_a_rolling_deployment_from_v1_to_v2_loses_no_request(game):
    g = game
    old = {t["id"] for t in tasks(g)}
    assert set_release(g, "v2") == 2
    td = res(g, "web-td")["status"]
    assert td["revisions"]["1"]["service_version"] == "v1", td
    assert {t["status"]["revision"] for t in tasks(g) if t["id"] in old} == {1}
    c0, t0 = counts(g), g.status()["clock"]
    seen = []
    st = deployed(g, "web-td:2", 240, seen)
    c1, t1 = counts(g), g.status()["clock"]
    now = tasks(g)
    assert len(now) == 3 and not old & {t["id"] for t in now}, now
    assert st["failed_tasks"] == 0, st
    assert c1["timeouts"] == c0["timeouts"], (c0, c1)
    assert elb_5xx(g, t0, t1) == 0, "the load balancer answered 5XX of its own: lost requests"
    assert min(seen) >= 3, f"fewer than 3 tasks in service during the deployment: {seen}"
    # The old ones were deregistered and drained before they stopped.
    stops = [a for a in g.audit() if a["eventName"] == "StopTask" and
             a["requestParameters"]["task"] in old]
    assert len(stops) == 3 and all(a["responseElements"]["lastStatus"] == "DEACTIVATING" and
                                   a["principal"] == "ecs" for a in stops), stops
    events = [e["message"] for e in st["events"]]
    assert "(service web) (deployment of web-td:2) deployment completed." in events, events
    print(f"\nECS rolling deployment v1 -> v2: {t1 - t0:.0f} game s; customers during it: "
          f"ok +{c1['ok'] - c0['ok']}, errors +{c1['errors'] - c0['errors']} (v1's 500s), "
          f"timeouts +{c1['timeouts'] - c0['timeouts']}, load balancer 5XX 0, "
          f"in service at least {min(seen)}")
    # v2 is fixed: not one 500 over the next answers. The edge counts an answer as it
    # relays it (the customers report theirs later), and v1's tasks are gone from it.
    e0 = g.edge_stats()
    g.wait_until(lambda: g.edge_stats()["2xx"] >= e0["2xx"] + 60, 90, "60 more answers")
    e1 = g.edge_stats()
    assert e1["5xx"] == e0["5xx"] and e1["elb_5xx"] == e0["elb_5xx"], (e0, e1)


def test_a_broken_revision_trips_the_breaker_and_rolls_back(game):
    g = game
    good = {t["id"] for t in tasks(g)}
    assert set_release(g, "v4") == 3
    c0, t0 = counts(g), g.status()["clock"]
    g.wait_until(lambda: res(g, "web")["status"].get("rolled_back_from") == "web-td:3", 240,
                 "the breaker to trip")
    st = deployed(g, "web-td:2", 120)
    c1, t1 = counts(g), g.status()["clock"]
    assert {t["id"] for t in tasks(g)} == good, "revision 2's tasks kept serving"
    assert c1["errors"] == c0["errors"] and c1["timeouts"] == c0["timeouts"], (c0, c1)
    assert elb_5xx(g, t0, t1) == 0
    events = [e["message"] for e in st["events"]]
    assert any("(deployment of web-td:3) deployment failed: tasks failed to start" in e and
               e.endswith("Rolling back to web-td:2") for e in events), events
    broken = [t for t in tasks(g, live=False) if t["status"].get("revision") == 3]
    reasons = [t["status"]["stopped_reason"] for t in broken]
    failed = reasons.count("Task failed ELB health checks in (target-group web-tg)")
    # the breaker's 3 failures; the rollback stopped the rest (drained, never in service)
    assert failed >= 3 and all(r.startswith("Task failed ELB health checks") or
                               r == "Deployment of web-td:2 by (service web)"
                               for r in reasons), reasons
    rb = [a for a in g.audit() if a["eventName"] == "RollbackServiceDeployment"]
    assert len(rb) == 1 and rb[0]["principal"] == "ecs" and \
        rb[0]["responseElements"]["rolledBackTo"] == "web-td:2", rb
    print(f"\nECS v4 rolled back by the circuit breaker after {failed} failed tasks "
          f"({len(broken)} v4 tasks started); "
          f"customers during it: ok +{c1['ok'] - c0['ok']}, errors "
          f"+{c1['errors'] - c0['errors']}, timeouts +{c1['timeouts'] - c0['timeouts']}")
    # A fixed revision (4) deploys again.
    assert set_release(g, "v3") == 4
    deployed(g, "web-td:4", 240)


def test_the_aws_cli_registers_a_revision_and_sees_the_deployments(game):
    g = game
    box = json.dumps([{"name": "web", "image": "gameday/unicorn:v2",
                       "portMappings": [{"containerPort": 8000}]}])
    out = aws(g, "ecs", "register-task-definition", "--family", "web-td", "--cpu", "512",
              "--memory", "1024", "--container-definitions", box)["taskDefinition"]
    assert (out["revision"], out["containerDefinitions"][0]["image"]) == (5, "gameday/unicorn:v2")
    assert out["taskDefinitionArn"].endswith(":task-definition/web-td:5"), out
    # The service follows its family's newest revision: the rollout begins.
    svc = g.wait_until(lambda: (lambda s: s if s["taskDefinition"].endswith("web-td:5") else None)(
        aws(g, "ecs", "describe-services", "--cluster", "prod", "--services", "web")
        ["services"][0]), 30, "web to deploy web-td:5")
    primary = svc["deployments"][0]
    assert primary["status"] == "PRIMARY" and primary["taskDefinition"].endswith("web-td:5")
    assert primary["desiredCount"] == 3 and primary["rolloutState"] in ("IN_PROGRESS",
                                                                          "COMPLETED"), svc
    conf = svc["deploymentConfiguration"]
    assert conf == {"deploymentCircuitBreaker": {"enable": True, "rollback": True},
                    "maximumPercent": 200, "minimumHealthyPercent": 100}, conf
    deployed(g, "web-td:5", 240)
    old = aws(g, "ecs", "describe-task-definition", "--task-definition", "web-td:1")
    assert old["taskDefinition"]["containerDefinitions"][0]["image"] == "gameday/unicorn:v1"
    code, msg = aws_error(g, "ecs", "update-service", "--cluster", "prod", "--service", "web",
                          "--task-definition", "web-td:2")
    assert code == "ClientException" and "only the newest revision of web-td (5)" in msg, msg
    code, msg = aws_error(g, "ecs", "register-task-definition", "--family", "web-td",
                          "--container-definitions",
                          json.dumps([{"name": "web", "image": "nginx:latest"}]))
    assert code == "ClientException" and "gameday/unicorn" in msg, msg
    out = aws(g, "ecs", "update-service", "--cluster", "prod", "--service", "web",
              "--deployment-configuration", "maximumPercent=150,minimumHealthyPercent=50")
    assert out["service"]["deploymentConfiguration"]["maximumPercent"] == 150
    assert res(g, "web")["spec"]["minimum_healthy_percent"] == 50
    assert any(a["eventName"] == "RegisterTaskDefinition" and a["principal"] == "team-1"
               for a in g.audit())
    g.call("PATCH", "/resources/web", {"spec": {"maximum_percent": 200,
                                                 "minimum_healthy_percent": 100}})


def test_bad_deployment_settings_are_refused_and_change_nothing(game):
    g = game
    r = g.call("PATCH", "/resources/web", {"spec": {"maximum_percent": 100}})
    err = r.json()["error"]
    assert r.status == 400 and err["field"] == "spec.maximum_percent" and \
        "more than minimum_healthy_percent (100)" in err["message"], r
    r = g.call("PATCH", "/resources/web", {"spec": {"circuit_breaker": False}})
    assert r.status == 400 and "rollback" in r.json()["error"]["message"], r
    r = g.call("PATCH", "/resources/web", {"spec": {"minimum_healthy_percent": 150}})
    assert r.status == 400 and "0..100" in r.json()["error"]["message"], r
    spec = res(g, "web")["spec"]
    assert (spec["maximum_percent"], spec["minimum_healthy_percent"],
            spec["circuit_breaker"]) == (200, 100, True)
