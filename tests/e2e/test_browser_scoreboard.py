"""The scoreboard in a real browser (Debian's chromium, headless, driven by playwright-core
from tests/browser/scoreboard.mjs): it updates without a reload. The screenshot it takes at
1920x1080 is doc/img/scoreboard.png."""

import pytest

from conftest import browser_run, scenario_path, shared_game

SCENARIO = scenario_path("steady.yaml")
NET = 244  # team 1 lives at 127.244.0.0/16: no other test uses it


@pytest.fixture(scope="module")
def game(tmp_path_factory):
    yield from shared_game(tmp_path_factory, SCENARIO, "browser_board", port=18800, speed=20,
                           net=NET)


def test_scoreboard_updates_without_reload(game):
    out = browser_run("scoreboard", url=game.api)
    assert "ok scoreboard" in out
