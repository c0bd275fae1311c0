"""The managed database (`db`, doc/resources.md#db) in a real game: real postgres
processes (a primary and a streaming read replica) started by the launcher, the
MyClothes.com shops on them (doc/clothes.md, database mode), pg_hba.conf made from the
security groups so that PostgreSQL itself refuses other sources, product reads on the
replica, the metrics and the bill, a bad spec refused, and a multi-AZ db whose primary
is killed with SIGKILL: the standby is promoted, the endpoint's name moves, the shop
answers again, and the seconds of errors are measured. Addresses: 127.233.0.0/16."""

import json
import os
import re
import signal
import socket
import struct
import subprocess
import time
from http.client import HTTPConnection

import pytest

from conftest import dig, dig_answers, http, scenario_path, shared_game

NET = 233
DNS = f"127.{NET}.255.53"


@pytest.fixture(scope="module")
def game(tmp_path_factory):
    # in a folder postgres (the user postgres, as root) can enter: see shared_game
    yield from shared_game(tmp_path_factory, scenario_path("db.yaml"), "db", port=18233,
                           speed=60, net=NET, customers=False, postgres=True)


# ---------------------------------------------------------------------------- helpers


def db(game, name="orders"):
    return game.get(f"/resources/{name}")


def available(game, name="orders", timeout=30):
    return game.wait_until(lambda: (lambda d: d if d["status"].get("state") == "available"
                                    else None)(db(game, name)), timeout, f"db {name} available")


def node(d, role):
    return next(n for n in d["status"]["nodes"] if n["role"] == role)


def psql(game, node_id, sql):
    """psql over the node's unix socket (the server's way in, as its superuser)."""
    sock = game.out / "pg" / f"{node_id}.s"
    r = subprocess.run(["psql", "-h", str(sock), "-U", "gameday", "-d", "shop", "-Atc", sql],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def startup(src, dst, port, user="shop", database="shop"):
    """A PostgreSQL StartupMessage from address src; the first message the server
    answers: ('R', ...) an authentication request, ('E', fields) an error."""
    s = socket.socket()
    s.settimeout(5)
    try:
        s.bind((src, 0))
        s.connect((dst, port))
        body = struct.pack("!I", 196608) + b"user\0" + user.encode() + b"\0database\0" + \
            database.encode() + b"\0\0"
        s.sendall(struct.pack("!I", len(body) + 4) + body)
        kind = s.recv(1)
        n = struct.unpack("!I", s.recv(4))[0]
        data = b""
        while len(data) < n - 4:
            data += s.recv(n - 4 - len(data))
    finally:
        s.close()
    if kind == b"E":
        return "E", {f[:1].decode(): f[1:].decode() for f in data.split(b"\0") if f}
    return kind.decode(), data


def shop(game, name):
    st = game.get(f"/resources/{name}")["status"]
    return f"{st['ip']}:{st['port']}"


class Shopper:
    def __init__(self, base):
        self.base, self.jar = base, {}

    def call(self, method, path, body=None):
        host, port = self.base.split(":")
        c = HTTPConnection(host, int(port), timeout=10)
        h = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.jar.items())} if self.jar else {}
        data = json.dumps(body).encode() if body is not None else None
        try:
            c.request(method, path, body=data, headers=h)
            r = c.getresponse()
            raw = r.read()
            for k, v in r.getheaders():
                if k.lower() == "set-cookie":
                    n, _, val = v.split(";")[0].partition("=")
                    self.jar[n] = val
            return r.status, (json.loads(raw) if raw else None)
        finally:
            c.close()


def shop_ready(game, name):
    base = shop(game, name)
    game.wait_until(lambda: http("GET", f"http://{base}/products/1").status == 200, 30,
                    f"{name} reading products from the db")
    return base


# ---------------------------------------------------------------------------- tests


def test_a_db_with_a_replica_becomes_available_with_its_endpoint(game):
    d = available(game)
    st = d["status"]
    assert [n["role"] for n in st["nodes"]] == ["primary", "replica"]
    p, r = node(d, "primary"), node(d, "replica")
    assert p["az"] == "a" and r["az"] == "b", "the replica spreads to the second subnet"
    assert p["ip"].startswith(f"127.{NET}.10.") and r["ip"].startswith(f"127.{NET}.11.")
    assert st["endpoint"] == f"{p['ip']}:5432"
    assert st["reader_endpoints"] == [f"{r['ip']}:5432"]
    assert st["address"] == "orders.db.team1.gameday.test"
    for n in (p, r):  # real postgres processes on their own addresses
        cmd = open(f"/proc/{n['pid']}/cmdline", "rb").read().replace(b"\0", b" ").decode()
        assert "postgres -D" in cmd and n["id"] in cmd, cmd
        assert (n["ip"], 5432) in [(ip, port) for ip, port in listeners()], n
    # the endpoint is a name of the team's zone, with RDS's short TTL
    port = 53 if os.geteuid() == 0 else 5353
    ans = dig_answers(dig(DNS, port, st["address"], "A"))
    assert [(a[2], a[3]) for a in ans] == [("A", p["ip"])] and ans[0][1] <= 5, ans
    ans = dig_answers(dig(DNS, port, st["reader_address"], "A"))
    assert [a[3] for a in ans] == [r["ip"]], ans
    # the time a player waits, reported (the create includes the game's one initdb)
    assert 0 < st["create_wall_s"] < 30
    print(f"\ncreate -> available (primary + 1 replica, initdb included): "
          f"{st['create_wall_s'] * 1000:.0f} ms wall")
    log = (game.out / "logs" / "server.log").read_text()
    m = re.search(r"ev=db_template_done ok=1 ms=(\d+)", log)
    assert m, "the template was made once by initdb"
    print(f"initdb of the game's template: {m.group(1)} ms wall")
    assert log.count("ev=db_template_start") == 1


def listeners():
    out = []
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            parts = line.split()
            if parts[3] != "0A":
                continue
            iphex, porthex = parts[1].split(":")
            out.append((".".join(str(b) for b in bytes.fromhex(iphex)[::-1]), int(porthex, 16)))
    return out


def test_checkout_writes_the_order_and_takes_the_stock_in_postgres(game):
    d = available(game)
    p = node(d, "primary")
    base = shop_ready(game, "s1")
    before = int(psql(game, p["id"], "SELECT stock FROM products WHERE id = 17"))
    u = Shopper(base)
    assert u.call("POST", "/cart/items", {"product": 17, "qty": 3})[0] == 200
    assert u.call("POST", "/cart/items", {"product": 18, "qty": 1})[0] == 200
    status, order = u.call("POST", "/checkout")
    assert status == 201, order
    row = psql(game, p["id"], f"SELECT sid, items, total_cents FROM orders WHERE order_id = "
                              f"'{order['order_id']}'")
    sid, items, total = row.split("|")
    assert sid == u.jar["sid"]
    assert sorted((i["product"], i["qty"]) for i in json.loads(items)) == [(17, 3), (18, 1)]
    assert int(total) == order["total_cents"]
    assert int(psql(game, p["id"], "SELECT stock FROM products WHERE id = 17")) == before - 3
    # the shop reads the stock from the database now
    assert u.call("GET", "/products/17")[1]["stock"] == before - 3
    # a cart that wants more than the stock: 409, nothing taken, the cart kept
    assert u.call("POST", "/cart/items", {"product": 17, "qty": 99})[0] == 200
    psql(game, p["id"], "UPDATE products SET stock = 5 WHERE id = 17")
    status, err = u.call("POST", "/checkout")
    assert status == 409 and "out of stock" in err["error"], err
    assert int(psql(game, p["id"], "SELECT stock FROM products WHERE id = 17")) == 5
    assert u.call("GET", "/cart")[1]["items"][0]["qty"] == 99


def test_pg_hba_from_the_security_groups_refuses_other_sources(game):
    d = available(game)
    p = node(d, "primary")
    s1 = game.get("/resources/s1")["status"]["ip"]
    kind, err = startup("127.0.0.1", p["ip"], 5432)
    assert kind == "E" and err["C"] == "28000", err
    assert 'no pg_hba.conf entry for host "127.0.0.1"' in err["M"], err
    # an address of the team that is not in the shop's group: refused too
    kind, err = startup(f"127.{NET}.1.200", p["ip"], 5432)
    assert kind == "E" and f'host "127.{NET}.1.200"' in err["M"], err
    # the shop's own address is let in (PostgreSQL asks for the password)
    assert startup(s1, p["ip"], 5432)[0] == "R"
    assert startup(s1, node(d, "replica")["ip"], 5432)[0] == "R"
    # a rule for 127.0.0.1 reaches pg_hba.conf and postgres reloads it
    sg = game.get("/resources/db-sg")["spec"]["ingress"]
    r = game.call("PATCH", "/resources/db-sg",
                  {"spec": {"ingress": sg + [{"from": "127.0.0.1/32", "port": 5432}]}})
    assert r.status == 200, r
    game.wait_until(lambda: startup("127.0.0.1", p["ip"], 5432)[0] == "R", 20,
                    "pg_hba.conf regenerated and reloaded")
    assert game.call("PATCH", "/resources/db-sg", {"spec": {"ingress": sg}}).status == 200
    game.wait_until(lambda: startup("127.0.0.1", p["ip"], 5432)[0] == "E", 20,
                    "the rule taken away again")


def test_reads_from_the_replicas_go_to_the_replica_and_its_lag_is_reported(game):
    d = available(game)
    p, r = node(d, "primary"), node(d, "replica")
    base = shop_ready(game, "s2")  # its template says read_from: replicas

    def commits(n):
        return int(psql(game, n["id"], "SELECT xact_commit FROM pg_stat_database "
                                       "WHERE datname = 'shop'"))

    r0, p0 = commits(r), commits(p)
    for i in range(30):
        assert http("GET", f"http://{base}/products/{i + 1}").status == 200
    # a backend reports its counts when idle, within PostgreSQL's 10 s stats interval
    r1 = game.wait_until(lambda: (lambda c: c if c - r0 >= 30 else None)(commits(r)), 25,
                         "the replica's pg_stat_database counting the 30 reads")
    p1 = commits(p)
    assert p1 - p0 < 30, f"the primary did not: {p0} -> {p1}"
    # a change on the primary reaches the replica by streaming replication
    psql(game, p["id"], "UPDATE products SET price_cents = 4242 WHERE id = 3")
    game.wait_until(lambda: http("GET", f"http://{base}/products/3").json()["price_cents"] == 4242,
                    20, "the replica replayed the change")
    m = game.wait_until(lambda: (lambda x: x if "ReplicaLag" in x and "CPUUtilization" in x
                                 else None)(game.get("/metrics?resource=orders")), 20,
                        "the db's metrics")
    assert m["ReplicaLag"] >= 0 and 0 <= m["CPUUtilization"] <= 100, m
    assert m["DatabaseConnections"] >= 1, m
    assert "replication_lag_s" in node(db(game), "replica")


def test_the_bill_has_db_instance_hours(game):
    game.wait_until(lambda: any(l["line"] == "db.t3.micro instance-hours"
                                for l in game.get("/bill")["by_line"]), 30, "a db bill line")
    lines = {l["line"]: l for l in game.get("/bill")["by_line"]}
    assert lines["db.t3.micro instance-hours"]["usd"] > 0
    assert "db storage GB-months" in lines


def test_a_bad_db_spec_is_refused_with_a_clear_error_and_nothing_made(game):
    r = game.call("POST", "/resources", {"type": "db", "name": "one-zone",
                                         "spec": {"subnets": ["data-a", "private-a"],
                                                  "multi_az": True}})
    assert r.status == 400, r
    msg = r.json()["error"]["message"] + json.dumps(r.json()["error"].get("errors"))
    assert "multi_az needs a subnet in a second availability zone" in msg, msg
    r = game.call("POST", "/resources", {"type": "db", "name": "big",
                                         "spec": {"subnets": ["data-a"], "read_replicas": 9,
                                                  "instance_class": "db.x9.huge"}})
    assert r.status == 400, r
    text = json.dumps(r.json())
    assert "read_replicas" in text and "0..5" in text and "db.t3.micro" in text, text
    names = [x["name"] for x in game.get("/resources?type=db")]
    assert names == ["orders"], names
    r = game.call("POST", "/dbs/orders/failover")
    assert r.status == 400 and r.json()["error"]["code"] == "InvalidParameterCombination", r


def start_experiment(game, name, action, params, key="DBInstances"):
    r = game.call("POST", "/resources", {"type": "experiment_template", "name": name, "spec": {
        "targets": {"dbs": {"resourceType": "aws:rds:db", "resourceIds": ["orders"]}},
        "actions": {"a": {"actionId": action, "targets": {key: "dbs"},
                          "parameters": params}}}})
    assert r.status == 201, r
    r = game.call("POST", f"/experiment_templates/{name}/start", {})
    assert r.status == 201, r
    return r.json()["id"]


def experiment_state(game, eid):
    return game.get(f"/resources/{eid}")["status"]["state"]


def test_replica_lag_chaos_pauses_replay_and_stale_reads_are_measured(game):
    d = available(game)
    p = node(d, "primary")
    base = shop_ready(game, "s2")
    eid = start_experiment(game, "lag", "gameday:rds:replica-lag", {"duration": "PT10M"})
    game.wait_until(lambda: "paused=1" in (game.out / "logs" / "server.log").read_text(), 20,
                    "replay paused on the replica")
    psql(game, p["id"], "UPDATE products SET price_cents = 777 WHERE id = 9")
    # the replica serves the old price while paused, and its lag grows
    lagged = game.wait_until(lambda: (lambda n: n if n["replication_lag_s"] > 30 else None)(
        node(db(game), "replica")), 30, "the replica's lag over 30 game seconds")
    assert http("GET", f"http://{base}/products/9").json()["price_cents"] != 777
    game.wait_until(lambda: game.get("/metrics?resource=orders").get("ReplicaLag", 0) > 30, 20,
                    "ReplicaLag in the metric store")
    # 10 game minutes later the experiment ends and replay resumes
    game.wait_until(lambda: experiment_state(game, eid) == "completed", 30, "the experiment over")
    game.wait_until(lambda: http("GET", f"http://{base}/products/9").json()["price_cents"] == 777,
                    20, "the replica caught up")
    game.wait_until(lambda: node(db(game), "replica")["replication_lag_s"] < 5, 20, "lag gone")
    print(f"\nreplica lag reached {lagged['replication_lag_s']:.0f} game s under the experiment")
    assert any(a["eventName"] == "InjectFault" and a["principal"] == "fis"
               for a in game.audit())


def test_connection_exhaustion_chaos_holds_real_connections(game):
    d = available(game)
    p = node(d, "primary")

    def held():
        return int(psql(game, p["id"], "SELECT count(*) FROM pg_stat_activity WHERE "
                                       "application_name = 'gameday-fis-hold'"))

    eid = start_experiment(game, "hog", "gameday:rds:connection-exhaustion",
                           {"duration": "PT10M", "connections": 12})
    game.wait_until(lambda: held() == 12, 20, "12 connections held by the experiment")
    game.wait_until(lambda: game.get("/metrics?resource=orders").get("DatabaseConnections", 0)
                    >= 12, 20, "DatabaseConnections counting them")
    game.wait_until(lambda: experiment_state(game, eid) == "completed", 30, "the experiment over")
    game.wait_until(lambda: held() == 0, 20, "the connections closed")


def shop_metric(base, name, **labels):
    want = name + "{" + ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in http("GET", f"http://{base}/metrics").body.decode().splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    raise KeyError(want)


def hammer(base, seconds, threads=24):
    """Product reads from `threads` clients at once for `seconds`: (ok, errors)."""
    import threading
    stop = time.monotonic() + seconds
    counts = {"ok": 0, "err": 0}
    lock = threading.Lock()

    def worker(k):
        host, port = base.split(":")
        c = HTTPConnection(host, int(port), timeout=10)
        while time.monotonic() < stop:
            try:
                c.request("GET", f"/products/{1 + (k * 7) % 200}")
                r = c.getresponse()
                r.read()
                ok = r.status == 200
            except OSError:
                c.close()
                c = HTTPConnection(host, int(port), timeout=10)
                ok = False
            with lock:
                counts["ok" if ok else "err"] += 1
        c.close()

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return counts["ok"], counts["err"]


def peak(game, db_name, metric, since):
    pts = game.get(f"/metrics?resource={db_name}&metric={metric}&since={since}")
    return max((v for _, v in pts), default=0.0)


def test_a_read_heavy_phase_fills_the_dbs_slots_and_replicas_take_it_off(game):
    """The db's CPU is its query slots: a read-heavy phase on the primary fills them
    (CPUUtilization near 100 %, transactions queue, the shop's p99 grows); the same
    phase read from two replicas leaves the primary idle, and with twice the slots the
    reads wait less."""
    for body in (
        {"type": "db", "name": "cpu", "spec": {"subnets": ["data-a", "data-b"],
                                               "read_replicas": 2, "query_time": "600ms",
                                               "security_groups": ["db-sg"]}},
        {"type": "launch_template", "name": "shop-cpu",
         "spec": {"service": "clothes", "database": "cpu", "db_pool": 16, "slots": 40,
                  "queue": 400, "service_time": "100ms", "boot_time": "0s",
                  "security_groups": ["shop-sg"]}},
        {"type": "launch_template", "name": "shop-cpu-ro",
         "spec": {"service": "clothes", "database": "cpu", "db_pool": 16, "slots": 40,
                  "queue": 400, "service_time": "100ms", "boot_time": "0s",
                  "read_from": "replicas", "security_groups": ["shop-sg"]}},
    ):
        r = game.call("POST", "/resources", body)
        assert r.status == 201, r
    available(game, "cpu")
    for name, lt in (("s4", "shop-cpu"), ("s5", "shop-cpu-ro")):
        r = game.call("POST", "/resources", {"type": "instance", "name": name, "spec": {
            "launch_template": lt, "subnet": "private-a"}})
        assert r.status == 201, r
    s4, s5 = shop_ready(game, "s4"), shop_ready(game, "s5")
    game.wait_until(lambda: len(db(game, "cpu")["status"]["reader_endpoints"]) == 2, 20,
                    "both replicas readable")
    game.wait_until(lambda: http("GET", f"http://{s5}/products/2").status == 200, 20, "s5")

    def last_point():
        pts = game.get("/metrics?resource=cpu&metric=CPUUtilization")
        return pts[-1][0] if pts else 0.0

    game.wait_until(lambda: game.get("/metrics?resource=cpu").get("CPUUtilization") is not None,
                    20, "the db sampled")
    mark = last_point()
    ok1, err1 = hammer(s4, 4)
    game.wait_until(lambda: last_point() > mark + 60, 10, "a sample after the phase")
    cpu_primary = peak(game, "cpu", "CPUUtilization", mark + 0.001)
    p99_primary = shop_metric(s4, "gameday_clothes_db_query_seconds", kind="read",
                              quantile="0.99")
    game.wait_until(lambda: game.get("/metrics?resource=cpu").get("CPUUtilization", 100) < 50,
                    20, "the primary idle again")
    mark = last_point()
    ok2, err2 = hammer(s5, 4)
    cpu_primary_2 = peak(game, "cpu", "CPUUtilization", mark + 0.001)
    cpu_replicas = peak(game, "cpu", "ReplicaCPUUtilization", mark + 0.001)
    p99_replicas = shop_metric(s5, "gameday_clothes_db_query_seconds", kind="read",
                               quantile="0.99")
    print(f"\nread-heavy phase on the primary: {ok1} reads ({err1} errors), primary CPU peak "
          f"{cpu_primary:.0f} %, read p99 {p99_primary * 1000:.0f} ms wall")
    print(f"same phase on 2 replicas: {ok2} reads ({err2} errors), primary CPU peak "
          f"{cpu_primary_2:.0f} %, replicas' CPU peak {cpu_replicas:.0f} %, read p99 "
          f"{p99_replicas * 1000:.0f} ms wall")
    assert err1 == 0 and err2 == 0
    assert cpu_primary >= 80, "the reads filled the primary's slots"
    assert cpu_primary_2 <= 40, "reads from the replicas leave the primary's slots alone"
    assert cpu_replicas >= 40, "the replicas' slots took them"
    assert p99_replicas < p99_primary, "twice the slots: the reads waited less"
    assert ok2 > ok1, "and more of them were answered in the same time"


def test_kill_9_of_a_multi_az_primary_fails_over_and_the_shop_answers_again(game):
    r = game.call("POST", "/resources", {"type": "db", "name": "ha",
                                         "spec": {"subnets": ["data-a", "data-b"],
                                                  "multi_az": True,
                                                  "security_groups": ["db-sg"]}})
    assert r.status == 201, r
    r = game.call("POST", "/resources", {"type": "launch_template", "name": "shop-ha",
                                         "spec": {"service": "clothes", "database": "ha",
                                                  "slots": 10, "service_time": "100ms",
                                                  "boot_time": "0s",
                                                  "security_groups": ["shop-sg"]}})
    assert r.status == 201, r
    d = available(game, "ha")
    t0 = time.monotonic()
    r = game.call("POST", "/resources", {"type": "instance", "name": "s3",
                                         "spec": {"launch_template": "shop-ha",
                                                  "subnet": "private-a"}})
    assert r.status == 201, r
    game.wait_until(lambda: game.get("/resources/s3")["status"]["state"] == "running", 20,
                    "s3 running")
    base = shop_ready(game, "s3")
    u = Shopper(base)
    assert u.call("POST", "/cart/items", {"product": 5, "qty": 1})[0] == 200
    assert u.call("POST", "/checkout")[0] == 201
    p, s = node(d, "primary"), node(d, "standby")
    assert p["az"] != s["az"], "the standby lives in another zone"

    os.kill(p["pid"], signal.SIGKILL)
    killed = time.monotonic()
    errors, first_ok, last, seen = 0, None, None, {}
    while time.monotonic() - killed < 60:
        try:
            last = http("GET", f"http://{base}/products/1", timeout=5)
            st = last.status
        except OSError as e:
            st, last = 0, e
        if st == 200 and errors > 0:
            first_ok = time.monotonic()
            break
        if st != 200:
            errors += 1
            seen[st] = seen.get(st, 0) + 1
        time.sleep(0.05)
    assert first_ok, f"the shop never answered again ({errors} errors: {seen}, the last {last!r}, {base})\n" + \
        game.diagnostics()
    d = game.wait_until(lambda: (lambda x: x if x["status"].get("last_failover") else None)(
        db(game, "ha")), 30, "the failover recorded")
    fo = d["status"]["last_failover"]
    assert fo["from"] == p["id"] and fo["to"] == s["id"], fo
    assert node(d, "primary")["id"] == s["id"]
    assert d["status"]["endpoint"] == f"{s['ip']}:5432"
    port = 53 if os.geteuid() == 0 else 5353
    ans = dig_answers(dig(DNS, port, d["status"]["address"], "A"))
    assert [a[3] for a in ans] == [s["ip"]], "the endpoint's name moved to the new primary"
    # orders go on after the failover, into the promoted standby
    assert u.call("POST", "/cart/items", {"product": 6, "qty": 1})[0] == 200
    status, order = u.call("POST", "/checkout")
    assert status == 201, order
    assert psql(game, s["id"], f"SELECT count(*) FROM orders WHERE order_id = "
                               f"'{order['order_id']}'") == "1"
    audit = [a for a in game.audit() if a["eventName"] == "FailoverDBCluster"
             and a["principal"] == "rds"]
    assert audit, "the failover is audited as rds"
    events = game.get("/teams/1/score/events?limit=100000")
    assert any("db ha failed over" in e["reason"] and "unavailable" in e["reason"]
               for e in events), events[-5:]
    wall = first_ok - killed
    print(f"\nfailover: shop errors for {wall:.2f} s wall ({wall * 60:.0f} game s), "
          f"{errors} failed requests; the db reports {fo['unavailable_s']:.0f} game s")
    # the old primary comes back as the new standby
    game.wait_until(lambda: node(db(game, "ha"), "standby")["state"] == "available", 30,
                    "the old primary rebuilt as the standby")
    assert node(db(game, "ha"), "standby")["id"] == p["id"]
    print(f"(s3 launched {killed - t0:.1f} s before the kill)")
