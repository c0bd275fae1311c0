"""A team token is hostile: in a real game, with the team's own token, try each hole a
review found and check that the API refuses it with a clear error and changes nothing
(no resource, no process, the same instances), and that each attempt is audited.

- a launch template whose command would run a program as the server's user;
- a VPC or subnet in another team's range, or in 127.0.0.0/16;
- unknown top-level fields, a malformed terminate body;
- the admin token acting for a team that does not exist."""

import json

import pytest

from conftest import ROOT, http, scenario_path

BASE = scenario_path("steady.yaml").read_text()
ALLOWED = ["/bin/sleep", "600"]


@pytest.fixture(scope="module")
def game(module_play, tmp_path_factory):
    d = tmp_path_factory.mktemp("hostile")
    sc = d / "hostile.yaml"
    # Two teams, so that team 2's range exists to squat; one allowed command.
    text = BASE.replace("teams: 1", "teams: 2")
    text += "allowed_commands:\n  - " + json.dumps(ALLOWED) + "\n"
    sc.write_text(text)
    g = module_play(sc, speed=30)
    g.wait_ready()
    return g


def names(g):
    return {r["name"] for r in g.get("/resources")}


def last_audit(g, event):
    recs = [a for a in g.audit() if a.get("eventName") == event]
    assert recs, f"no {event} in the audit log"
    return recs[-1]


def refused(r, status, code):
    assert r.status == status, r
    assert r.json()["error"]["code"] == code, r
    return r.json()["error"]["message"]


def test_a_team_cannot_run_a_command_of_its_own(game):
    before = names(game)
    evil = {"type": "launch_template", "name": "evil",
            "spec": {"command": ["/bin/sh", "-c", f"cat {game.out}/game.json > /tmp/stolen"]}}
    msg = refused(game.call("POST", "/resources", evil), 403, "UnauthorizedOperation")
    assert "allowed_commands" in msg
    assert names(game) == before, "nothing was created"
    a = last_audit(game, "CreateResource")
    assert a["errorCode"] == "UnauthorizedOperation" and a["principal"] == "team-1", a

    # Nor by changing an existing template.
    r = game.call("PATCH", "/resources/web-template", {"spec": {"command": ["/bin/id"]}})
    refused(r, 403, "UnauthorizedOperation")
    spec = game.get("/resources/web-template")["spec"]
    assert "command" not in spec, spec

    # What the scenario allows, a team may use; the instructor may use anything.
    ok = {"type": "launch_template", "name": "allowed", "spec": {"command": ALLOWED}}
    assert game.call("POST", "/resources", ok).status == 201
    r = http("POST", game.url("/resources?team=1"),
             body={"type": "launch_template", "name": "by-admin",
                   "spec": {"command": ["/bin/sleep", "1"]}}, token=game.info["admin_token"])
    assert r.status == 201, r
    # Other settings of a template that has an instructor's command can still change.
    r = game.call("PATCH", "/resources/by-admin", {"spec": {"slots": 3}})
    assert r.status == 200, r


@pytest.mark.parametrize("res", [
    {"type": "subnet", "name": "squat", "spec": {"vpc": "main", "cidr": "127.2.5.0/24"}},
    {"type": "subnet", "name": "squat0", "spec": {"vpc": "main", "cidr": "127.0.9.0/24"}},
    {"type": "vpc", "name": "other", "spec": {"cidr": "127.2.0.0/16"}},
    {"type": "vpc", "name": "zero", "spec": {"cidr": "127.0.0.0/16"}},
])
def test_a_team_cannot_squat_another_range(game, res):
    before = names(game)
    msg = refused(game.call("POST", "/resources", res), 400, "ValidationError")
    assert "outside this team's range" in msg, msg
    assert "127.1.0.0/16" in msg, msg
    assert names(game) == before


def test_unknown_fields_are_refused(game):
    before = names(game)
    r = game.call("POST", "/resources", {"type": "launch_template", "name": "t9", "spec": {},
                                         "sepc": {"slots": 1}})
    assert "sepc: unknown field" in refused(r, 400, "ValidationError")
    r = game.call("PATCH", "/resources/web-template", {"spec": {"slots": 4}, "force": True})
    refused(r, 400, "ValidationError")
    assert game.get("/resources/web-template")["spec"]["slots"] == 5
    r = game.call("POST", "/asgs/web/scale", {"desired": 4, "honour": 1})
    refused(r, 400, "ValidationError")
    assert game.get("/resources/web")["spec"]["desired"] == 3
    assert names(game) == before


def test_a_malformed_terminate_changes_nothing(game):
    running = [i for i in game.instances() if i["status"]["state"] == "running"]
    victim = running[0]["id"]
    for raw in (b"{not json", b"[1, 2]", b'{"force": "yes"}', b'{"force": true, "x": 1}'):
        r = http("POST", game.url(f"/instances/{victim}/terminate"), body=raw, token=game.token)
        assert r.status == 400, (raw, r)
    after = {i["id"]: i["status"]["state"] for i in game.instances()}
    assert after[victim] == "running", "a malformed terminate terminated nothing"


def test_the_admin_cannot_act_for_a_team_that_does_not_exist(game):
    before = names(game)
    admin = game.info["admin_token"]
    r = http("POST", game.url("/resources?team=9"),
             body={"type": "launch_template", "name": "ghost", "spec": {}}, token=admin)
    assert r.status == 404 and r.json()["error"]["code"] == "NoSuchTeam", r
    r = http("GET", game.url("/resources?team=9"), token=admin)
    assert r.status == 404, r
    assert names(game) == before
