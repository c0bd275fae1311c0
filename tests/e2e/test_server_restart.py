"""Static stability and a durable ledger: SIGKILL the server mid-game. While it is down
the edge keeps answering customers with correct hashes; `gameday play` restarts it,
and the restarted server resumes the game without losing a point.

`play` restarts a dead server within ~0.1 s; to look at the game while the server is
really down, play is held with SIGSTOP across the kill and released with SIGCONT."""

import json
import os
import signal

from conftest import connect_refused, gameday_hash, live, proc_info, scenario_path

# A steady game with no bill: every report of the customers adds points, so the score
# never goes down on its own.
SCENARIO = scenario_path("steady.yaml")


def test_edge_serves_while_the_server_is_down_and_a_restart_loses_no_points(play):
    g = play(SCENARIO, speed=30)
    g.wait_ready()
    g.wait_customers()
    g.wait_until(lambda: g.team()["score"] > 0, 15, "a positive score")
    before = g.team()
    ledger_before = g.get("/score/events?limit=0")
    audit_before = g.audit()
    assert ledger_before and audit_before
    spid = g.info["server_pid"]
    server = proc_info(spid)
    assert live(server) and " server " in server.cmdline and str(g.out) in server.cmdline, server

    os.kill(g.proc.pid, signal.SIGSTOP)  # play must not restart the server yet
    try:
        os.kill(spid, signal.SIGKILL)
        g.wait_until(lambda: not live(proc_info(spid)), 10, "the server to die")
        g.wait_until(lambda: connect_refused("127.0.0.1", g.port), 5, "the API to be down")

        for key in ("while", "the", "server", "is", "down", "k7", "k123"):
            r = g.request(key)
            assert r.status == 200, f"key {key!r} while the server is down: {r}"
            assert r.json() == {"key": key, "hash": gameday_hash(key, SCENARIO)}
        assert connect_refused("127.0.0.1", g.port), "the server stayed down meanwhile"
    finally:
        os.kill(g.proc.pid, signal.SIGCONT)

    after = g.wait_until(g.team, 30, "the restarted server's API")
    assert after["score"] >= before["score"], \
        f"the restarted server lost points: {before['score']:.2f} -> {after['score']:.2f}"
    assert after["ok"] >= before["ok"], (before, after)
    g.wait_until(lambda: "restarting" in g.stderr_text(), 5, "play to say it restarted the server")
    new_pid = json.loads((g.out / "game.json").read_text())["server_pid"]
    assert new_pid != spid and live(proc_info(new_pid)), (spid, new_pid)

    ledger_after = {e["seq"]: e for e in g.get("/score/events?limit=0")}
    for e in ledger_before:
        assert ledger_after.get(e["seq"]) == e, f"ledger row {e} survived the restart"
    audit_after = {a["seq"]: a for a in g.audit()}
    for a in audit_before:
        assert audit_after.get(a["seq"]) == a, f"audit record {a} survived the restart"

    # The game goes on: the customers' reports (also those made while the server was
    # down) reach the restarted server.
    g.wait_until(lambda: g.team()["score"] > after["score"], 15, "the score to grow again")
    g.wait_until(lambda: g.team()["ok"] > after["ok"], 15, "more answers counted")
    assert g.team()["instances"] == 3
    r = g.request("after")
    assert r.status == 200 and r.json()["hash"] == gameday_hash("after", SCENARIO)
