"""The scoreboard in a real browser (Debian's chromium, headless, driven by playwright-core
from tests/browser/scoreboard.mjs): a two-team game whose board updates without a reload
over the server-sent events stream, with a drawn sparkline per team, the uPlot chart and
the bills folded. The screenshot it takes at 1920x1080 is doc/img/scoreboard.png."""

import pytest

from conftest import browser_run, scenario_path, shared_game

SCENARIO = scenario_path("board.yaml")
NET = 246  # two teams: 127.246.0.0/16 and 127.247.0.0/16


@pytest.fixture(scope="module")
def game(tmp_path_factory):
    yield from shared_game(tmp_path_factory, SCENARIO, "browser_board", port=18840, speed=20,
                           net=NET)


def test_scoreboard_updates_over_the_stream(game):
    out = browser_run("scoreboard", url=game.api, teams=2, events="chaos", settle=480)
    assert "ok scoreboard" in out
