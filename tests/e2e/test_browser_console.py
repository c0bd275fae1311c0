"""The team console in a real browser (Debian's chromium, headless, driven by
playwright-core from tests/browser/console.mjs), against a game of
scenarios/console.yaml: login with the team token (a bad one is refused with a
message), the story and runbook from markdown, a scale of the group from the console,
a bad value shown at its field, the diagram, a chart, the audit log, the bill and the
events. The screenshot it takes at 1920x1080 is doc/img/console.png."""

import json

import pytest

from conftest import browser_run, http, scenario_path, shared_game

SCENARIO = scenario_path("console.yaml")
NET = 245  # team 1 lives at 127.245.0.0/16: no other test uses it


@pytest.fixture(scope="module")
def game(tmp_path_factory):
    yield from shared_game(tmp_path_factory, SCENARIO, "browser_console", port=18820, speed=20,
                           net=NET)


def test_types_are_public_and_carry_no_team_data(game):
    r = http("GET", game.api + "/api/v1/types")  # no token
    assert r.status == 200
    types = r.json()
    names = [t["name"] for t in types]
    assert names[:5] == ["vpc", "subnet", "launch_template", "instance", "asg"]
    asg = types[names.index("asg")]
    assert [a["name"] for a in asg["actions"]] == ["update", "delete", "scale", "refresh"]
    assert asg["actions"][2]["path"] == "asgs/{name}/scale"
    assert asg["actions"][2]["body"][0]["name"] == "desired"
    inst = types[names.index("instance")]
    assert [a["name"] for a in inst["actions"]] == ["update", "delete", "terminate", "stop", "start"]
    assert not types[names.index("experiment")]["creatable"]
    body = r.body.decode() if isinstance(r.body, bytes) else r.body
    for secret in (game.token, "127.245.", "web-lb", "web-template"):
        assert secret not in body


def test_a_refusal_names_its_field(game):
    r = game.call("PATCH", "/resources/web", body={"spec": {"max": -1}})
    assert r.status == 400
    err = r.json()["error"]
    assert err["code"] == "ValidationError"
    assert err["field"] == "spec.max"
    assert err["message"].startswith("spec.max: asg 'web': field 'max'")
    assert err["errors"] == [err["message"]]
    r = game.call("POST", "/asgs/web/scale", body={"desired": 99})
    assert r.status == 400 and r.json()["error"]["field"] == "desired"
    r = game.call("GET", "/resources/nope")
    assert r.status == 404 and "field" not in r.json()["error"]


def test_console_scales_shows_errors_at_fields_and_renders(game):
    desired = game.get("/resources/web")["spec"]["desired"] + 1
    out = browser_run("console", url=game.api, token=game.token, desired=desired)
    assert "ok console" in out
    web = game.get("/resources/web")
    assert web["spec"]["desired"] == desired
    assert web["spec"]["max"] == 6  # the refused updates changed nothing
    audit = game.get("/audit?event=SetDesiredCapacity&principal=team-1")
    done = [a["requestParameters"]["desiredCapacity"] for a in audit if a["errorCode"] is None]
    assert done == [desired]
    refused = game.get("/audit?event=UpdateResource&principal=team-1")
    assert len(refused) >= 2 and all(a["errorCode"] == "ValidationError" for a in refused)
    assert all(json.dumps(a["requestParameters"]).find('"max"') > 0 for a in refused)
