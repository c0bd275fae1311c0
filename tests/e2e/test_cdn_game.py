"""The winning move of the real GameDay, played for real: a CDN with the query string
in its cache key answers hits in about a millisecond and the score rises visibly; a
CDN that ignores the query string serves one key's hash for every key and is
punished. Real binaries: `gameday play` with its server, edges, instances, loadgen."""
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("GAMEDAY_BIN", os.path.join(ROOT, "build", "gameday"))
SCENARIO = os.path.join(ROOT, "tests", "e2e", "scenarios", "cdn.yaml")
SPEED = 60
PORT = 18390
NET = "212"  # team 1 lives at 127.212.0.0/16: no other test uses it
API = "http://127.0.0.1:%d/api/v1" % PORT


def wait_until(pred, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            v = pred()
        except OSError:
            v = None
        if v:
            return v
        time.sleep(0.02)
    pytest.fail("timed out waiting for " + what)


def call(method, path, token=None, body=None):
    req = urllib.request.Request(API + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    if body is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.load(r)


def clock():
    return call("GET", "/status")["clock"]


def customer_points(since, until):
    """Points the customers gave in [since, until) of game time, and their counts."""
    rows = call("GET", "/teams/1/score/events?limit=100000")
    pts = [r["points"] for r in rows if r["source"] == "customers" and since <= r["time"] < until]
    return sum(pts)


def hash_of(key):
    return subprocess.run([BIN, "hash", key, "--scenario", SCENARIO], capture_output=True,
                          text=True, check=True).stdout.strip()


def get(addr, key, sock=None):
    """One keep-alive GET on a raw socket: (status, headers, body, wall seconds)."""
    s = sock or socket.create_connection(addr.split(":") and (addr.split(":")[0],
                                                               int(addr.split(":")[1])))
    t0 = time.perf_counter()
    s.sendall(("GET /?key=%s HTTP/1.1\r\nHost: x\r\n\r\n" % key).encode())
    data = b""
    while b"\r\n\r\n" not in data:
        data += s.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    hdr = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip() for l in lines[1:]}
    n = int(hdr.get("content-length", "0"))
    while len(body) < n:
        body += s.recv(65536)
    return int(lines[0].split()[1]), hdr, body, time.perf_counter() - t0, s


@pytest.fixture
def game(tmp_path):
    out = tmp_path / "game"
    p = subprocess.Popen([BIN, "play", SCENARIO, "--speed", str(SPEED), "--duration", "50m",
                          "--headless", "--out", str(out), "--port", str(PORT), "--net", NET],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         start_new_session=True)
    token = None
    for line in p.stdout:
        if line.startswith("token: "):
            token = line.split()[1]
            break
    assert token, "play printed no token"
    yield token
    if p.poll() is None:
        p.send_signal(signal.SIGINT)
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    p.stdout.close()


def switch_to(token, name):
    """Points customers at name; returns a game time from which every report counts
    only requests that went through it (reports come once a wall second)."""
    call("POST", "/endpoint", token, {"name": name})

    def served():
        m = call("GET", "/metrics?resource=" + name, token)
        return m.get("RequestCount", 0) > 0

    wait_until(served, 10, "customers to reach " + name)
    return clock() + 2 * SPEED


def make_cdn(token, name, query_strings):
    call("POST", "/resources", token, {"type": "cdn", "name": name,
                                       "spec": {"origin": "web-lb",
                                                "query_strings": query_strings}})
    ip = wait_until(lambda: call("GET", "/resources/" + name, token)["status"].get("ip"), 10,
                    "the cdn's address")
    addr = "%s:8080" % ip
    wait_until(lambda: get(addr, "warm")[0] == 200, 10, "the cdn edge to serve")
    return addr


def test_cdn_with_query_string_key_wins_and_without_loses(game):
    token = game
    # Before: every answer takes the unicorn's ~4 s.
    wait_until(lambda: clock() >= 180, 30, "three game minutes of customers")
    t0 = clock()
    wait_until(lambda: clock() >= t0 + 120, 30, "a baseline window")
    before = customer_points(t0, t0 + 120)
    assert before > 0

    cdn = make_cdn(token, "web-cdn", "all")
    status, hdr, body, _, s = get(cdn, "k1")
    assert status == 200 and json.loads(body)["hash"] == hash_of("k1")
    hits = []
    for _ in range(20):
        status, hdr, body, wall, s = get(cdn, "k1", s)
        assert hdr["x-cache"].startswith("Hit"), hdr
        assert json.loads(body)["hash"] == hash_of("k1")
        hits.append(wall)
    s.close()
    hits.sort()
    assert hits[len(hits) // 2] < 0.005, "median hit took %.1f ms" % (hits[len(hits) // 2] * 1e3)

    t1 = switch_to(token, "web-cdn")
    wait_until(lambda: clock() >= t1 + 120, 30, "a window behind the cdn")
    after = customer_points(t1, t1 + 120)
    assert after > 1.3 * before, "customers gave %.0f points behind the cdn vs %.0f" % (after,
                                                                                     before)
    st = call("GET", "/status")["teams"][0]
    assert st["wrong"] == 0
    stats = call("GET", "/metrics?resource=web-cdn", token)
    print("customer points per 2 game minutes: %.0f before, %.0f behind the cdn; median hit "
          "%.2f ms wall; CacheHitRate %.2f" % (before, after, hits[len(hits) // 2] * 1e3,
                                                stats["CacheHitRate"]))
    assert stats["CacheHitRate"] > 0.5, stats

    # ctl prints the datapoints as a table of periods; --json keeps the API's pairs.
    ctl = [BIN, "ctl", "--api", "http://127.0.0.1:%d" % PORT, "--token", token]
    r = subprocess.run(ctl + ["metrics", "web-cdn", "CacheHitRate"], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    rows = r.stdout.splitlines()
    assert rows[0].split() == ["TIME", "VALUE", "STATISTIC", "UNIT"], r.stdout
    assert len(rows) > 2, r.stdout
    for row in rows[1:]:
        t, v, stat, unit = row.split()
        assert ":" in t and 0 <= float(v) <= 1 and stat == "Average" and unit == "None", row
    r = subprocess.run(ctl + ["metrics", "web-cdn", "RequestCount", "--json"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    pairs = json.loads(r.stdout)
    assert pairs and all(len(p) == 2 for p in pairs), r.stdout[:300]

    # A CDN that ignores the query string answers every key with one key's hash.
    make_cdn(token, "bad-cdn", "none")
    t2 = switch_to(token, "bad-cdn")
    wait_until(lambda: clock() >= t2 + 120, 30, "a window behind the bad cdn")
    assert call("GET", "/status")["teams"][0]["wrong"] > 20
    bad = customer_points(t2, t2 + 120)
    print("customer points per 2 game minutes behind the bad cdn: %.0f" % bad)
    assert bad < 0, "wrong hashes were not punished"


def test_the_bill_by_line_and_by_resource(game):
    """GET /bill and `ctl bill`: what the team ran, itemised, adding up to what the
    status says was spent; the cdns' line counts the requests they answered."""
    token = game
    make_cdn(token, "web-cdn", "all")
    t1 = switch_to(token, "web-cdn")
    wait_until(lambda: clock() >= t1 + 180, 30, "three billed minutes behind the cdn")
    wait_until(lambda: any(i["type"] == "cdn" for i in call("GET", "/bill", token)["items"]), 30,
               "a cdn on the bill")
    b = call("GET", "/bill", token)
    spent = call("GET", "/status")["teams"][0]["cost_usd"]
    assert b["team"] == 1 and b["total_usd"] > 0, b
    assert abs(sum(i["usd"] for i in b["items"]) - b["total_usd"]) < 1e-6 * b["total_usd"] + 1e-9
    assert abs(b["total_usd"] - spent) <= 0.05 * spent, (b["total_usd"], spent)
    assert b["points"] == pytest.approx(-b["total_usd"] * b["points_per_dollar"])
    assert 0 < b["share_of_earnings"] < 10, b["share_of_earnings"]
    lines = {l["line"]: l for l in b["by_line"]}
    assert lines["t3.micro on-demand"]["unit"] == "instance-hours"
    assert lines["t3.micro on-demand"]["quantity"] > 0
    assert lines["Classic Load Balancer hours"]["quantity"] > 0
    cdn = lines["CDN requests (per 10,000)"]
    served = call("GET", "/metrics?resource=web-cdn&metric=RequestCount&statistic=Sum"
                  "&period=3600&window=86400", token)["Datapoints"]
    # Billed once a game minute: at most what the cdn has answered since, at least half.
    assert served and 0.5 * served[0]["Sum"] <= cdn["quantity"] * 10000 <= served[0]["Sum"] + 1, (
        cdn, served)
    usd = [l["usd"] for l in b["by_line"]]
    assert usd == sorted(usd, reverse=True), "dearest first"
    names = {r["name"] for r in b["by_resource"]}
    assert {"web-lb", "web-cdn", "legacy-batch"} <= names, names
    ctl = [BIN, "ctl", "--api", "http://127.0.0.1:%d" % PORT, "--token", token, "bill"]
    r = subprocess.run(ctl, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("team-1 bill $"), r.stdout
    assert any(row.split()[:4] == ["LINE", "QUANTITY", "UNIT", "USD"] for row in
               r.stdout.splitlines()), r.stdout
    assert "legacy-batch" in r.stdout and "CDN requests" in r.stdout
