"""A client that pipelines requests and never reads its answers. The API server and the
edge (both on src/core/http.c) stop reading such a connection once its unsent answers
pass a cap (GD_HTTP_MAX_UNSENT), so their memory stays flat instead of buffering every
answer; once the client reads, every answer arrives, in order.

The requests alternate, in a fixed pseudo-random pattern, between cheap paths whose
answers differ (status, length), so the order of the answers is checked, not only their
number."""

import fcntl
import json
import os
import random
import select
import socket
import struct
import termios
import time
import urllib.error
import urllib.request

import pytest

from conftest import game_processes, hostport, scenario_path

SCENARIO = scenario_path("slow_reader.yaml")
FLOOD_SECONDS = 4  # how long the client sends without reading
MAX_GROWTH_KB = 12 * 1024  # RSS growth allowed (the cap, socket buffers, the input buffer)


@pytest.fixture(scope="module")
def game(module_play):
    # ASan keeps freed memory in a quarantine (256 MB by default), so RSS would grow
    # with every answer made and freed; with a small one RSS shows what is held.
    old = os.environ.get("ASAN_OPTIONS")
    os.environ["ASAN_OPTIONS"] = (old + ":" if old else "") + "quarantine_size_mb=4"
    try:
        g = module_play(SCENARIO, speed=60)
    finally:
        if old is None:
            del os.environ["ASAN_OPTIONS"]
        else:
            os.environ["ASAN_OPTIONS"] = old
    g.wait_ready()
    g.wait_customers()
    return g


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")


def pipeline(paths, n, host):
    """n GET requests, each of one of `paths` in a seeded pattern; returns the bytes and
    the index into paths of each request."""
    rng = random.Random(7)
    which = [rng.randrange(len(paths)) for _ in range(n)]
    reqs = [f"GET {paths[w]} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode() for w in which]
    return reqs, which


def parse_answers(buf):
    """(status, body length) of the complete answers at the front of buf, and the bytes
    they take."""
    out, at = [], 0
    while True:
        end = buf.find(b"\r\n\r\n", at)
        if end < 0:
            return out, at
        head = buf[at:end].decode("latin-1").split("\r\n")
        length = 0
        for h in head[1:]:
            k, _, v = h.partition(":")
            if k.strip().lower() == "content-length":
                length = int(v.strip())
        if end + 4 + length > len(buf):
            return out, at
        out.append((int(head[0].split()[1]), length))
        at = end + 4 + length


def server_rx_queue(server_port, client_port):
    """Bytes the server's end of our connection has received and not read yet (from
    /proc/net/tcp), or None if the connection is not listed."""
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            local, remote = fields[1], fields[2]
            if int(local.split(":")[1], 16) == server_port and \
                    int(remote.split(":")[1], 16) == client_port:
                return int(fields[4].split(":")[1], 16)
    return None


def client_outq(s):
    """Bytes our socket has not had acknowledged yet (SIOCOUTQ)."""
    return struct.unpack("i", fcntl.ioctl(s.fileno(), termios.TIOCOUTQ, b"\0" * 4))[0]


def flood_then_read(addr, reqs, pid, seconds):
    """Sends reqs pipelined without reading, until the deadline (`seconds`) or until the
    server has read them all, notes the RSS growth of pid, then reads every answer while
    sending the rest. Returns the growth in kB, the statuses in order, and how many bytes
    went before reading."""
    data = b"".join(reqs)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # A small receive window: what the server writes ahead into the kernel's buffers
    # (and answers before its cap applies) stays small, and so does its RSS noise.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    s.settimeout(10)
    s.connect(addr)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.setblocking(False)
    client_port = s.getsockname()[1]
    before = rss_kb(pid)
    off = 0
    deadline = time.monotonic() + seconds
    # Phase 1: send only. A server that stops reading makes the socket unwritable;
    # select waits for writability (an event), bounded by the deadline. A server
    # without the cap reads everything: then it holds every answer already.
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        if off == len(data):
            if client_outq(s) == 0 and server_rx_queue(addr[1], client_port) == 0:
                break
            select.select([], [], [], min(left, 0.02))
            continue
        _, w, _ = select.select([], [s], [], min(left, 0.2))
        if not w:
            continue
        try:
            off += s.send(data[off:off + 262144])
        except BlockingIOError:
            pass
    growth = rss_kb(pid) - before
    sent_first = off
    # Phase 2: read everything, sending the rest as the socket takes it.
    got = bytearray()
    statuses = []
    end = time.monotonic() + 120
    while len(statuses) < len(reqs):
        assert time.monotonic() < end, f"only {len(statuses)} of {len(reqs)} answers in 120 s"
        r, w, _ = select.select([s], [s] if off < len(data) else [], [], 1.0)
        if w:
            try:
                off += s.send(data[off:off + 262144])
            except BlockingIOError:
                pass
        if r:
            chunk = s.recv(1 << 20)
            assert chunk, f"the connection closed after {len(statuses)} answers"
            got += chunk
            more, used = parse_answers(got)
            statuses += more
            del got[:used]
    s.close()
    return growth, statuses, sent_first


def edge_pid(g):
    ip = g.lb_ip
    for p in game_processes(g.pgid, g.out):
        if " edge " in f" {p.cmdline} " and f"{ip}:9901" in p.cmdline:
            return p.pid
    raise AssertionError(f"no edge process for {ip}")


def check(name, growth, statuses, want, sent_first):
    print(f"{name}: RSS +{growth} kB while flooded ({sent_first} bytes of requests sent "
          f"before reading), {len(statuses)} answers")
    assert growth < MAX_GROWTH_KB, \
        f"{name} buffered its answers to a client that does not read: RSS +{growth} kB"
    assert len(statuses) == len(want)
    bad = [i for i, (a, b) in enumerate(zip(statuses, want)) if a != b]
    assert not bad, f"{name}: answers out of order from #{bad[0]}: got {statuses[bad[0]:][:8]}, " \
                    f"want {want[bad[0]:][:8]}"


def answer_of(url):
    """(status, body length) of one plain GET."""
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, len(r.read())
    except urllib.error.HTTPError as e:
        return e.code, len(e.read())


def test_api_stops_reading_a_client_that_does_not_read(game):
    pid = json.loads((game.out / "game.json").read_text())["server_pid"]
    # A small JSON answer, a 5.7 kB static file and a 404.
    paths = ["/api/v1/health", "/style.css", "/nope"]
    expect = [answer_of(f"http://127.0.0.1:{game.port}{p}") for p in paths]
    assert len({a for a in expect}) == len(paths), expect
    reqs, which = pipeline(paths, 100000, f"127.0.0.1:{game.port}")
    growth, statuses, sent = flood_then_read(("127.0.0.1", game.port), reqs, pid, FLOOD_SECONDS)
    want = [expect[w] for w in which]
    check("the API server", growth, statuses, want, sent)


def test_edge_stops_reading_a_client_that_does_not_read(game):
    pid = edge_pid(game)
    host, port = hostport(game.endpoint)
    # Two fixed responses of the alb's rules (1000 bytes, 1 byte): the edge answers
    # them itself.
    reqs, which = pipeline(["/fixed/a", "/fixed/b"], 200000, f"{host}:{port}")
    growth, statuses, sent = flood_then_read((host, port), reqs, pid, FLOOD_SECONDS)
    want = [((200, 1000), (403, 1))[w] for w in which]
    check("the edge", growth, statuses, want, sent)
