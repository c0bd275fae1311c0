"""ALB target groups in a real game: web-alb's default action goes to target group
web-tg (fed by Auto Scaling group web) and a rule sends `/api/*` to api-tg (fed by
group api). Requests land on the right group's instances, by their X-Instance-Id and
by the edge's per-target counters; a target group reports its health, cannot be
deleted while an alb or a group uses it, and a group and rule added live route at once
while the customers see no error. Real binaries: `gameday play` with its server, edge,
instances and loadgen, on a network of its own (--net 214)."""

import pytest

import conftest
from conftest import Game, free_port, gameday_hash, http, scenario_path

SCENARIO = scenario_path("target_groups.yaml")
SPEED = 60
NET = 214  # team 1 lives at 127.214.0.0/16: no other test uses it
PREFIX = "127.214."


@pytest.fixture
def game(tmp_path):
    # The game lives on 127.214/16, not 127.1/16, with that network's lock.
    g = Game(SCENARIO, tmp_path / "game", port=free_port(18394), speed=SPEED, net=NET)
    try:
        g.start()
        g.wait_ready()
        assert g.lb_ip.startswith(PREFIX), g.endpoint
        yield g
    finally:
        conftest._finish([g])


def edge_groups(g):
    """{group name: [targets]} from one snapshot of the edge's /stats (two reads could
    straddle the edge's first configuration: groups from before it, targets after)."""
    stats = g.edge_stats()
    out = {tg["name"]: [] for tg in stats["target_groups"]}
    for t in stats["targets"]:
        if "target_group" in t:
            out.setdefault(t["target_group"], []).append(t)
    return out


def members(g, asg):
    return {i["id"] for i in g.instances()
            if i["status"].get("asg") == asg and i["status"]["state"] == "running"}


def get_key(g, path, key):
    r = http("GET", f"{g.endpoint.rstrip('/')}{path}?key={key}")
    assert r.status == 200, f"GET {path}?key={key}: {r!r}"
    assert r.json()["hash"] == gameday_hash(key, SCENARIO), f"wrong hash for {key}"
    return r.header("X-Instance-Id")


def test_rules_send_each_path_to_its_target_group(game):
    g = game
    # The edge's document: the alb's own group, then the two it uses.
    groups = g.wait_until(
        lambda: (lambda gs: gs if len(gs.get("web-tg", [])) == 2 and len(gs.get("api-tg", [])) == 2
                 else None)(edge_groups(g)),
        20, "web-tg and api-tg with two targets each in the edge")
    assert set(groups) == {"default", "web-tg", "api-tg"}, groups
    assert groups["default"] == [], "no group names web-alb in load_balancers"
    web, api = members(g, "web"), members(g, "api")
    assert len(web) == 2 and len(api) == 2 and not web & api
    assert {t["id"] for t in groups["web-tg"]} == web
    assert {t["id"] for t in groups["api-tg"]} == api

    # Every /api/* request lands on a member of api; everything else on web's.
    for n in range(6):
        assert get_key(g, f"/api/items/{n}", f"a{n}") in api
        assert get_key(g, "/", f"w{n}") in web
    assert get_key(g, "/api", "edge") in web, "/api does not match /api/*"
    api_requests = sum(t["requests"] for t in edge_groups(g)["api-tg"])
    assert api_requests == 6, f"api-tg's targets counted {api_requests} requests"
    assert {t["id"] for t in edge_groups(g)["api-tg"] if t["requests"]} == api, \
        "round robin used both api instances"

    # A target group's status: who sends to it, its targets and their health.
    st = g.wait_until(
        lambda: (lambda s: s if s.get("healthy") == 2 else None)(g.get("/resources/api-tg")["status"]),
        10, "api-tg's status to count its healthy targets")
    assert st["load_balancers"] == ["web-alb"] and st["targets"] == 2 and st["unhealthy"] == 0, st
    assert g.get("/resources/api-tg")["id"].startswith("tg-")

    # Its CloudWatch-style metrics, under its own id: the 6 requests sent to it, over
    # its 2 healthy targets.
    m = g.wait_until(
        lambda: (lambda s: s if sum(v for _, v in s) >= 6 else None)(
            g.get("/metrics?resource=api-tg&metric=RequestCount")),
        10, "api-tg's RequestCount in the metric store")
    assert sum(v for _, v in m) == 6, m
    per = g.get("/metrics?resource=api-tg&metric=RequestCountPerTarget")
    # per target: 6 requests over 2 targets, in pieces spread over the periods (floats)
    assert sum(v for _, v in per) == pytest.approx(3), per
    assert g.get("/metrics?resource=api-tg")["HealthyHostCount"] == 2

    # In use by the alb's rule and by group api: DependencyViolation, audited.
    r = g.call("DELETE", "/resources/api-tg")
    assert r.status == 409, r
    err = r.json()["error"]
    assert err["code"] == "DependencyViolation"
    assert "alb web-alb" in err["message"] and "asg api" in err["message"], err
    # A rule may forward only to "default" or a target group of the team.
    bad = [{"priority": 5, "conditions": {"path": "/x/*"},
            "action": {"type": "forward", "target_group": "nope"}}]
    r = g.call("PATCH", "/resources/web-alb", {"spec": {"rules": bad}})
    assert r.status == 400, r
    assert "no target_group named 'nope'" in r.json()["error"]["message"], r.json()
    # A target group serves one load balancer: a second alb may not send to api-tg.
    r = g.call("POST", "/resources", {"type": "alb", "name": "other-alb",
                                      "spec": {"subnets": ["public-a"],
                                               "default_target_group": "api-tg"}})
    assert r.status == 400, r
    assert "target_group 'api-tg' already serves alb 'web-alb'" in r.json()["error"]["message"]
    assert "other-alb" not in [x["name"] for x in g.get("/resources")]

    # Live: a new group for web's instances and a rule to it. Customers keep flowing.
    g.ctl("create", "target_group", "v2-tg", "health_check={\"interval\": \"10s\"}")
    g.ctl("update", "web", "target_groups=[\"web-tg\", \"v2-tg\"]")
    rules = g.get("/resources/web-alb")["spec"]["rules"] + [
        {"priority": 20, "conditions": {"path": "/v2/*"},
         "action": {"type": "forward", "target_group": "v2-tg"}}]
    r = g.call("PATCH", "/resources/web-alb", {"spec": {"rules": rules}})
    assert r.status == 200, r
    g.wait_until(lambda: len(edge_groups(g).get("v2-tg", [])) == 2, 10,
                 "v2-tg with web's two instances in the edge")
    for n in range(4):
        assert get_key(g, f"/v2/{n}", f"v{n}") in web
        assert get_key(g, f"/api/{n}", f"b{n}") in api
    assert sum(t["requests"] for t in edge_groups(g)["v2-tg"]) == 4

    audit = g.audit()
    events = [(a["eventName"], a.get("errorCode")) for a in audit]
    assert ("DeleteResource", "DependencyViolation") in events
    assert ("UpdateResource", "ValidationError") in events
    creates = [a for a in audit if a["eventName"] == "CreateResource"
               and (a.get("requestParameters") or {}).get("name") == "v2-tg"]
    assert creates and not creates[0].get("errorCode"), creates

    # The customers (1 rps to /) all went through web-tg without an error.
    t = g.wait_customers()
    assert t["errors"] == 0 and t["timeouts"] == 0 and t["wrong"] == 0, t
    served = sum(x["requests"] for x in edge_groups(g)["web-tg"])
    assert served >= t["ok"], f"web-tg served {served}, customers got {t['ok']} answers"
