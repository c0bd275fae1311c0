"""The clothes shop's cache-aside (doc/clothes.md, database mode; `cache: redis` in a
launch template) on the real binaries: a db (real postgres) and a one-node
cache_cluster (real redis-server). s1 reads its products from the database, s2 through
the cache. A read-heavy phase on each: with the cache the db's CPUUtilization and the
read p99 fall, and the hits are counted by the shop and by the cluster; a price changed
in postgres behind the shop's back is served stale until the cache's TTL, then fresh; a
checkout deletes the keys of what it sold so that the next read has the new stock; a
kill -9 of the cache node leaves the product pages answering from the database.
Addresses: 127.236.0.0/16 (net 236).

The tests share one game and run in order."""

import os
import shutil
import signal
import subprocess
import threading
import time
from http.client import HTTPConnection

import pytest

from conftest import http, scenario_path, shared_game

NET = 236
SPEED = 60
TTL_GAME_S = 120  # the cache_ttl of shop-cache in cache_aside.yaml
TTL_WALL_S = TTL_GAME_S / SPEED

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None,
                                reason="redis-server is not installed "
                                       "(scripts/install-deps.sh installs it)")


@pytest.fixture(scope="module")
def game(tmp_path_factory):
    # in a folder postgres (the user postgres, as root) can enter: see shared_game
    yield from shared_game(tmp_path_factory, scenario_path("cache_aside.yaml"), "cache-aside", port=18236,
                           speed=SPEED, net=NET, customers=False, postgres=True)


# ---------------------------------------------------------------------------- helpers


def status(game, name):
    return game.get(f"/resources/{name}")["status"]


def available(game, name, timeout=30):
    return game.wait_until(lambda: (lambda s: s if s.get("state") == "available" else None)(
        status(game, name)), timeout, f"{name} available")


def primary(game):
    return next(n for n in available(game, "cpu")["nodes"] if n["role"] == "primary")


def psql(game, sql):
    """psql over the primary's unix socket (as the merchandising team would, behind the
    shop's back)."""
    sock = game.out / "pg" / f"{primary(game)['id']}.s"
    r = subprocess.run(["psql", "-h", str(sock), "-U", "gameday", "-d", "shop", "-Atc", sql],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def shop(game, name):
    st = status(game, name)
    base = f"{st['ip']}:{st['port']}"
    game.wait_until(lambda: http("GET", f"http://{base}/products/1").status == 200, 30,
                    f"{name} reading products from the db")
    return base


def page(base, path):
    """GET path: (status, X-Cache, the JSON)."""
    r = http("GET", f"http://{base}{path}")
    return r.status, r.header("X-Cache"), r.json()


def shop_metric(base, name, **labels):
    for line in http("GET", f"http://{base}/metrics").body.decode().splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    raise KeyError(name)


def cache_results(base):
    return {k: shop_metric(base, "gameday_shop_cache_requests_total", result=k)
            for k in ("hit", "miss", "error")}


def hammer(base, seconds, threads=24):
    """Product reads from `threads` clients at once for `seconds` (test_db.py's phase):
    (ok, errors, the wall latencies of the answered ones, X-Cache values seen)."""
    stop = time.monotonic() + seconds
    lat, errs, xc, failed = [], [0], {}, {}
    lock = threading.Lock()

    def worker(k):
        host, port = base.split(":")
        c = HTTPConnection(host, int(port), timeout=10)
        while time.monotonic() < stop:
            t = time.monotonic()
            try:
                c.request("GET", f"/products/{1 + (k * 7) % 200}")
                r = c.getresponse()
                body = r.read()
                ok, x = r.status == 200, r.getheader("X-Cache")
                if not ok:
                    x = f"{r.status} {body[:240]!r}"
            except OSError as e:
                c.close()
                c = HTTPConnection(host, int(port), timeout=10)
                ok, x = False, repr(e)
            with lock:
                if ok:
                    lat.append(time.monotonic() - t)
                    xc[x] = xc.get(x, 0) + 1
                else:
                    errs[0] += 1
                    failed[x] = failed.get(x, 0) + 1
        c.close()

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if failed:
        print(f"\nfailed reads on {base}: {failed}")
    return len(lat), errs[0], sorted(lat), xc


def burst(base, paths):
    """One GET of each path, all at once: how many did not answer 200."""
    bad = [0]

    def one(path):
        try:
            ok = http("GET", f"http://{base}{path}").status == 200
        except OSError:
            ok = False
        bad[0] += not ok

    ts = [threading.Thread(target=one, args=(p,)) for p in paths]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return bad[0]


def p99(lat):
    return lat[min(len(lat) - 1, int(len(lat) * 0.99))]


def peak(game, res, metric, since):
    pts = game.get(f"/metrics?resource={res}&metric={metric}&since={since}")
    return max((v for _, v in pts), default=0.0)


def total(game, res, metric, since):
    pts = game.get(f"/metrics?resource={res}&metric={metric}&since={since}")
    return sum(v for _, v in pts)


def last_point(game, res, metric):
    pts = game.get(f"/metrics?resource={res}&metric={metric}")
    return pts[-1][0] if pts else 0.0


# ---------------------------------------------------------------------------- tests


def test_the_cache_takes_a_read_heavy_phase_off_the_db(game):
    """The same phase (24 readers, 4 s wall) on s1 (no cache) then on s2 (cache: redis):
    the db's slots are full for s1, nearly idle for s2, whose reads are hits and wait
    for no db slot."""
    available(game, "cache")
    s1, s2 = shop(game, "s1"), shop(game, "s2")
    st, xc, _ = page(s1, "/products/1")
    assert st == 200 and xc is None, "no cache on s1: no X-Cache"
    game.wait_until(lambda: game.get("/metrics?resource=cpu").get("CPUUtilization") is not None,
                    20, "the db sampled")
    # The shops booted while the db was still being made: the connections of their pools
    # that failed then wait out a backoff on their first use. 24 reads at once until none
    # fails (products the phases do not read) connect them all before the phases.
    for base in (s1, s2):
        game.wait_until(lambda: burst(base, [f"/products/{170 + k}" for k in range(24)]) == 0,
                        20, f"the db pool of {base} connected")

    mark = last_point(game, "cpu", "CPUUtilization")
    ok1, err1, lat1, _ = hammer(s1, 4)
    game.wait_until(lambda: last_point(game, "cpu", "CPUUtilization") > mark + 60, 10,
                    "a sample after the phase")
    cpu1 = peak(game, "cpu", "CPUUtilization", mark + 0.001)
    dbp99_1 = shop_metric(s1, "gameday_clothes_db_query_seconds", kind="read", quantile="0.99")
    game.wait_until(lambda: game.get("/metrics?resource=cpu").get("CPUUtilization", 100) < 50,
                    20, "the db idle again")

    before = cache_results(s2)
    mark = last_point(game, "cpu", "CPUUtilization")
    cmark = last_point(game, "cache", "CacheHits")
    ok2, err2, lat2, xc2 = hammer(s2, 4)
    game.wait_until(lambda: last_point(game, "cpu", "CPUUtilization") > mark + 60 and
                    last_point(game, "cache", "CacheHits") > cmark + 60, 10,
                    "samples after the phase")
    cpu2 = peak(game, "cpu", "CPUUtilization", mark + 0.001)
    after = cache_results(s2)
    hits, misses = after["hit"] - before["hit"], after["miss"] - before["miss"]
    game.wait_until(lambda: total(game, "cache", "CacheHits", cmark + 0.001) >= hits * 0.9, 10,
                    "the cluster's CacheHits counting the shop's hits")
    cluster_hits = total(game, "cache", "CacheHits", cmark + 0.001)
    cluster_misses = total(game, "cache", "CacheMisses", cmark + 0.001)
    dbp99_2 = shop_metric(s2, "gameday_clothes_db_query_seconds", kind="read", quantile="0.99")
    print(f"\nno cache:   {ok1} reads ({err1} errors), db CPU peak {cpu1:.0f} %, read p99 "
          f"{p99(lat1) * 1000:.1f} ms wall (db query p99 {dbp99_1 * 1000:.0f} ms)")
    print(f"with cache: {ok2} reads ({err2} errors), db CPU peak {cpu2:.0f} %, read p99 "
          f"{p99(lat2) * 1000:.1f} ms wall (db query p99 {dbp99_2 * 1000:.0f} ms, "
          f"misses only); X-Cache {xc2}; shop hits {hits:.0f} misses {misses:.0f}; "
          f"cluster CacheHits {cluster_hits:.0f} CacheMisses {cluster_misses:.0f}")
    assert err1 == 0 and err2 == 0
    assert cpu1 >= 80, "without the cache the reads fill the db's slots"
    assert cpu2 <= cpu1 / 4, "with it the db's slots are nearly idle"
    assert p99(lat2) <= p99(lat1) / 3, "hits wait for no db slot"
    assert ok2 > 2 * ok1, "and many more reads are answered in the same time"
    # 24 products read for 4 s with a TTL of 2 s wall: each missed once, and once again
    # when its entry expired halfway
    assert 24 * 2 <= misses <= 24 * 3, misses
    assert hits + misses == ok2 and xc2.get("Hit", 0) == hits, (hits, misses, ok2, xc2)
    assert xc2.get("Miss", 0) == misses and after["error"] == before["error"]
    assert cluster_hits >= hits * 0.9 and cluster_hits <= hits * 1.1 + 10


def test_a_price_changed_in_postgres_is_stale_until_the_ttl(game):
    s2 = shop(game, "s2")
    pid = 3  # not one the phase above read
    st, xc, p = page(s2, f"/products/{pid}")
    set_at = time.monotonic()  # the SET went out before this answer
    assert st == 200 and xc == "Miss", xc
    st, xc, p2 = page(s2, f"/products/{pid}")
    assert xc == "Hit" and p2 == p, (xc, p2, p)
    new = p["price_cents"] + 1111
    psql(game, f"UPDATE products SET price_cents = {new} WHERE id = {pid}")
    changed = time.monotonic()
    stale_hits = 0
    while True:
        st, xc, cur = page(s2, f"/products/{pid}")
        assert st == 200
        if cur["price_cents"] == new:
            fresh = time.monotonic()
            break
        assert cur["price_cents"] == p["price_cents"] and xc == "Hit", (xc, cur)
        stale_hits += 1
        assert time.monotonic() - changed < TTL_WALL_S + 5, "never fresh again"
        time.sleep(0.02)
    assert xc == "Miss", "the fresh price comes from the database"
    stale, age = fresh - changed, fresh - set_at
    print(f"\nprice stale for {stale:.2f} s wall ({stale * SPEED:.0f} game s) after the "
          f"UPDATE, {stale_hits} stale hits; the entry lived {age:.2f} s wall "
          f"(TTL {TTL_WALL_S:.0f} s wall, {TTL_GAME_S} game s)")
    assert stale_hits > 0 and stale > 0
    assert stale <= TTL_WALL_S + 0.3, "no staler than the TTL"
    assert age >= TTL_WALL_S - 0.5, "the entry lived its TTL (EX = cache_ttl / speed)"


def test_a_checkout_invalidates_what_it_sold(game):
    s2 = shop(game, "s2")
    pid = 5
    page(s2, f"/products/{pid}")
    st, xc, before = page(s2, f"/products/{pid}")
    assert xc == "Hit", xc
    st, xc, _ = page(s2, "/products")
    st, xc, cat = page(s2, "/products")
    assert xc == "Hit" and cat[pid - 1]["stock"] == before["stock"], xc
    inv0 = shop_metric(s2, "gameday_shop_cache_invalidations_total", result="ok")
    jar = {}

    def call(method, path, body=None):
        import json as _json
        host, port = s2.split(":")
        c = HTTPConnection(host, int(port), timeout=10)
        h = {"Cookie": "; ".join(f"{k}={v}" for k, v in jar.items())} if jar else {}
        c.request(method, path, body=_json.dumps(body).encode() if body else None, headers=h)
        r = c.getresponse()
        raw = r.read()
        for k, v in r.getheaders():
            if k.lower() == "set-cookie":
                n, _, val = v.split(";")[0].partition("=")
                jar[n] = val
        c.close()
        return r.status, _json.loads(raw)

    assert call("POST", "/cart/items", {"product": pid, "qty": 2})[0] == 200
    st, order = call("POST", "/checkout")
    assert st == 201, order
    # right after the answer: the new stock, read from the database
    st, xc, after = page(s2, f"/products/{pid}")
    assert xc == "Miss" and after["stock"] == before["stock"] - 2, (xc, after, before)
    assert int(psql(game, f"SELECT stock FROM products WHERE id = {pid}")) == after["stock"]
    st, xc, cat = page(s2, "/products")
    assert xc == "Miss" and cat[pid - 1]["stock"] == after["stock"], "the catalogue's key too"
    assert page(s2, f"/products/{pid}")[1] == "Hit", "cached again"
    assert shop_metric(s2, "gameday_shop_cache_invalidations_total", result="ok") == inv0 + 1
    print(f"\ncheckout of 2 x product {pid}: stock {before['stock']} -> {after['stock']}, "
          f"read at once from the database (X-Cache: Miss)")


def test_kill_9_of_the_cache_node_falls_back_to_the_database(game):
    s2 = shop(game, "s2")
    st = available(game, "cache")
    node = st["nodes"][0]
    page(s2, "/products/7")
    assert page(s2, "/products/7")[1] == "Hit"
    e0 = cache_results(s2)["error"]
    c0 = shop_metric(s2, "gameday_shop_cache_connects_total", result="ok")
    os.kill(node["pid"], signal.SIGKILL)
    killed = time.monotonic()
    answers, errors_seen, recovered = {}, 0, None
    # every read answers 200 while the node is gone (from the database, X-Cache: Miss),
    # until the server has started it again (empty) and the reads are hits again
    while time.monotonic() - killed < 20:
        s, xc, p = page(s2, "/products/7")
        assert s == 200 and p["id"] == 7, (s, p)
        answers[xc] = answers.get(xc, 0) + 1
        errors_seen = cache_results(s2)["error"] - e0
        if errors_seen >= 1 and answers.get("Miss") and xc == "Hit":
            recovered = time.monotonic()
            break
        time.sleep(0.005)
    assert errors_seen >= 1, f"the cache's errors counted: {answers}"
    assert recovered, f"hits again after the node came back: {answers}"
    assert answers.get("Miss", 0) >= errors_seen, answers
    assert status(game, "cache")["nodes"][0]["pid"] != node["pid"], "a new redis-server"
    assert shop_metric(s2, "gameday_shop_cache_up") == 1
    assert shop_metric(s2, "gameday_shop_cache_connects_total", result="ok") >= c0 + 1
    print(f"\nkill -9 of the cache node: {sum(answers.values())} reads all 200 "
          f"({answers}), {errors_seen:.0f} counted as cache errors (answered from the "
          f"database); hits again {recovered - killed:.2f} s wall after the kill")

    # The server starts a dead node again at once. For an outage that lasts, the cache's
    # security group loses its rule first: the nat refuses the shop's reconnects.
    sg = game.get("/resources/cache-sg")["spec"]["ingress"]
    nobody = [{"from": "127.0.0.9/32", "port": 6379}]
    assert game.call("PATCH", "/resources/cache-sg", {"spec": {"ingress": nobody}}).status == 200
    e1 = cache_results(s2)["error"]
    r0 = shop_metric(s2, "gameday_shop_cache_redis_errors_total")
    node = available(game, "cache")["nodes"][0]
    os.kill(node["pid"], signal.SIGKILL)
    game.wait_until(lambda: shop_metric(s2, "gameday_shop_cache_up") == 0, 20,
                    "the shop's cache connection down")
    reads = [page(s2, f"/products/{7 + k % 3}") for k in range(60)]
    assert all(s == 200 and xc == "Miss" for s, xc, _ in reads), reads
    assert shop_metric(s2, "gameday_shop_cache_up") == 0, "the outage lasted the 60 reads"
    errors = cache_results(s2)["error"] - e1
    assert errors >= 60, errors
    rerr = shop_metric(s2, "gameday_shop_cache_redis_errors_total") - r0
    assert game.call("PATCH", "/resources/cache-sg", {"spec": {"ingress": sg}}).status == 200
    game.wait_until(lambda: shop_metric(s2, "gameday_shop_cache_up") == 1, 20,
                    "the shop reconnected once the rule is back")
    game.wait_until(lambda: page(s2, "/products/7")[1] == "Hit", 10, "hits again")
    print(f"cache unreachable (its rule removed, its node killed): 60 reads all 200 from the "
          f"database (X-Cache: Miss), {errors:.0f} cache errors counted ({rerr:.0f} Redis "
          f"commands failed); hits again once the rule is back")
