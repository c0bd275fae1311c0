"""`gameday play` on a port something else holds: it says the server could not listen
(with the server log's own line) and exits 1, leaving nothing running and leaking
nothing (doc/cli.md, "When the port is taken")."""

import socket
import subprocess
import threading

from conftest import ROOT, SANITIZER_MARKS, free_port, gameday_bin


def test_play_on_a_taken_port_says_so_and_exits_1(tmp_path):
    port = free_port(18600)
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", port))
        holder.listen(8)

        def refuse():  # accept and close at once, as a process that is not a game would
            while True:
                try:
                    c, _ = holder.accept()
                except OSError:
                    return
                c.close()

        threading.Thread(target=refuse, daemon=True).start()
        r = subprocess.run([gameday_bin(), "play", "tests/e2e/scenarios/steady.yaml",
                            "--port", str(port), "--out", str(tmp_path / "game"), "--net", "231",
                            "--duration", "1m", "--headless"],
                           cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1, r.stderr
    assert "gameday play: the server did not start; its log" in r.stderr, r.stderr
    assert f"cannot listen on 127.0.0.1:{port}: address in use" in r.stderr, r.stderr
    assert not any(m in r.stderr for m in SANITIZER_MARKS), r.stderr[-3000:]
    assert "token: " not in r.stdout
