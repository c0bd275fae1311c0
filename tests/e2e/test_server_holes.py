"""Holes a review found in the control plane, each tried on a real game:

- the state folder and its files were world-readable, and they hold every token;
- a report with a seq far ahead (or points no answers can earn) was taken, so one
  who read the internal token could write any score into a team's ledger;
- after a server restart the name generator repeated names, so group launches failed
  AlreadyExists and retried for minutes;
- a game that ended billed an instance's first minute past the end."""

import json
import os
import signal
import sqlite3
import stat
import time

from conftest import http, live, proc_info, scenario_path

SCENARIO = scenario_path("steady.yaml")


def internal_token(g):
    db = sqlite3.connect(f"file:{g.out}/state.db?mode=ro", uri=True)
    try:
        return db.execute("select value from kv where key = 'internal_token'").fetchone()[0]
    finally:
        db.close()


def test_the_state_folder_is_private(play):
    g = play(SCENARIO, speed=30)
    g.wait_ready()
    g.wait_customers()
    mode = stat.S_IMODE(os.stat(g.out).st_mode)
    assert mode & 0o077 == 0, f"{g.out} is {oct(mode)}"
    for name in ("state.db", "state.db-wal", "state.db-shm", "game.json"):
        p = g.out / name
        if p.exists():
            m = stat.S_IMODE(p.stat().st_mode)
            assert m & 0o077 == 0, f"{p} is {oct(m)}"
    logs = list((g.out / "logs").iterdir())
    assert logs
    for p in logs:
        m = stat.S_IMODE(p.stat().st_mode)
        assert m & 0o077 == 0, f"{p} is {oct(m)}"


def test_a_forged_report_is_refused(play):
    g = play(SCENARIO, speed=30)
    g.wait_ready()
    g.wait_customers()
    tok = internal_token(g)
    now = g.status()["clock"]
    base = {"team": 1, "t0": now - 30, "t1": now - 29, "error": 0, "timeout": 0, "wrong": 0,
            "hist": None}
    # Each forged report numbers itself from the monotonic clock as a loadgen does, so
    # it is newer than the real loadgen's last one and not dropped as a retry.
    def seq():
        return time.monotonic_ns() // 1000
    forged = [
        dict(base, seq=2 ** 62, ok=1, points=5),                       # seq far ahead
        dict(base, seq=seq(), ok=1, points=1_000_000),                 # more than 1 answer earns
        dict(base, seq=seq(), ok=10_000_000, points=10_000_000),       # more than the rate sends
        dict(base, seq=seq(), ok=1, points=5, t0=now + 500, t1=now + 600),  # the future
    ]
    for rep in forged:
        rep = {k: v for k, v in rep.items() if v is not None}
        r = http("POST", g.url("/internal/report"), body=rep, token=tok)
        assert r.status == 400 and r.json()["error"]["code"] == "InvalidReport", (rep, r)
    big = [e for e in g.get("/score/events?limit=0") if e["points"] >= 1000]
    assert not big, f"a forged report reached the ledger: {big}"
    assert g.team()["score"] < 10_000


def test_names_stay_unique_across_a_server_restart(play):
    g = play(SCENARIO, speed=30)
    g.wait_ready()
    g.wait_customers()
    before = {i["name"] for i in g.instances()}
    spid = g.info["server_pid"]
    os.kill(spid, signal.SIGKILL)
    g.wait_until(lambda: not live(proc_info(spid)), 10, "the server to die")
    g.wait_until(lambda: g.team(), 30, "the restarted server's API")
    r = g.call("POST", "/asgs/web/scale", {"desired": 6})
    assert r.status == 200, r
    g.wait_until(lambda: len([i for i in g.instances()
                              if i["status"]["state"] in ("pending", "running")]) >= 6,
                 30, "six instances")
    names = [i["name"] for i in g.instances()]
    assert len(names) == len(set(names)), names
    assert len(set(names) - before) >= 3, (before, names)
    launches = [a for a in g.audit() if a["eventName"] == "RunInstances"]
    assert not [a for a in launches if a.get("errorCode")], \
        [a for a in launches if a.get("errorCode")]


def test_no_bill_after_the_end(play, tmp_path):
    # Billed at list prices; the group grows in the last ten seconds of the game, so
    # its new instances' first minute would run past the end.
    text = SCENARIO.read_text().replace("multiplier: 0,", "multiplier: 1,")
    text = text.replace("duration: 60m", "duration: 4m")
    text += ("events:\n  - {at: 3m50s, action: scale, target: asg/web, count: 8, "
             "principal: ceo}\n")
    sc = tmp_path / "ending.yaml"
    sc.write_text(text)
    g = play(sc, speed=60)
    g.wait_ready()
    g.wait_exit(90)
    duration = 240.0
    db = sqlite3.connect(f"file:{g.out}/state.db?mode=ro", uri=True)
    try:
        bills = db.execute("select time, points from ledger where source = 'billing'").fetchall()
        rows = db.execute("select status from resources where type = 'instance'").fetchall()
        cost = json.loads(db.execute("select value from kv where key = 'totals_1'")
                          .fetchone()[0])["cost_usd"]
    finally:
        db.close()
    assert bills and all(t <= duration + 1e-6 for t, _ in bills), bills
    # What list prices give for what ran, each launch's first minute cut at the end.
    want = 0.0
    late = 0
    for (st,) in rows:
        st = json.loads(st)
        start = st["launched_at"]
        late += start > duration - 60
        end = min(st.get("terminated_at", duration), duration)
        secs = max(end - start, min(60.0, duration - start))
        want += 0.0104 * max(secs, 0) / 3600
    want += 0.025 * duration / 3600  # the clb
    assert late >= 3, "the event did not launch instances in the last minute"
    assert abs(cost - want) <= 0.02 * want + 1e-9, (cost, want)
