"""The managed cache_cluster (ElastiCache for Redis, doc/resources.md#cache_cluster) on the
real binaries and Debian's redis-server: a primary in zone a and a replica in zone b
(multi_az) behind a primary and a reader endpoint on the game's nat, which only the
shops' security group may use; two MyClothes.com shops keep their sessions in it
(`session_store: sessions`). Carts survive an instance's loss; a kill -9 of the primary
fails over to the replica, the endpoint moves, the shop answers again, and the carts
lost to asynchronous replication are counted; the nat refuses the sources the security
group does not allow, and a node's own address wants the password; bad specs are
refused; the time from create to available is measured. Addresses: 127.232.0.0/16
(net 232).

The tests share one game and run in order: later ones read the cluster's roles as the
earlier ones left them."""

import json
import os
import re
import shutil
import signal
import socket
import threading
import time
from http.client import HTTPConnection

import pytest

from conftest import http, live, proc_info, scenario_path, shared_game, wait_until

NET = 232
SPEED = 60
OTHER_TEAM_IP = f"127.{NET + 1}.0.10"  # what team 2's first instance would have
NAT_ADMIN = f"127.{NET}.255.52:9052"

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None,
                                reason="redis-server is not installed "
                                       "(scripts/install-deps.sh installs it)")


@pytest.fixture(scope="module")
def game(tmp_path_factory):
    yield from shared_game(tmp_path_factory, scenario_path("cache_cluster.yaml"), "cache",
                           port=18632, speed=SPEED, net=NET, customers=False)


# ---------------------------------------------------------------------------- helpers


def res(g, name):
    return g.get(f"/resources/{name}")


def status(g, name="sessions"):
    return res(g, name)["status"]


def node(st, role):
    return next(n for n in st["nodes"] if n["role"] == role)


def available(g, name="sessions", timeout=30):
    return g.wait_until(lambda: (lambda s: s if s.get("state") == "available" else None)(
        status(g, name)), timeout, f"cache_cluster {name} available")


def hp(addr):
    ip, port = addr.rsplit(":", 1)
    return ip, int(port)


def resp(*args):
    """A command as RESP writes it."""
    out = f"*{len(args)}\r\n".encode()
    for a in args:
        a = str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def exchange(addr, payload, source=None, want=1, timeout=2.0):
    """Sends payload to addr (from source when given) and returns what came back: at
    most `want` lines, or less if the peer closed first (b"" when it closed at once)."""
    s = socket.socket()
    try:
        if source:
            s.bind((source, 0))
        s.settimeout(timeout)
        s.connect(hp(addr))
        s.sendall(payload)
        data = b""
        while data.count(b"\r\n") < want:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
        return data
    finally:
        s.close()


def redis(addr, password, *cmd, source=None):
    """One command to a node with AUTH first; the reply's first line, as text."""
    pre = resp("AUTH", password) if password else b""
    data = exchange(addr, pre + resp(*cmd), source=source, want=2 if password else 1)
    lines = data.split(b"\r\n")
    if password:
        assert lines[0] == b"+OK", data
        lines = lines[1:]
    return lines[0].decode(errors="replace")


def redis_bulk(addr, password, *cmd, source=None):
    """A command whose answer is a bulk string (INFO, GET): its text, or None."""
    s = socket.create_connection(hp(addr), timeout=2,
                                 source_address=(source, 0) if source else None)
    try:
        s.sendall(resp("AUTH", password) + resp(*cmd))
        data = b""
        while True:
            data += s.recv(65536)
            if not data.startswith(b"+OK\r\n"):
                raise AssertionError(data)
            rest = data[5:]
            if rest.startswith(b"$-1\r\n"):
                return None
            m = re.match(rb"\$(\d+)\r\n", rest)
            if m and len(rest) >= m.end() + int(m.group(1)):
                return rest[m.end():m.end() + int(m.group(1))].decode()
    finally:
        s.close()


def info(addr, password, section):
    text = redis_bulk(addr, password, "INFO", section)
    return dict(l.split(":", 1) for l in text.splitlines() if ":" in l and not l.startswith("#"))


def nat_map(ip):
    st = json.loads(http("GET", f"http://{NAT_ADMIN}/stats").body)
    return next(m for m in st["maps"] if m["ip"] == ip)


def lb(g):
    st = status(g, "shop-lb")
    return f"{st['ip']}:{st['port']}"


class Shopper:
    """One browser: a cookie jar."""

    def __init__(self, base):
        self.base = base
        self.jar = {}

    def call(self, method, path, body=None, timeout=10):
        host, port = hp(self.base)
        c = HTTPConnection(host, port, timeout=timeout)
        headers = {}
        if self.jar:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.jar.items())
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            c.request(method, path, body=data, headers=headers)
            r = c.getresponse()
            raw = r.read()
            hdrs = dict((k.lower(), v) for k, v in r.getheaders())
        finally:
            c.close()
        if "set-cookie" in hdrs:
            name, _, value = hdrs["set-cookie"].split(";")[0].partition("=")
            self.jar[name] = value
        return r.status, hdrs, raw

    def add(self, product, qty=1):
        return self.call("POST", "/cart/items", {"product": product, "qty": qty})

    def cart(self):
        st, h, raw = self.call("GET", "/cart")
        return st, h, (json.loads(raw) if st == 200 else raw)


def shop_ready(g):
    """Until the load balancer's shops answer and keep a cart in Redis."""
    base = lb(g)
    u = Shopper(base)
    g.wait_until(lambda: u.add(1)[0] == 200, 30, "a cart add through the load balancer")
    return base


# ---------------------------------------------------------------------------- the tests


def test_real_redis_servers_placed_across_zones_behind_their_endpoints(game):
    st = available(game)
    assert st["create_wall_ms"] > 0
    print(f"\nscenario's cluster (1 primary + 1 replica): create -> available "
          f"{st['create_wall_ms']} wall ms (measured by the server)")
    prim, rep = node(st, "primary"), node(st, "replica")
    assert (prim["az"], prim["subnet"]) == ("a", "private-a"), prim
    assert (rep["az"], rep["subnet"]) == ("b", "private-b"), rep
    assert prim["ip"].startswith(f"127.{NET}.1.") and rep["ip"].startswith(f"127.{NET}.2."), st
    assert prim["state"] == rep["state"] == "available"
    pw = st["auth_token"]
    assert re.fullmatch(r"[0-9a-f]{64}", pw)
    cid = res(game, "sessions")["id"]
    for n in (prim, rep):
        p = proc_info(n["pid"])
        assert live(p) and p.cmdline.startswith("/usr/bin/redis-server"), p
        assert f"{n['ip']}:{n['port']}" in p.cmdline, p
        assert pw not in p.cmdline
        d = game.out / "redis" / f"{cid}-{n['num']:03d}"
        conf = d / "redis.conf"
        assert oct(conf.stat().st_mode & 0o777) == "0o600", conf
        assert f"requirepass {pw}" in conf.read_text()
    # the real thing: PING, replication, a write on the primary read on the replica
    assert redis(f"{prim['ip']}:6379", pw, "PING") == "+PONG"
    ri = info(f"{rep['ip']}:6379", pw, "replication")
    assert (ri["role"], ri["master_host"], ri["master_link_status"]) == \
        ("slave", prim["ip"], "up"), ri
    assert redis(f"{prim['ip']}:6379", pw, "SET", "probe", "42") == "+OK"
    wait_until(lambda: redis_bulk(f"{rep['ip']}:6379", pw, "GET", "probe") == "42", 5,
               "the write replicated")
    assert info(f"{prim['ip']}:6379", pw, "memory")["maxmemory"] == "536870912"  # t3.micro
    # the endpoints are addresses of their own, the nat forwards them
    pe, re_ = hp(st["primary_endpoint"]), hp(st["reader_endpoint"])
    assert pe[0].startswith(f"127.{NET}.1.") and pe[0] not in (prim["ip"], rep["ip"]), st
    assert nat_map(pe[0])["to"] == [f"{prim['ip']}:6379"]
    assert nat_map(re_[0])["to"] == [f"{rep['ip']}:6379"]
    assert nat_map(pe[0])["acl"] and nat_map(pe[0])["close_on_move"]
    # a start is not a loss: nothing was told or audited as one
    assert not [e for e in game.get("/score/events?limit=0") if "cache_cluster" in e["reason"]]
    assert not [a for a in game.audit() if a["principal"] == "elasticache"]


def test_bad_cluster_specs_are_refused_and_change_nothing(game):
    before = game.get("/resources?type=cache_cluster")
    bad = [
        ({"subnets": ["private-a"], "multi_az": True},
         "field 'multi_az': a Multi-AZ cluster needs a replica in another zone to fail over to "
         "(replicas is 0) (allowed: false with replicas: 0, or replicas 1..5)"),
        ({"subnets": ["private-a"], "replicas": 1, "multi_az": True},
         "field 'subnets': every subnet is in zone a: a Multi-AZ cluster keeps a replica in "
         "another zone (allowed: subnets in at least two availability zones with multi_az: "
         "true)"),
        ({"subnets": ["private-a"], "replicas": 9},
         "field 'replicas': 9 is out of range (allowed: an integer 0..5)"),
        ({"subnets": ["private-a"], "node_type": "cache.x9.huge"},
         "field 'node_type': \"cache.x9.huge\" is not one of the allowed values (allowed: "
         "cache.t3.micro, cache.t3.small, cache.m5.large, cache.r5.large)"),
        ({"subnets": ["nowhere"]}, "field 'subnets[0]': no subnet named 'nowhere'"),
        ({"subnets": ["private-a"], "automatic_failover": True},
         "field 'automatic_failover': automatic failover needs a replica to promote"),
    ]
    for spec, want in bad:
        r = game.call("POST", "/resources", {"type": "cache_cluster", "name": "bad", "spec": spec})
        assert r.status == 400, (spec, r)
        err = r.json()["error"]
        assert err["code"] == "ValidationError", err
        assert any(want in e for e in err.get("errors", [err["message"]])), (want, err)
    r = game.call("POST", "/resources", {"type": "launch_template", "name": "shop2", "spec": {
        "service": "clothes", "sessions": "redis", "session_store": "carts"}})
    assert r.status == 400, r
    assert "no cache_cluster named 'carts' (allowed: IP:PORT, or a cache_cluster: sessions)" in \
        json.dumps(r.json()), r
    r = game.call("DELETE", "/resources/sessions")
    assert r.status == 409 and "launch_template shop" in r.json()["error"]["message"], r
    assert game.get("/resources?type=cache_cluster") == before or \
        [c["id"] for c in game.get("/resources?type=cache_cluster")] == [c["id"] for c in before]
    refused = [a for a in game.audit() if a["eventName"] == "CreateResource" and a["errorCode"]]
    assert len(refused) >= len(bad) + 1


def test_create_to_available_times(game):
    """Creates a 1-node cluster, then a primary and a replica, and measures each from the
    API's answer to state available (polling every 20 ms), then deletes them: their
    processes stop and the nat forgets their endpoints."""
    timings = {}
    for name, spec in (("solo", {"subnets": ["private-a"]}),
                       ("pair", {"subnets": ["private-a", "private-b"], "replicas": 1,
                                 "multi_az": True})):
        t0 = time.monotonic()
        r = game.call("POST", "/resources", {"type": "cache_cluster", "name": name,
                                             "spec": spec})
        assert r.status == 201, r
        st = available(game, name, timeout=20)
        timings[name] = (time.monotonic() - t0, st["create_wall_ms"])
        assert len(st["nodes"]) == 1 + spec.get("replicas", 0)
    print("\ncreate -> available (wall): " + ", ".join(
        f"{n}: {t * 1000:.0f} ms seen by the test, {w} ms by the server"
        for n, (t, w) in timings.items()))
    assert not [e for e in game.get("/score/events?limit=0") if "solo" in e["reason"] or
                "pair" in e["reason"]], "a first start is no loss"
    for name, (t, w) in timings.items():
        assert t < 10, f"{name} took {t:.1f} s"
        assert w <= t * 1000 + 50, (name, t, w)
    for name in timings:
        st = status(game, name)
        pids = [n["pid"] for n in st["nodes"]]
        ep = hp(st["primary_endpoint"])[0]
        assert game.call("DELETE", f"/resources/{name}").status == 200
        game.wait_until(lambda: not any(live(proc_info(p)) for p in pids), 10,
                        f"{name}'s redis-servers to stop")
        game.wait_until(lambda: all(m["ip"] != ep for m in json.loads(
            http("GET", f"http://{NAT_ADMIN}/stats").body)["maps"]), 10,
                        f"the nat to forget {name}'s endpoint")


def test_security_groups_at_the_nat_and_the_password_on_the_nodes(game):
    st = available(game)
    pw, ep, reader = st["auth_token"], st["primary_endpoint"], st["reader_endpoint"]
    shop_ip = status(game, "s1")["ip"]
    denied0 = nat_map(hp(ep)[0])["denied"]
    # Sources cache-sg does not let in: closed before a byte, nothing answers.
    for src in (None, f"127.{NET}.1.200", OTHER_TEAM_IP):
        assert exchange(ep, resp("PING"), source=src) == b"", f"from {src or '127.0.0.1'}"
    assert nat_map(hp(ep)[0])["denied"] == denied0 + 3
    log = (game.out / "logs" / "nat.log").read_text()
    assert re.search(rf"ev=denied from={re.escape(OTHER_TEAM_IP)}|ev=denied from=127\.", log), log
    # The shops' address (shop-sg) is let in, and Redis wants the password.
    assert exchange(ep, resp("PING"), source=shop_ip).startswith(b"-NOAUTH"), "no AUTH"
    assert redis(ep, pw, "PING", source=shop_ip) == "+PONG"
    # The reader endpoint reaches the replica: it reads, and refuses writes.
    assert redis(reader, pw, "SET", "x", "1", source=shop_ip).startswith("-READONLY")
    # A node's own address is internal: no security group there, the password keeps
    # another team out.
    prim = node(st, "primary")
    addr = f"{prim['ip']}:{prim['port']}"
    assert exchange(addr, resp("GET", "sess:x"), source=OTHER_TEAM_IP).startswith(b"-NOAUTH")
    assert exchange(addr, resp("AUTH", "guess") + resp("GET", "sess:x"),
                    source=OTHER_TEAM_IP).startswith(b"-WRONGPASS")


def test_carts_survive_an_instance_loss(game):
    base = shop_ready(game)
    u = Shopper(base)
    for p in (11, 12, 13):
        assert u.add(p)[0] == 200
    want = [11, 12, 13]
    s1 = res(game, "s1")
    r = game.call("POST", "/instances/s1/terminate", {"force": True})
    assert r.status == 200, r
    game.wait_until(lambda: not live(proc_info(s1["status"]["pid"])), 10, "s1 gone")
    served, ok = set(), 0
    for _ in range(20):
        code, h, cart = u.cart()
        if code != 200:
            continue  # a 502 while the load balancer learns that s1 is gone
        assert "x-session" not in h, f"a new session: the cart was lost ({h})"
        assert [i["product"] for i in cart["items"]] == want, cart
        served.add(h["x-instance-id"])
        ok += 1
    assert ok >= 5 and served == {res(game, "s2")["id"]}, (ok, served)


def test_kill_9_of_the_primary_fails_over_and_the_shop_answers_again(game):
    base = shop_ready(game)
    st = available(game)
    prim, rep = node(st, "primary"), node(st, "replica")
    # a client of the reader endpoint (on the replica) holds its connection meanwhile
    held = socket.socket()
    held.bind((status(game, "s2")["ip"], 0))
    held.settimeout(3)
    held.connect(hp(st["reader_endpoint"]))
    held.sendall(resp("AUTH", st["auth_token"]) + resp("PING"))
    assert held.recv(100) == b"+OK\r\n+PONG\r\n"
    reader_moved0 = nat_map(hp(st["reader_endpoint"])[0])["moved"]
    shoppers = [Shopper(base) for _ in range(8)]
    for u in shoppers:
        assert u.add(1)[0] == 200
    acked = [[] for _ in shoppers]  # (product, wall time of the answer)
    errors = []  # wall times of answers other than 200
    stop = threading.Event()
    killed_at = [None]

    def shop(k, u):
        p = 2
        while not stop.is_set() and p <= 200:
            try:
                code = u.add(p)[0]
            except OSError:
                code = 0
            now = time.monotonic()
            if code == 200:
                acked[k].append((p, now))
                p += 1
                time.sleep(0.02)  # the shopper's think time
            else:
                errors.append(now)
                time.sleep(0.01)  # a shopper who got an error page clicks again

    threads = [threading.Thread(target=shop, args=(k, u)) for k, u in enumerate(shoppers)]
    for t in threads:
        t.start()
    try:
        wait_until(lambda: min(len(a) for a in acked) >= 5, 10, "every shopper adding")
        killed_at[0] = time.monotonic()
        os.kill(prim["pid"], signal.SIGKILL)
        # until every shopper got a 200 after the kill: the shop answers again
        wait_until(lambda: all(a and a[-1][1] > killed_at[0] + 0.05 for a in acked), 20,
                   "every shopper served again after the kill")
    finally:
        stop.set()
        for t in threads:
            t.join(15)
    st2 = game.wait_until(lambda: (lambda s: s if s.get("last_failover", {}).get("from") ==
                                   prim["id"] else None)(status(game)), 10, "the failover")
    lf = st2["last_failover"]
    assert lf["to"] == rep["id"] and lf["reason"] == "the primary's process was lost", lf
    assert node(st2, "primary")["id"] == rep["id"]
    assert nat_map(hp(st["primary_endpoint"])[0])["to"] == [f"{rep['ip']}:6379"]
    # what the shoppers lost: items the shop acknowledged (200) that the cart no longer has
    lost, late, total = 0, 0, 0
    for k, u in enumerate(shoppers):
        code, h, cart = u.cart()
        assert code == 200, cart
        have = {i["product"] for i in cart["items"]} if "x-session" not in h else set()
        for p, t in acked[k]:
            total += 1
            late += killed_at[0] - 1.0 < t <= killed_at[0]
            lost += p not in have
    window = (max(errors) - min(errors)) if errors else 0.0
    print(f"\nfailover {lf['from']} -> {lf['to']}: {lf['duration_s']:.1f} game s, "
          f"{lf['wall_ms']} wall ms; shop errors: {len(errors)} answers over {window:.2f} wall s; "
          f"carts: {total} acknowledged adds, {lost} lost ({late} acknowledged in the last "
          f"wall second before the kill)")
    # Replication is asynchronous: what the primary acknowledged and had not yet sent to
    # the replica is gone. On loopback that is at most the last moments before the kill.
    assert lost <= late, (lost, late, total)
    audit = game.audit()
    fo = [a for a in audit if a["eventName"] == "FailoverReplicationGroup"]
    assert fo and fo[-1]["principal"] == "elasticache", fo
    events = [e["reason"] for e in game.get("/score/events?limit=0")]
    assert any(f"primary failed over from {prim['id']} to {rep['id']} in" in e for e in events), \
        events[-10:]
    # the old primary's node comes back as a replica of the new primary, empty then synced
    st3 = available(game, timeout=30)
    back = next(n for n in st3["nodes"] if n["id"] == prim["id"])
    assert back["role"] == "replica" and back["pid"] != prim["pid"], back
    ri = info(f"{back['ip']}:6379", st3["auth_token"], "replication")
    assert (ri["master_host"], ri["master_link_status"]) == (rep["ip"], "up"), ri
    # the reader endpoint moved off the promoted node (now the primary) to the new
    # replica: the connection held through it was closed, as a failover drops clients
    assert nat_map(hp(st["reader_endpoint"])[0])["to"] == [f"{back['ip']}:6379"]
    assert nat_map(hp(st["reader_endpoint"])[0])["moved"] >= reader_moved0 + 1
    try:
        assert held.recv(100) == b"", "the held reader connection was closed"
    except ConnectionResetError:
        pass
    held.close()


def test_test_failover_and_the_chaos_actions(game):
    st = available(game)
    prim, rep = node(st, "primary"), node(st, "replica")
    r = game.ctl("failover", "sessions")  # POST /api/v1/cache_clusters/sessions/failover
    assert '"name": "sessions"' in r.stdout or "sessions" in r.stdout, r.stdout
    st2 = game.wait_until(lambda: (lambda s: s if s.get("last_failover", {}).get(
        "reason") == "TestFailover by team-1" else None)(status(game)), 10, "the test failover")
    assert (st2["last_failover"]["from"], st2["last_failover"]["to"]) == (prim["id"], rep["id"])
    assert any(a["eventName"] == "TestFailover" and a["principal"] == "team-1" and
               not a["errorCode"] for a in game.audit())
    assert game.call("POST", "/cache_clusters/nosuch/failover").status == 404
    # a cluster without automatic failover cannot be tested so
    assert game.call("POST", "/resources", {"type": "cache_cluster", "name": "plain",
                                            "spec": {"subnets": ["private-a"]}}).status == 201
    available(game, "plain")
    r = game.call("POST", "/cache_clusters/plain/failover")
    assert r.status == 400 and "has no automatic failover" in r.json()["error"]["message"], r
    # ...and when its primary dies, it starts again empty: its data is gone
    pst = status(game, "plain")
    paddr = f"{pst['nodes'][0]['ip']}:6379"
    assert redis(paddr, pst["auth_token"], "SET", "k", "v") == "+OK"
    os.kill(pst["nodes"][0]["pid"], signal.SIGKILL)
    game.wait_until(lambda: status(game, "plain")["nodes"][0]["pid"] not in
                    (0, pst["nodes"][0]["pid"]), 10, "plain's primary restarted")
    available(game, "plain")
    assert redis_bulk(paddr, pst["auth_token"], "GET", "k") is None, "no persistence"
    assert any("plain: primary plain-001 lost and automatic failover is off" in e["reason"]
               for e in game.get("/score/events?limit=0"))
    assert game.call("DELETE", "/resources/plain").status == 200

    # chaos: a replica's loss (FIS), then its zone's power
    st = available(game)
    rep = node(st, "replica")
    tmpl = {"type": "experiment_template", "name": "lose-replica", "spec": {
        "targets": {"c": {"resourceType": "aws:elasticache:replicationgroup",
                          "resourceIds": ["sessions"]}},
        "actions": {"kill": {"actionId": "gameday:elasticache:node-loss",
                             "parameters": {"role": "replica"},
                             "targets": {"ReplicationGroups": "c"}}}}}
    assert game.call("POST", "/resources", tmpl).status == 201
    assert game.call("POST", "/experiment_templates/lose-replica/start").status == 201
    game.wait_until(lambda: (lambda n: n["pid"] not in (0, rep["pid"]) and
                             n["state"] == "available")(
        next(n for n in status(game)["nodes"] if n["id"] == rep["id"])), 20,
        "the replica killed and started again")
    assert node(status(game), "primary")["id"] == node(st, "primary")["id"], "no failover"
    st = available(game)
    prim = node(st, "primary")
    zone = prim["az"]
    tmpl = {"type": "experiment_template", "name": "zone-power", "spec": {
        "targets": {"c": {"resourceType": "aws:elasticache:replicationgroup",
                          "resourceIds": ["sessions"]}},
        "actions": {"power": {"actionId": "aws:elasticache:replicationgroup-interrupt-az-power",
                              "parameters": {"duration": "PT3M", "availabilityZone": zone},
                              "targets": {"ReplicationGroups": "c"}}}}}
    assert game.call("POST", "/resources", tmpl).status == 201
    assert game.call("POST", "/experiment_templates/zone-power/start").status == 201
    during = game.wait_until(lambda: (lambda s: s if s.get("last_failover", {}).get(
        "from") == prim["id"] and node(s, "primary")["az"] != zone else None)(status(game)),
        15, "a failover out of the dark zone")
    assert "lost power" in during["last_failover"]["reason"], during["last_failover"]
    dark = next(n for n in during["nodes"] if n["id"] == prim["id"])
    assert dark["state"] == "failed", dark
    after = available(game, timeout=30)  # power back: the node starts again, as a replica
    assert next(n for n in after["nodes"] if n["id"] == prim["id"])["role"] == "replica"


def test_metrics_alarm_and_bill(game):
    m = game.wait_until(lambda: (lambda x: x if {"CurrConnections", "CacheHits", "CacheMisses",
                                                  "ReplicationLag",
                                                  "DatabaseMemoryUsagePercentage",
                                                  "EngineCPUUtilization"} <= set(x) else None)(
        game.get("/metrics?resource=sessions")), 15, "the cluster's metrics")
    assert m["CurrConnections"] >= 1, m  # the shop's connection
    assert 0 < m["DatabaseMemoryUsagePercentage"] < 100, m
    game.wait_until(lambda: status(game, "cache-conns").get("state") == "ALARM", 20,
                    "the alarm on CurrConnections")
    bill = game.wait_until(lambda: (lambda b: b if any(
        l["line"] == "cache.t3.micro node-hours" and l["quantity"] > 0 for l in b["by_line"])
        else None)(game.get("/bill")), 10, "node-hours on the bill")
    line = next(l for l in bill["by_line"] if l["line"] == "cache.t3.micro node-hours")
    assert line["unit"] == "node-hours" and line["usd"] > 0, line
    # the server's own Prometheus series
    text = http("GET", game.api + "/metrics").body.decode()
    prim = node(status(game), "primary")
    assert f'gameday_cache_node_up{{team="1",cluster="sessions",node="{prim["id"]}",' \
           f'role="primary"}} 1' in text, text
    fo = re.search(r'gameday_cache_failovers_total\{team="1",cluster="sessions"\} (\d+)', text)
    assert fo and int(fo.group(1)) >= 3, "the kill -9, the TestFailover, the zone's power"


def test_more_replicas_a_bigger_node_type_and_fewer_replicas_again(game):
    st = available(game)
    pw = st["auth_token"]
    r = game.call("PATCH", "/resources/sessions", {"spec": {"replicas": 2}})
    assert r.status == 200, r
    st = game.wait_until(lambda: (lambda s: s if len(s["nodes"]) == 3 and
                                  s["state"] == "available" else None)(status(game)), 30,
                         "a third node in sync")
    new = max(st["nodes"], key=lambda n: n["num"])
    assert new["role"] == "replica" and new["num"] == 3, new
    zones = [n["az"] for n in st["nodes"]]
    assert sorted(zones) == ["a", "a", "b"], f"placed where its zone had the fewest: {zones}"
    reps = sorted(f"{n['ip']}:{n['port']}" for n in st["nodes"] if n["role"] == "replica")
    reader = hp(st["reader_endpoint"])[0]
    game.wait_until(lambda: sorted(nat_map(reader)["to"]) == reps, 10,
                    "the reader endpoint over both replicas")
    # round robin per connection: two connections, the two replicas (their run_id)
    shop_ip = status(game, "s2")["ip"]
    ids = set()
    for _ in range(2):
        text = redis_bulk(st["reader_endpoint"], pw, "INFO", "server", source=shop_ip)
        ids.add(re.search(r"run_id:(\w+)", text).group(1))
    assert len(ids) == 2, ids
    # a bigger node type: every running node's maxmemory follows, without a restart
    pids = {n["id"]: n["pid"] for n in st["nodes"]}
    r = game.call("PATCH", "/resources/sessions", {"spec": {"node_type": "cache.t3.small"}})
    assert r.status == 200, r
    for n in st["nodes"]:
        game.wait_until(lambda: info(f"{n['ip']}:6379", pw, "memory")["maxmemory"] ==
                        "1471026299", 10, f"{n['id']}'s maxmemory")
    assert {n["id"]: n["pid"] for n in status(game)["nodes"]} == pids, "no restart"
    # the port and the password stay what the shops were given
    for patch in ({"port": 6380}, {"auth": False}):
        r = game.call("PATCH", "/resources/sessions", {"spec": patch})
        assert r.status == 400 and r.json()["error"]["code"] == "InvalidParameterCombination", r
        assert "keeps the" in r.json()["error"]["message"], r
    assert status(game)["auth_token"] == pw
    # fewer replicas: the newest goes, its process stops
    r = game.call("PATCH", "/resources/sessions", {"spec": {"replicas": 1}})
    assert r.status == 200, r
    game.wait_until(lambda: not live(proc_info(new["pid"])), 10, "the newest replica stopped")
    st = available(game)
    assert [n["num"] for n in st["nodes"] if n["num"] == 3] == [], st["nodes"]
    game.wait_until(lambda: len(nat_map(reader)["to"]) == 1, 10, "one replica behind the reader")


def test_a_restarted_server_adopts_the_nodes(game):
    st = available(game)
    pids = sorted(n["pid"] for n in st["nodes"])
    last = st.get("last_failover")
    spid = game.info["server_pid"]
    os.kill(spid, signal.SIGKILL)
    game.wait_until(lambda: json.loads((game.out / "game.json").read_text())["server_pid"] !=
                    spid, 20, "play to restart the server")
    st2 = game.wait_until(lambda: (lambda s: s if s.get("state") == "available" else None)(
        status(game)), 30, "the cluster, seen by the new server")
    assert sorted(n["pid"] for n in st2["nodes"]) == pids, "the same processes, adopted"
    assert st2.get("last_failover") == last, "no failover for a restart of the server"
    log = (game.out / "logs" / "server.log").read_text()
    assert len(re.findall(r"ev=adopted kind=5 ", log)) == len(pids), "each node adopted"
    shop_ready(game)
