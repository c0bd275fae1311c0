"""GET /api/v1/stream, the scoreboard's server-sent events, on a real game: frames arrive
(event `scoreboard`, the scoreboard JSON, the game clock moving on), the client limit
answers 503, a reader that does not read misses frames instead of growing the server's
buffers, and every stream ends cleanly (an `end` event, then EOF) when the server stops.
The limits are lowered for the test through GAMEDAY_STREAM_CLIENTS and
GAMEDAY_STREAM_BUFFER."""

import json
import os
import re
import socket
import time

import pytest

from conftest import get_json, http, scenario_path, shared_game, wait_until

SCENARIO = scenario_path("steady.yaml")
NET = 248  # one team: 127.248.0.0/16
MAX_CLIENTS = 4
BUFFER = 16384


@pytest.fixture(scope="module")
def game(tmp_path_factory):
    saved = {k: os.environ.get(k) for k in ("GAMEDAY_STREAM_CLIENTS", "GAMEDAY_STREAM_BUFFER")}
    os.environ["GAMEDAY_STREAM_CLIENTS"] = str(MAX_CLIENTS)
    os.environ["GAMEDAY_STREAM_BUFFER"] = str(BUFFER)
    try:
        yield from shared_game(tmp_path_factory, SCENARIO, "stream", port=18880, speed=30,
                               net=NET)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class Stream:
    """A raw client of /api/v1/stream: the head, then events as they are parsed."""

    def __init__(self, game, rcvbuf=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(10)
        self.sock.connect(("127.0.0.1", game.port))
        self.sock.sendall(b"GET /api/v1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          b"Accept: text/event-stream\r\n\r\n")
        self.buf = b""
        self.status = None
        self.headers = {}
        self.body_start = None
        self.eof = False

    def _read(self):
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            return False
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def head(self):
        while b"\r\n\r\n" not in self.buf:
            if not self._read():
                raise AssertionError(f"no head: {self.buf[:300]!r}")
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        self.status = int(lines[0].split()[1])
        for l in lines[1:]:
            k, v = l.split(":", 1)
            self.headers[k.strip().lower()] = v.strip()
        return self.status

    def events(self, n=1, timeout=20):
        """The next n events (name, data), waiting up to timeout."""
        out = []
        end = time.monotonic() + timeout
        while len(out) < n:
            while b"\n\n" in self.buf and len(out) < n:
                block, self.buf = self.buf.split(b"\n\n", 1)
                name, data = "message", []
                for line in block.decode().split("\n"):
                    if line.startswith(":") or line.startswith("retry:"):
                        continue
                    if line.startswith("event: "):
                        name = line[7:]
                    elif line.startswith("data: "):
                        data.append(line[6:])
                if data:
                    out.append((name, "\n".join(data)))
            if len(out) >= n:
                break
            if time.monotonic() > end or self.eof:
                raise AssertionError(f"{len(out)} of {n} events (eof {self.eof})")
            self._read()
        return out

    def close(self):
        self.sock.close()


def metric(game, name, labels=""):
    text = http("GET", game.api + "/metrics").body.decode()
    m = re.search(r"^" + re.escape(name + (("{" + labels + "}") if labels else "")) +
                  r" (\S+)$", text, re.M)
    return float(m.group(1)) if m else None


def test_frames_arrive(game):
    s = Stream(game)
    try:
        assert s.head() == 200
        assert s.headers["content-type"].startswith("text/event-stream")
        assert s.headers.get("connection") == "close"
        assert "content-length" not in s.headers
        evs = s.events(3)
        assert [n for n, _ in evs] == ["scoreboard"] * 3
        boards = [json.loads(d) for _, d in evs]
        clocks = [b["game"]["clock"] for b in boards]
        assert clocks[0] < clocks[1] < clocks[2], clocks
        t = boards[-1]["teams"][0]
        assert t["name"] == "team-1" and "series" in t and "events" in t
        assert all(len(p) == 4 for p in t["series"]), t["series"][:3]
        assert "token" not in json.dumps(boards[-1])
        assert metric(game, "gameday_stream_clients") >= 1
    finally:
        s.close()
    wait_until(lambda: metric(game, "gameday_stream_clients") == 0, 10,
               "the closed stream to be forgotten")
    log = (game.out / "logs" / "server.log").read_text()
    assert re.search(r"ev=stream_open peer=127\.0\.0\.1", log)
    assert re.search(r"ev=stream_close peer=127\.0\.0\.1 frames=\d+ dropped=\d+ .*why=client", log)


def test_client_limit_answers_503(game):
    held = [Stream(game) for _ in range(MAX_CLIENTS)]
    try:
        for s in held:
            assert s.head() == 200
        wait_until(lambda: metric(game, "gameday_stream_clients") == MAX_CLIENTS, 10,
                   f"{MAX_CLIENTS} stream clients")
        refused0 = metric(game, "gameday_stream_refused_total")
        r = http("GET", game.api + "/api/v1/stream")
        assert r.status == 503, r
        assert r.json()["error"]["code"] == "TooManyStreams"
        assert metric(game, "gameday_stream_refused_total") == refused0 + 1
        # the board's JSON is still there for a page that falls back to polling
        assert get_json(game.api + "/api/v1/scoreboard")["teams"]
    finally:
        for s in held:
            s.close()
    wait_until(lambda: metric(game, "gameday_stream_clients") == 0, 10, "the streams to close")
    s = Stream(game)
    try:
        assert s.head() == 200  # room again
    finally:
        s.close()


def test_slow_reader_is_bounded(game):
    """A reader that reads nothing: its frames are dropped once BUFFER bytes wait, and what
    the server holds for it stays under BUFFER plus one frame; it then reads whole frames."""
    dropped0 = metric(game, "gameday_stream_frames_total", 'outcome="dropped"')
    s = Stream(game, rcvbuf=4096)
    try:
        frame = len(http("GET", game.api + "/api/v1/scoreboard").body) + 64
        peak = 0

        def dropped():
            nonlocal peak
            peak = max(peak, metric(game, "gameday_stream_unsent_bytes"))
            return metric(game, "gameday_stream_frames_total", 'outcome="dropped"') > dropped0

        wait_until(dropped, 60, "a frame dropped for the slow reader", interval=0.3)
        for _ in range(5):
            time.sleep(0.5)
            peak = max(peak, metric(game, "gameday_stream_unsent_bytes"))
        assert 0 < peak <= BUFFER + 2 * frame, (peak, BUFFER, frame)
        # Reading now: the frames it gets are whole (a dropped frame is skipped entirely).
        assert s.head() == 200
        for name, data in s.events(4, timeout=30):
            assert name == "scoreboard"
            assert json.loads(data)["game"]["name"] == "e2e-steady"
    finally:
        s.close()


def test_stream_closes_on_server_stop(game):
    """Last: stops the module's game. The stream gets an `end` event, then EOF."""
    s = Stream(game)
    try:
        assert s.head() == 200
        s.events(1)
        game.stop()
        deadline = time.monotonic() + 20
        while not s.eof and time.monotonic() < deadline:
            s._read()
        assert s.eof, "the stream did not close"
        assert b'event: end\ndata: {"reason":"server stopping"}\n\n' in s.buf, s.buf[-300:]
    finally:
        s.close()
