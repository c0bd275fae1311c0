"""The default game, played the way the issue says a newcomer plays it:

    gameday play scenarios/unicorn-rentals.yaml --speed 60 --duration 20m --headless --out D

One game serves the tests of this module: the endpoint is exercised while it runs,
then the run's output and result are checked, then that nothing survives its end."""

import json
import os
import re
import shlex
import subprocess

import pytest

from conftest import (ROOT, DEFAULT_SCENARIO, STATUS_LINE, connect_refused, game_processes,
                      gameday_hash, hostport, http, wait_until)

SPEED = 60
DURATION = "20m"  # 1200 s of game time: 20 s of wall time at x60


@pytest.fixture(scope="module")
def default_game(module_play):
    g = module_play(DEFAULT_SCENARIO, speed=SPEED, duration=DURATION)
    g.wait_ready()
    g.wait_customers()
    g.snapshot_pids()
    return g


def test_endpoint_answers_what_gameday_hash_prints(default_game):
    g = default_game
    keys = ["somekey", "k1", "unicorn-42", "Zebra_9"]
    for key in keys:
        want = gameday_hash(key, DEFAULT_SCENARIO)
        r = g.wait_until(lambda: (lambda r: r if r.status == 200 else None)(g.request(key)), 10,
                         f"a 200 answer for key {key!r} from {g.endpoint}")
        assert "json" in (r.header("Content-Type") or ""), r.headers
        body = r.json()
        assert body["key"] == key, body
        assert body["hash"] == want, f"key {key!r}: endpoint said {body['hash']}, " \
                                     f"'gameday hash' says {want}"
        assert r.header("X-Instance-Id"), "the answer names the instance that computed it"
    # The hash depends on the key: two keys never share one here.
    assert len({gameday_hash(k, DEFAULT_SCENARIO) for k in keys}) == len(keys)
    # The printed scoreboard serves.
    sb = g.line_value("scoreboard: ")
    r = http("GET", sb)
    assert r.status == 200 and b"<" in r.body[:200], r


def test_the_ctl_command_play_names_works_as_printed(default_game):
    g = default_game
    hint = g.line_value("ctl: ")
    assert hint and " --help " in hint, g.stdout_lines()[:10]
    cmd = shlex.split(hint.split(" --help ")[0])
    assert cmd[1] == "ctl", hint
    assert cmd[0] == "./gameday" or os.path.isabs(cmd[0]), f"not a command that works: {hint}"
    runbook = g.line_value("runbook: ")
    assert runbook.endswith(" ".join(cmd) + " instances"), runbook
    r = subprocess.run(cmd + ["status"], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, f"{hint}: rc {r.returncode}\n{r.stdout}\n{r.stderr}"
    assert "team-1 " in r.stdout, r.stdout


def test_play_prints_header_status_lines_and_writes_result(default_game):
    g = default_game
    rc = g.wait_exit(timeout=60)
    wall = g.ended_at - g.started_at
    assert rc == 0, f"play exited {rc}\n{g.diagnostics()}"
    assert 19.5 <= wall <= 40, f"a 20 min game at x60 took {wall:.1f} s of wall time"

    lines = g.stdout_lines()

    def first(prefix):
        for i, l in enumerate(lines):
            if l.startswith(prefix):
                return i
        pytest.fail(f"no line starts with {prefix!r}:\n" + "\n".join(lines[:20]))

    i_sb, i_tok, i_ep = first("scoreboard: "), first("token: "), first("endpoint: ")
    assert i_sb < i_tok < i_ep, lines[:10]
    assert g.line_value("scoreboard: ") == f"http://127.0.0.1:{g.port}/"
    token = g.line_value("token: ")
    assert re.fullmatch(r"[0-9a-f]{32,}", token), token
    assert token == g.info["teams"][0]["token"], "the printed token is team 1's (game.json)"
    ip, port = hostport(g.line_value("endpoint: "))
    assert ip.startswith("127.1."), f"team 1's endpoint lives in its VPC 127.1.0.0/16: {ip}"
    status = [i for i, l in enumerate(lines) if STATUS_LINE.match(l)]
    assert len(status) >= 15, f"about one status line per wall second:\n" + "\n".join(lines)
    assert status[0] > i_ep, "status lines follow the header"
    assert any(" rps 0.0 " not in lines[i] for i in status), "customers show up in the status"
    assert any(l.startswith("result: ") for l in lines), lines[-5:]

    res = json.loads((g.out / "result.json").read_text())
    assert isinstance(res["score"], (int, float))
    for k in ("ok", "error", "timeout", "wrong"):
        assert isinstance(res["requests"][k], int) and res["requests"][k] >= 0, res["requests"]
    assert isinstance(res["cost_usd"], (int, float)) and res["cost_usd"] > 0, res
    p50, p99 = res["latency_ms"]["p50"], res["latency_ms"]["p99"]
    assert 3900 <= p50 <= 4400, f"uncached p50 is about 4 s of game time: {p50} ms"
    assert p99 >= p50
    assert res["requests"]["ok"] > 0, res
    assert res["requests"]["wrong"] == 0, "the service never answers a wrong hash"
    assert res["state"] == "ended", res["state"]
    # 20 min of customers at 1.5..2 rps
    assert res["requests"]["ok"] >= 1000, res["requests"]


def test_no_process_survives_the_end_of_the_game(default_game):
    g = default_game
    g.wait_exit(timeout=60)
    assert len(g.seen_pids) >= 5, "server, edge, instances and loadgen were seen running"
    try:
        wait_until(lambda: not game_processes(g.pgid, g.out, g.seen_pids), 1.0,
                   "no process of the game left after play exited")
    except AssertionError:
        pytest.fail("processes survived the end of gameday play: "
                    f"{game_processes(g.pgid, g.out, g.seen_pids)}")
    ip, port = hostport(g.endpoint)
    assert connect_refused(ip, port), f"nothing listens on the endpoint {g.endpoint} any more"
    assert connect_refused(ip, 9901), "the edge's admin listener is gone"
    assert connect_refused("127.0.0.1", g.port), "the API is gone"
