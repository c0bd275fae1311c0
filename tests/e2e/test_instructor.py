"""The instructor's room: `gameday host` with a teams file, and the instructor's acts
(the admin token): pausing stops the game clock in every process of the game (the
server's and the customers'), resuming goes on from where it stood, extending and
ending reach the customers, a message and a chaos action reach every team, each act is
audited, and a team token may do none of it. The board's panel in a real browser
(tests/browser/instructor.mjs): the instructor pauses and the clock stops."""

import json
import os
import re
import signal
import urllib.request

import pytest

from conftest import (browser_run, connect_refused, http, live, proc_info, scenario_path,
                      shared_game, wait_until)
from test_aws_cli import aws, aws_error

SCENARIO = scenario_path("steady.yaml")
NET = 251  # teams 1 and 2 live at 127.251/16 and 127.252/16: no other test uses them


@pytest.fixture(scope="module")
def game(tmp_path_factory):
    teams = tmp_path_factory.mktemp("teams") / "teams.txt"
    teams.write_text("# the class of 2026\nRed Team\nblue_team\n")
    yield from shared_game(tmp_path_factory, SCENARIO, "instructor", port=18990, speed=20,
                           net=NET, command="host", extra=("--teams-file", str(teams)))


def admin(g):
    return g.info["admin_token"]


def act(g, name, body=None, token=None):
    return http("POST", g.url(f"/game/{name}"), body, token=token or admin(g))


def loadgen_metrics(g, team=1):
    with urllib.request.urlopen(f"http://127.{NET + team - 1}.255.250:9100/metrics",
                                timeout=5) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        m = re.match(r'^(\w+)\{[^}]*?(?:outcome="(\w+)")?[^}]*\} ([-0-9.e+]+)$', line)
        if m:
            key = m.group(1) + (":" + m.group(2) if m.group(2) else "")
            out[key] = float(m.group(3))
    return out


def sent(m):
    return sum(v for k, v in m.items() if k.startswith("gameday_loadgen_requests_total:")) + \
        m.get("gameday_loadgen_inflight", 0)


def test_host_prints_join_links_with_the_teams_names(game):
    joins = [l for l in game.stdout_lines() if l.startswith("join: ")]
    assert len(joins) == 2, game.stdout_lines()
    assert joins[0].startswith('join: team 1 "Red Team": console http://127.0.0.1:')
    assert joins[1].startswith('join: team 2 "blue_team": console ')
    tokens = {t["name"]: t["token"] for t in game.info["teams"]}
    assert joins[0].endswith("token " + tokens["Red Team"])
    assert any(l.startswith("instructor: ") and l.endswith(
        "admin token " + admin(game) + " (pause, resume, extend, end, messages: the board's "
        "instructor panel or 'gameday ctl game')") for l in game.stdout_lines())
    names = [t["name"] for t in game.get("/status", auth=False)["teams"]]
    assert names == ["Red Team", "blue_team"]


def test_a_team_token_may_not_act_as_the_instructor(game):
    before = len(game.call("GET", "/audit", token=admin(game)).json())
    team = game.info["teams"][0]["token"]
    for name in ("pause", "end", "message"):
        r = act(game, name, {"text": "hi"}, token=team)
        assert r.status == 403, r
        assert "instructor" in r.json()["error"]["message"]
    assert http("GET", game.url("/game/events"), token=team).status == 403
    assert game.get("/status", auth=False)["state"] == "running"
    assert len(game.call("GET", "/audit", token=admin(game)).json()) == before


def test_pause_stops_the_clock_everywhere_and_resume_goes_on(game):
    r = act(game, "pause")
    assert r.status == 200, r
    stood = r.json()["clock"]
    assert r.json()["paused"] is True
    st = game.get("/status", auth=False)
    assert st["state"] == "paused" and st["paused"] is True
    # The customers' own process reads the same clock: it stands still there too.
    wait_until(lambda: loadgen_metrics(game).get("gameday_loadgen_inflight") == 0, 30,
               "the customers' requests in flight to be answered")
    m0 = loadgen_metrics(game)
    assert abs(m0["gameday_loadgen_clock_seconds"] - stood) < 0.5, (m0, stood)
    # Three more reports of the customers to the server: nothing was sent meanwhile.
    wait_until(lambda: loadgen_metrics(game)["gameday_loadgen_reports_total"]
               >= m0["gameday_loadgen_reports_total"] + 3, 30, "three reports while paused")
    m1 = loadgen_metrics(game)
    assert sent(m1) == sent(m0), (m0, m1)
    assert m1["gameday_loadgen_clock_seconds"] == m0["gameday_loadgen_clock_seconds"]
    assert abs(game.get("/status", auth=False)["clock"] - stood) < 0.5
    assert act(game, "pause").status == 409  # already paused

    r = act(game, "resume")
    assert r.status == 200 and r.json()["paused"] is False
    assert abs(r.json()["clock"] - stood) < 1.0, "the clock goes on from where it stood"
    wait_until(lambda: sent(loadgen_metrics(game)) > sent(m1), 30, "customers again")
    assert game.get("/status", auth=False)["clock"] > stood
    trail = game.call("GET", "/audit?principal=instructor", token=admin(game)).json()
    events = [e["eventName"] for e in trail]
    assert "PauseGame" in events and "ResumeGame" in events
    teams_events = [e["reason"] for e in game.call("GET", "/score/events?team=2",
                                                   token=admin(game)).json()]
    assert "the instructor paused the game" in teams_events
    assert "the instructor resumed the game" in teams_events


def test_a_paused_game_stays_paused_across_a_kill_9_of_the_server(game):
    stood = act(game, "pause").json()["clock"]
    spid = json.loads((game.out / "game.json").read_text())["server_pid"]
    os.kill(spid, signal.SIGKILL)
    wait_until(lambda: not live(proc_info(spid)), 10, "the server to die")

    def back():
        if connect_refused("127.0.0.1", game.port):
            return None
        info = json.loads((game.out / "game.json").read_text())
        return info["server_pid"] != spid and game.get("/status", auth=False)

    st = wait_until(back, 30, "host to restart the server")
    assert st["state"] == "paused" and abs(st["clock"] - stood) < 0.5, (st, stood)
    assert abs(loadgen_metrics(game)["gameday_loadgen_clock_seconds"] - stood) < 0.5
    r = act(game, "resume")
    assert r.status == 200 and abs(r.json()["clock"] - stood) < 1.0
    wait_until(lambda: game.get("/status", auth=False)["clock"] > stood + 1, 30,
               "the clock to run after the restart")


def test_extend_message_and_chaos_reach_every_team(game):
    d0 = game.get("/status", auth=False)["duration"]
    r = act(game, "extend", {"by": "10m"})
    assert r.status == 200 and r.json()["duration"] == d0 + 600
    assert game.get("/status", auth=False)["duration"] == d0 + 600
    log = game.out / "logs" / "loadgen-2.log"
    wait_until(lambda: f"to={d0 + 600:.0f}" in log.read_text(), 30,
               "the customers of team 2 to learn the new end")
    bad = act(game, "extend", {"by": "forever"})
    assert bad.status == 400 and "by:" in bad.json()["error"]["message"]
    assert game.get("/status", auth=False)["duration"] == d0 + 600

    assert act(game, "message", {"text": "The CEO: traffic doubles at noon"}).status == 200
    assert game.get("/status", auth=False)["message"] == "The CEO: traffic doubles at noon"
    assert act(game, "message", {"text": ""}).status == 400

    before = {t: len([i for i in game.call("GET", f"/instances?team={t}",
                                           token=admin(game)).json()
                      if i["status"]["state"] == "running"]) for t in (1, 2)}
    r = act(game, "trigger", {"action": "terminate_random", "target": "asg/web"})
    assert r.status == 200, r
    for t in (1, 2):
        reasons = [e["reason"] for e in game.call("GET", f"/score/events?team={t}",
                                                  token=admin(game)).json()
                   if e["source"] == "instructor"]
        assert any(x.startswith("terminated i-") for x in reasons), reasons
    assert before[1] >= 1 and before[2] >= 1
    assert act(game, "trigger", {"action": "rm -rf"}).status == 400
    assert act(game, "trigger", {"event": 7}).status == 400
    trail = [e["eventName"] for e in game.call("GET", "/audit?principal=instructor",
                                               token=admin(game)).json()]
    for name in ("ExtendGame", "SendGameMessage", "TriggerGameEvent"):
        assert name in trail


def test_the_board_panel_pauses_the_clock_in_a_browser(game):
    out = browser_run("instructor", url=game.api, admin=admin(game))
    assert "ok instructor" in out


def test_end_stops_the_customers_and_the_finished_game_stays_up(game):
    r = act(game, "end")
    assert r.status == 200
    end = r.json()["duration"]
    wait_until(lambda: game.get("/status", auth=False)["state"] == "ended", 60,
               "the game to end")
    assert game.get("/status", auth=False)["duration"] == end
    wait_until(lambda: any(l.startswith("game over: the scoreboard ") for l in game.stdout_lines()),
               30, "host's 'game over:' line")
    assert game.running(), "host keeps the finished game up until Ctrl-C"
    assert game.get("/status", auth=False)["state"] == "ended"
    assert act(game, "extend", {"by": "5m"}).status == 409
    # Read-only, through both APIs: reads answer, changes are refused and change nothing.
    r = game.call("POST", "/asgs/web/scale", {"desired": 5})
    assert r.status == 409 and r.json()["error"]["code"] == "GameOver", r
    groups = aws(game, "autoscaling", "describe-auto-scaling-groups")["AutoScalingGroups"]
    assert [x["DesiredCapacity"] for x in groups if x["AutoScalingGroupName"] == "web"] == [3]
    code, err = aws_error(game, "autoscaling", "set-desired-capacity",
                          "--auto-scaling-group-name", "web", "--desired-capacity", "5")
    assert code == "GameOver" and "read-only" in err, err
    assert game.get("/resources/web")["spec"]["desired"] == 3
