"""The post-game report of a played two-team game (issue 14): each team acts through the
API (team 1 scales its group up, team 2 down), the game ends by itself, play goes on
serving it read-only (--linger), and `gameday report DIR` writes report.md, which lists
each team's action with its points per game minute before and after, and report.html,
which renders from disk and as the server serves it (tests/browser/report.mjs, screenshot
doc/img/report.png)."""

import re
import subprocess

import pytest

from conftest import (ROOT, Game, browser_run, gameday_bin, get_json, http, scenario_path,
                      wait_until, _finish)

SCENARIO = scenario_path("board.yaml")
NET = 246  # two teams: 127.246.0.0/16 and 127.247.0.0/16
PORT = 18840


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    g = Game(SCENARIO, tmp_path_factory.mktemp("report") / "game", port=PORT, speed=60,
             duration="8m", net=NET, extra=("--linger",))
    try:
        g.start()
        g.wait_ready()
        tokens = [t["token"] for t in g.info["teams"]]
        # Both teams' customers answered, then two game minutes more: the action's
        # "before" window holds customers, whatever the machine's load at the start.
        g.wait_until(lambda: all(t["ok"] > 0 for t in g.status()["teams"]), 30,
                     "both teams' customers answered")
        start = max(150, g.status()["clock"] + 130)
        g.wait_until(lambda: g.status()["clock"] >= start, 30, f"game time {start:.0f}")
        for token, desired in ((tokens[0], 4), (tokens[1], 1)):
            r = http("POST", g.url("/asgs/web/scale"), body={"desired": desired}, token=token)
            assert r.status == 200, r
        g.wait_until(lambda: g.status()["state"] == "ended", 60, "the game to end")
        g.wait_until(lambda: g.line_value("game over: "), 20, "play's 'game over' line")
        g.tokens = tokens
        yield g
    finally:
        _finish([g])


def test_finished_game_is_served_read_only(finished):
    g = finished
    assert g.running(), "play exited at the end despite --linger"
    board = get_json(g.api + "/api/v1/scoreboard")
    assert board["game"]["state"] == "ended"
    assert board["game"]["clock"] == pytest.approx(480)
    r = http("POST", g.url("/asgs/web/scale"), body={"desired": 2}, token=g.tokens[0])
    assert r.status == 409 and r.json()["error"]["code"] == "GameOver", r
    assert http("GET", g.api + "/report.html").status == 200
    rep = get_json(g.api + "/api/v1/report")
    assert [t["name"] for t in rep["teams"]] == ["team-1", "team-2"]
    assert "token" not in str(rep)


def test_report_lists_each_teams_actions_with_their_effect(finished):
    g = finished
    r = subprocess.run([gameday_bin(), "report", str(g.out)], cwd=ROOT, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert f"report.md: {g.out}/report.md" in r.stdout
    assert f"report.html: {g.out}/report.html" in r.stdout
    md = (g.out / "report.md").read_text()
    actions = md.split("## Actions and their effect", 1)[1].split("## Timeline", 1)[0]
    for team, desired in (("team-1", 4), ("team-2", 1)):
        section = actions.split(f"### {team}\n", 1)[1].split("###", 1)[0]
        row = re.search(r"^\| (\d:\d\d:\d\d) \| SetDesiredCapacity web desiredCapacity=" +
                        str(desired) + r" \| " + team +
                        r" \| ([+-]\d+\.\d) \| ([+-]\d+\.\d) \| ([+-]\d+\.\d) \|$", section, re.M)
        assert row, section
        before, after, change = (float(row.group(i)) for i in (2, 3, 4))
        assert change == pytest.approx(after - before, abs=0.11)
        assert before > 0  # customers were answered before the action
    # the timeline has the scenario's events, the chaos and the folded bills
    timeline = md.split("## Timeline", 1)[1]
    assert "| event | ceo |" in timeline and "| chaos | chaos-monkey |" in timeline
    assert re.search(r"\| bills \| billing \| -\d+\.\d \| -?\d+\.\d \| \d+ bills: \$", timeline)
    for team, desired in (("team-1", 4), ("team-2", 1)):  # the actions, with the score then
        assert re.search(r"\| action \| " + team + r" \| \+0\.0 \| -?\d+\.\d \| "
                         r"SetDesiredCapacity web desiredCapacity=" + str(desired) + r" \|",
                         timeline), timeline
    assert "| bill | billing |" not in timeline  # no single bill row left unfolded
    assert "## Final bill by resource" in md and "web-lb" in md
    html = (g.out / "report.html").read_text()
    assert 'id="report-data"' in html and "<script src=" not in html and "<link " not in html


def test_report_html_renders(finished):
    g = finished
    if not (g.out / "report.html").exists():
        subprocess.run([gameday_bin(), "report", str(g.out)], cwd=ROOT, check=True,
                       capture_output=True, timeout=60)
    out = browser_run("report", file=g.out / "report.html", url=g.api, teams=2)
    assert "ok report" in out
