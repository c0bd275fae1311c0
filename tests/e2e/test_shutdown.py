"""No process survives the end of `gameday play`: interrupted mid-game, play stops
the server, the edge, every instance and the loadgen, writes result.json, and nothing
listens on the endpoint any more. (The normal end of a game is checked in
test_play.py.)

Two ways to interrupt: SIGINT to play alone (kill -INT), and Ctrl-C in a terminal,
which sends SIGINT to the whole foreground process group: play and every process it
started (play is the group's leader, as a shell's job is). Which of them handles the
signal first is up to the scheduler; on a busy machine play may well be last. The
Ctrl-C case plays that order on purpose: play is held (SIGSTOP) while the group gets
SIGINT and the server reacts to it, then released (SIGCONT) to handle its own."""

import json
import os
import pty
import select
import shlex
import signal

import pytest

from conftest import (ROOT, connect_refused, free_port, game_processes, gameday_bin, get_json,
                      hostport, live, net_lock, proc_info, scenario_path,
                      wait_for_quiet_network, wait_until)

SCENARIO = scenario_path("steady.yaml")


HOW = ["sigint-to-play", "ctrl-c-to-group"]


def interrupt_mid_game(play, how):
    """Starts a game, interrupts it once customers are served, waits for play to
    exit; returns (game, play's exit code)."""
    g = play(SCENARIO, speed=30)
    g.wait_ready()
    g.wait_customers()
    procs = g.snapshot_pids()
    cmds = " | ".join(p.cmdline for p in procs) + " "
    for role in (" server ", " edge ", " instance ", " loadgen "):
        assert role in cmds, f"{role.strip()} runs before the interrupt: {procs}"
    ip, port = hostport(g.endpoint)
    assert not connect_refused(ip, port)

    if how == "sigint-to-play":
        os.kill(g.proc.pid, signal.SIGINT)
    else:
        server = g.info["server_pid"]
        os.kill(g.proc.pid, signal.SIGSTOP)
        try:
            os.killpg(g.pgid, signal.SIGINT)
            # A server that stops on SIGINT does so at once; one that leaves the
            # shutdown to play keeps running: then go on after a short while.
            try:
                wait_until(lambda: not live(proc_info(server)), 3, "the server to react")
            except AssertionError:
                pass
        finally:
            os.kill(g.proc.pid, signal.SIGCONT)
    return g, g.wait_exit(timeout=20)


@pytest.mark.parametrize("how", HOW)
def test_interrupted_game_leaves_no_process(how, play):
    g, rc = interrupt_mid_game(play, how)
    try:
        wait_until(lambda: not game_processes(g.pgid, g.out, g.seen_pids), 1.0,
                   "no process of the game left after play exited")
    except AssertionError:
        pytest.fail(f"processes survived play ({how}, rc {rc}): "
                    f"{game_processes(g.pgid, g.out, g.seen_pids)}")
    ip, port = hostport(g.endpoint)
    assert connect_refused(ip, port), f"nothing listens on the endpoint {g.endpoint}"
    assert connect_refused(ip, 9901), "the edge's admin listener is gone"
    assert connect_refused("127.0.0.1", g.port), "the API is gone"


@pytest.mark.parametrize("how", HOW)
def test_interrupted_game_writes_its_result(how, play):
    """'At the end, or on Ctrl-C, writes DIR/result.json' (gameday play --help)."""
    g, rc = interrupt_mid_game(play, how)
    assert rc == 0, f"play exited {rc} after {how}\n{g.diagnostics()}"
    assert any(l.startswith("result: ") for l in g.stdout_lines()), g.diagnostics()
    res = json.loads((g.out / "result.json").read_text())
    assert res["state"] == "interrupted", res
    assert res["requests"]["ok"] > 0, res


def test_ctrl_c_in_a_terminal_ends_a_game_started_by_a_shell(tmp_path):
    """What `make play` does: a shell in a terminal runs play, the player presses
    Ctrl-C at that terminal (the terminal sends SIGINT to its foreground process
    group). The game must end as on any Ctrl-C: play exits 0 with result.json and no
    process is left."""
    lock = net_lock()
    out = tmp_path / "game"
    port = free_port()
    cmd = (f"{shlex.quote(gameday_bin())} play {shlex.quote(str(SCENARIO))} --speed 30 "
           f"--headless --out {shlex.quote(str(out))} --port {port}; echo play-exited-$?")
    pid, fd = None, None
    seen = set()
    buf = bytearray()

    def read_some():
        r, _, _ = select.select([fd], [], [], 0.05)
        if r:
            try:
                buf.extend(os.read(fd, 65536))
            except OSError:  # the terminal's other side is gone
                pass
        return buf.decode(errors="replace")

    def play_proc():
        ps = [p for p in game_processes(-1, out)
              if p.cmdline.startswith(gameday_bin() + " play ")]
        return ps[0] if ps else None

    try:
        wait_for_quiet_network()
        pid, fd = pty.fork()
        if pid == 0:  # the child: a shell on the new terminal, as make runs recipes
            try:
                os.chdir(ROOT)
                os.execvp("sh", ["sh", "-c", cmd])
            finally:
                os._exit(127)
        wait_until(lambda: "endpoint: " in read_some(), 30, "play's header on the terminal")
        api = f"http://127.0.0.1:{port}/api/v1/status"
        wait_until(lambda: (read_some() is not None and
                            get_json(api)["teams"][0]["ok"] > 0), 30, "customers served")
        p = play_proc()
        assert p is not None
        seen.update(q.pid for q in game_processes(p.pgid, out))
        os.write(fd, b"\x03")  # Ctrl-C
        try:
            wait_until(lambda: read_some() is not None and not live(proc_info(p.pid)), 10,
                       "play to end after Ctrl-C")
        except AssertionError:
            pytest.fail("Ctrl-C at the terminal did not end the game: play is still running "
                        f"({play_proc()}); output:\n{buf.decode(errors='replace')[-1500:]}")
        # The summary reaches the terminal, and the shell's echo if it is still there.
        text = wait_until(lambda: (lambda t: t if "result.json: " in t else None)(read_some()),
                          5, "the final summary on the terminal")
        if "play-exited-" in text:
            rc = text.split("play-exited-")[1].split()[0]
            assert rc == "0", f"play exited {rc}:\n{text[-1500:]}"
        res = json.loads((out / "result.json").read_text())
        assert res["state"] == "interrupted", res
        wait_until(lambda: not game_processes(p.pgid, out, seen), 1.0,
                   "no process of the game left after play exited")
    finally:
        # Whatever happened: end the game and everything it started.
        p = play_proc()
        if p is not None:
            os.kill(p.pid, signal.SIGINT)
            try:
                wait_until(lambda: not live(proc_info(p.pid)), 15, "play to stop")
            except AssertionError:
                os.killpg(p.pgid, signal.SIGKILL)
            seen.update(q.pid for q in game_processes(p.pgid, out))
        for q in game_processes(p.pgid if p else -1, out, seen):
            if q.pid != pid:
                try:
                    os.kill(q.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if pid:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(pid, 0)
        if fd is not None:
            os.close(fd)
        lock.close()
