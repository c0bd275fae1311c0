"""scenarios/whats-the-time.yaml plays as its story says: one t3.micro (the time
service) behind the Elastic IP `front`, which `www` names for an hour; the customers
resolve www through the game's DNS server and get right answers through the Elastic
IP. (bench/strategies/wtt-* play the lesson's steps and show that they pay.)"""

import json
import urllib.request

import pytest

from conftest import ROOT, dig, dig_answers, shared_game

NET = 221  # team 1 lives at 127.221.0.0/16: no other test uses it


@pytest.fixture(scope="module")
def game(tmp_path_factory):
    yield from shared_game(tmp_path_factory, ROOT / "scenarios" / "whats-the-time.yaml", "wtt",
                           port=18480, speed=60, net=NET)


def test_the_first_step_of_the_lesson_serves(game):
    rows = dig_answers(dig(*game.info["dns"].split(":"), "+noall", "+answer",
                           "www.team1.gameday.test"))
    assert rows == [("www.team1.gameday.test.", 3600, "A", f"127.{NET}.251.4")], rows
    front = game.get("/resources/front")["status"]
    assert front["ip"] == f"127.{NET}.251.4"
    assert front["association"] == game.get("/resources/web1")["id"]
    assert game.team()["ok"] > 0 and game.team()["wrong"] == 0
    # the answers come through the Elastic IP
    with urllib.request.urlopen(f"http://127.{NET}.255.52:9052/stats", timeout=5) as r:
        maps = json.loads(r.read())["maps"]
    assert [m["connections"] > 0 for m in maps] == [True], maps
    assert game.stdout_lines()[0].startswith("gameday: WhatsTheTime.com")


def test_a_reservation_for_the_baseline_saves_on_the_bill(game):
    """The lesson's last step: the baseline (web1, a t3.micro that runs all game) bought
    as a Reserved Instance. Its fee is 60 % of the on-demand hours it covers (the
    scenario's default 40 % discount), and it cannot be cancelled."""
    game.ctl("create", "reserved_instance", "baseline", "instance_type=t3.micro", "count=1")

    def lines():
        items = [it for it in game.get("/bill")["items"] if it["name"] == "baseline"]
        fee = sum(it["usd"] for it in items if it["usd"] > 0)
        covered = -sum(it["usd"] for it in items if it["usd"] < 0)
        return (fee, covered) if fee > 0 and covered > 0 else None

    fee, covered = game.wait_until(lines, 10, "the reservation on the bill")
    assert abs(fee / covered - 0.6) < 0.01, (fee, covered)
    r = game.ctl("delete", "baseline", check=False)
    assert r.returncode != 0 and "OperationNotPermitted" in r.stderr, r.stderr
