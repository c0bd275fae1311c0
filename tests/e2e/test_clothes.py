"""MyClothes.com (`gameday instance clothes`, doc/clothes.md) on the real binary: a shopper
with a cookie jar browses, fills a cart, checks out and reads its orders; the session
modes do what the lessons say: an in-memory session is unknown to another instance and
gone with its process, a signed cookie travels between instances and is refused when
tampered with or too large, a session in a real redis-server survives instances and
their kill -9, and a Redis that stops answers 503 until it is back. Last, a game
launches the shops from launch templates and the team's cookie key, its Redis address
and its load balancers do their part. Addresses: 127.231.0.0/16 (net 231)."""

import base64
import contextlib
import hashlib
import hmac
from http.client import HTTPConnection
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time

import pytest

from conftest import (daemon, gameday_bin, http, net_lock, scenario_path, shared_game,
                      wait_until)

NET = 231
SPEED = 60
SERVICE_MS = 600  # game ms of a product page: 10 wall ms at x60
KEY = "5c" * 32  # a team's cookie key (64 hex digits)
OTHER_KEY = "a7" * 32
SALT = "e2e-clothes"
REDIS_IP = f"127.{NET}.0.50"
HAVE_REDIS = shutil.which("redis-server") is not None
NO_REDIS = "redis-server is not installed (scripts/install-deps.sh installs it)"


@pytest.fixture
def lock():
    f = net_lock(net=NET)
    yield
    f.close()


# ---------------------------------------------------------------------------- helpers


class Shopper:
    """One browser: a cookie jar, and the last answer's headers."""

    def __init__(self, base):
        self.base = base
        self.jar = {}

    def call(self, method, path, body=None, cookies=None):
        host, port = self.base.split(":")
        c = HTTPConnection(host, int(port), timeout=10)
        headers = {}
        jar = self.jar if cookies is None else cookies
        if jar:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in jar.items())
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            c.request(method, path, body=data, headers=headers)
            r = c.getresponse()
            raw = r.read()
            hdrs = r.getheaders()
        finally:
            c.close()
        if cookies is None:
            for k, v in hdrs:
                if k.lower() == "set-cookie":
                    name, _, value = v.split(";")[0].partition("=")
                    self.jar[name] = value
        return Answer(r.status, hdrs, raw)


class Answer:
    def __init__(self, status, headers, raw):
        self.status, self.headers, self.raw = status, headers, raw

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def json(self):
        return json.loads(self.raw)

    def __repr__(self):
        return f"<{self.status} {self.raw[:300]!r}>"


def metrics(base):
    out = {}
    for line in http("GET", f"http://{base}/metrics").body.decode().splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def metric(base, name, instance, **labels):
    lab = f'instance="{instance}"' + "".join(f',{k}="{v}"' for k, v in labels.items())
    return metrics(base).get(f"{name}{{{lab}}}")


class Shop:
    def __init__(self, proc, base, iid, log):
        self.proc, self.base, self.id, self.log = proc, base, iid, log

    def alive(self, what):
        assert self.proc.poll() is None, f"{self.id} exited before {what}"

    def log_text(self):
        return self.log.read_text()

    def m(self, name, **labels):
        return metric(self.base, name, self.id, **labels)


@contextlib.contextmanager
def shop(tmp, ip, iid, sessions="memory", **env):
    """A `gameday instance clothes` on ip:8080 until the block ends (stopped, and its
    stderr checked for sanitizer reports, by conftest's daemon)."""
    base = f"{ip}:8080"
    e = {"GAMEDAY_SPEED": str(SPEED), "GAMEDAY_EPOCH_NS": str(time.monotonic_ns()),
         "GAMEDAY_SLOTS": "4", "GAMEDAY_QUEUE": "16", "GAMEDAY_SERVICE_MS": str(SERVICE_MS),
         "GAMEDAY_SALT": SALT, "GAMEDAY_INSTANCE_ID": iid, "GAMEDAY_SESSIONS": sessions}
    e.update({k: str(v) for k, v in env.items()})
    log = tmp / f"{iid}-{time.monotonic_ns()}.err"
    with daemon(["instance", "clothes", "--addr", base], f"http://{base}/health", log,
                env=e) as p:
        yield Shop(p, base, iid, log)


def catalogue(base):
    r = Shopper(base).call("GET", "/products")
    assert r.status == 200, r
    return {p["id"]: p for p in r.json()}


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def unb64url(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def seal(key_hex, text):
    """A session cookie's value as the shop makes it (doc/clothes.md)."""
    payload = b64url(text.encode())
    sig = hmac.new(bytes.fromhex(key_hex), payload.encode(), hashlib.sha256).digest()
    return f"{payload}.{b64url(sig)}"


def session_text(cart, name="", email="", orders=()):
    """The session's JSON text, as the shop writes it (compact, in this key order)."""
    doc = {"cart": [{"product": p, "qty": q, "price_cents": c} for p, q, c in cart],
           "profile": {"name": name, "email": email}, "orders": list(orders)}
    return json.dumps(doc, separators=(",", ":"))


def cart_of(shopper, **kw):
    r = shopper.call("GET", "/cart", **kw)
    assert r.status == 200, r
    return r.json()


# ---------------------------------------------------------------------------- the shop


def test_browse_fill_the_cart_check_out_and_read_the_orders(lock, tmp_path):
    with shop(tmp_path, f"127.{NET}.0.10", "i-shop-a") as a:
        cat = catalogue(a.base)
        assert sorted(cat) == list(range(1, 201)), "200 products, ids 1..200"
        assert all(set(p) == {"id", "name", "price_cents", "stock"} for p in cat.values())
        u = Shopper(a.base)
        r = u.call("GET", "/products/7")
        assert r.status == 200 and r.json() == cat[7]
        assert r.header("X-Instance-Id") == "i-shop-a"
        assert r.header("Set-Cookie") is None, "a catalogue page starts no session"
        for bad in ("/products/0", "/products/201", "/products/abc", "/products/7x"):
            r = u.call("GET", bad)
            assert r.status == 404, (bad, r)
            assert "no such product" in r.json()["error"]

        # the first cart page starts a session, and says so
        r = u.call("GET", "/cart")
        assert r.status == 200 and r.json() == {"items": [], "total_cents": 0}
        assert r.header("X-Session") == "new"
        assert re.fullmatch(r"[0-9a-f]{32}", u.jar["sid"]), u.jar
        assert "HttpOnly" in r.header("Set-Cookie")
        assert u.call("GET", "/cart").header("X-Session") is None, "known from now on"

        for product, qty in ((3, 2), (7, 1), (3, 1)):
            r = u.call("POST", "/cart/items", {"product": product, "qty": qty})
            assert r.status == 200, r
        want = [{"product": 3, "qty": 3, "price_cents": cat[3]["price_cents"]},
                {"product": 7, "qty": 1, "price_cents": cat[7]["price_cents"]}]
        assert cart_of(u) == {"items": want,
                              "total_cents": 3 * cat[3]["price_cents"] + cat[7]["price_cents"]}
        r = u.call("DELETE", "/cart/items/7")
        assert r.status == 200 and r.json()["items"] == want[:1]
        r = u.call("DELETE", "/cart/items/7")
        assert r.status == 404 and r.json() == {"error": "product 7 is not in the cart"}

        # bad input: a clear error, and nothing changes
        for body, status, text in (
                (b"not json", 400, "body: not JSON"),
                ({"product": 3}, 400, "qty: missing; expected a whole number 1..99"),
                ({"product": 3, "qty": 100}, 400, "expected a whole number 1..99"),
                ({"product": "3", "qty": 1}, 400, "product: not a whole number"),
                ({"product": 3, "qty": 1, "size": "M"}, 400,
                 'unknown key "size" (allowed: product, qty)'),
                ({"product": 999, "qty": 1}, 404, "no such product"),
                ({"product": 3, "qty": 97}, 409, "at most 99 of one product")):
            r = u.call("POST", "/cart/items", body)
            assert r.status == status and text in r.json()["error"], (body, r)
        r = u.call("PUT", "/cart/items")
        assert r.status == 405 and r.header("Allow") == "POST"
        assert u.call("GET", "/nowhere").status == 404
        assert cart_of(u)["items"] == want[:1], "the refusals changed nothing"

        # checkout: an order, an empty cart, the order in the history
        r = u.call("POST", "/checkout")
        assert r.status == 201, r
        order = r.json()
        assert re.fullmatch(r"o-[0-9a-f]{16}", order["order_id"])
        assert order["items"] == want[:1]
        assert order["total_cents"] == 3 * cat[3]["price_cents"]
        assert cart_of(u) == {"items": [], "total_cents": 0}
        assert u.call("GET", "/orders").json() == [order]
        r = u.call("POST", "/checkout")
        assert r.status == 409 and "the cart is empty" in r.json()["error"]

        # the profile
        assert u.call("GET", "/profile").json() == {"name": "", "email": ""}
        r = u.call("PUT", "/profile", {"name": "Ann Lee", "email": "ann@example.com"})
        assert r.status == 200, r
        r = u.call("PUT", "/profile", {"email": "not-an-address"})
        assert r.status == 400 and r.json()["error"].startswith("email:")
        assert u.call("GET", "/profile").json() == {"name": "Ann Lee", "email": "ann@example.com"}

        # another shopper has a cart of their own
        v = Shopper(a.base)
        assert cart_of(v)["items"] == []
        assert v.jar["sid"] != u.jar["sid"]

        assert a.m("gameday_clothes_sessions_new_total") == 2
        assert a.m("gameday_clothes_sessions") == 2
        assert a.m("gameday_clothes_orders_total") == 1
        assert a.m("gameday_clothes_session_mode", mode="memory") == 1
        assert a.m("gameday_instance_bad_requests_total") >= 6
        # the shop logs nothing per request: only its start
        assert [ln for ln in a.log_text().splitlines() if "ev=" in ln and "ev=ready" not in ln] \
            == [], a.log_text()


def test_a_request_holds_a_slot_for_its_routes_share(lock, tmp_path):
    # one slot, product pages of 1.2 wall s: a second request waits for the first
    with shop(tmp_path, f"127.{NET}.0.10", "i-slow", GAMEDAY_SLOTS=1,
              GAMEDAY_SERVICE_MS=72000) as a:
        u = Shopper(a.base)
        t0 = time.monotonic()
        assert u.call("GET", "/products/1").status == 200
        page = time.monotonic() - t0
        assert 1.1 < page < 3, f"a product page took {page:.2f} s, want about 1.2 s"
        t0 = time.monotonic()
        assert u.call("GET", "/profile").status == 200
        prof = time.monotonic() - t0
        assert 0.25 < prof < 0.9 * page, f"a profile page (a quarter) took {prof:.2f} s"


# ---------------------------------------------------------------------------- memory


def test_memory_sessions_stay_with_their_instance_and_die_with_it(lock, tmp_path):
    with shop(tmp_path, f"127.{NET}.0.10", "i-mem-a") as a, \
            shop(tmp_path, f"127.{NET}.0.11", "i-mem-b") as b:
        assert catalogue(a.base) == catalogue(b.base), "one salt, one catalogue"
        u = Shopper(a.base)
        assert u.call("POST", "/cart/items", {"product": 5, "qty": 2}).status == 200
        sid_a = dict(u.jar)
        # the next request lands on the other instance: it does not know the sid
        u.base = b.base
        r = u.call("GET", "/cart")
        assert r.status == 200 and r.json()["items"] == [], "b has no such session"
        assert r.header("X-Session") == "new" and r.header("X-Instance-Id") == "i-mem-b"
        assert u.jar["sid"] != sid_a["sid"], "b gave a new id"
        assert b.m("gameday_clothes_sessions_lost_total") == 1
        # a still has it
        back = Shopper(a.base)
        back.jar = dict(sid_a)
        assert [i["product"] for i in cart_of(back)["items"]] == [5]
        assert a.m("gameday_clothes_sessions_lost_total") == 0

    # the instance dies (kill -9) and comes back on its address: the cart is gone
    with shop(tmp_path, f"127.{NET}.0.10", "i-mem-a") as a:
        a.proc.send_signal(signal.SIGKILL)
        a.proc.wait(5)
    with shop(tmp_path, f"127.{NET}.0.10", "i-mem-a") as a2:
        back = Shopper(a2.base)
        back.jar = dict(sid_a)
        r = back.call("GET", "/cart")
        assert r.json()["items"] == [] and r.header("X-Session") == "new"
        assert a2.m("gameday_clothes_sessions_lost_total") == 1


def test_memory_sessions_are_bounded_least_recently_used_first(lock, tmp_path):
    with shop(tmp_path, f"127.{NET}.0.10", "i-lru", GAMEDAY_SESSION_MAX=3) as a:
        users = [Shopper(a.base) for _ in range(4)]
        for i, u in enumerate(users):
            assert u.call("POST", "/cart/items", {"product": i + 1, "qty": 1}).status == 200
        assert a.m("gameday_clothes_sessions") == 3
        assert a.m("gameday_clothes_sessions_evicted_total") == 1
        r = users[0].call("GET", "/cart")
        assert r.header("X-Session") == "new", "the oldest session was evicted"
        assert [i["product"] for i in cart_of(users[3])["items"]] == [4]


# ---------------------------------------------------------------------------- cookie


def test_cookie_sessions_travel_between_instances(lock, tmp_path):
    with shop(tmp_path, f"127.{NET}.0.10", "i-ck-a", "cookie", GAMEDAY_SESSION_KEY=KEY) as a, \
            shop(tmp_path, f"127.{NET}.0.11", "i-ck-b", "cookie", GAMEDAY_SESSION_KEY=KEY) as b:
        cat = catalogue(a.base)
        u = Shopper(a.base)
        r = u.call("POST", "/cart/items", {"product": 4, "qty": 2})
        assert r.status == 200 and r.header("X-Session") == "new"
        assert "sid" not in u.jar, "the cookie is the session: no id"
        # the cookie is the session, signed with the team's key
        payload, sig = u.jar["session"].split(".")
        want = session_text([(4, 2, cat[4]["price_cents"])])
        assert unb64url(payload).decode() == want
        assert u.jar["session"] == seal(KEY, want)

        u.base = b.base
        r = u.call("GET", "/cart")
        assert r.status == 200 and r.header("X-Instance-Id") == "i-ck-b"
        assert r.header("X-Session") is None, "b reads the session a wrote"
        assert [(i["product"], i["qty"]) for i in r.json()["items"]] == [(4, 2)]
        assert u.call("POST", "/cart/items", {"product": 9, "qty": 1}).status == 200
        u.base = a.base
        assert [i["product"] for i in cart_of(u)["items"]] == [4, 9]
        r = u.call("POST", "/checkout")
        assert r.status == 201
        u.base = b.base
        assert [o["order_id"] for o in u.call("GET", "/orders").json()] == [r.json()["order_id"]]
        assert a.m("gameday_clothes_sessions_new_total") == 1
        assert b.m("gameday_clothes_sessions_new_total") == 0

    # another team's key does not open it
    with shop(tmp_path, f"127.{NET}.0.12", "i-ck-c", "cookie",
              GAMEDAY_SESSION_KEY=OTHER_KEY) as c:
        u.base = c.base
        r = u.call("GET", "/cart")
        assert r.status == 400
        assert r.json() == {"error": "session cookie refused: bad signature"}


def test_tampered_cookies_are_refused_and_nothing_is_kept(lock, tmp_path):
    with shop(tmp_path, f"127.{NET}.0.10", "i-ck-t", "cookie", GAMEDAY_SESSION_KEY=KEY) as a:
        cat = catalogue(a.base)
        u = Shopper(a.base)
        assert u.call("POST", "/cart/items", {"product": 2, "qty": 1}).status == 200
        good = u.jar["session"]
        # the shopper rewrites the price in the payload and keeps the signature
        payload, sig = good.split(".")
        cheap = session_text([(2, 1, 1)])
        forged = {"session": f"{b64url(cheap.encode())}.{sig}"}
        cases = [
            (forged, "bad signature"),
            ({"session": good[:-1] + ("A" if good[-1] != "A" else "B")}, "bad signature"),
            ({"session": "e30"}, "bad encoding"),
            ({"session": "abc%def." + sig}, "bad encoding"),
            ({"session": seal(KEY, "not json")}, "bad JSON"),
            ({"session": seal(KEY, '{"cart":[],"admin":true}')}, "bad JSON"),
            ({"session": "A" * 5000}, "too large"),
        ]
        for jar, why in cases:
            r = u.call("POST", "/cart/items", {"product": 2, "qty": 1}, cookies=jar)
            assert r.status == 400, (why, r)
            assert r.json() == {"error": f"session cookie refused: {why}"}
            assert r.header("Set-Cookie") is None, "nothing kept, no new session"
        for label, n in (("bad_signature", 2), ("bad_encoding", 2), ("bad_json", 2),
                         ("too_large", 1)):
            assert a.m("gameday_clothes_cookies_refused_total", reason=label) == n, label
        # the genuine cookie still works, unchanged by the attempts
        assert cart_of(u)["items"] == [{"product": 2, "qty": 1,
                                        "price_cents": cat[2]["price_cents"]}]
        assert a.m("gameday_clothes_sessions_new_total") == 1


def test_a_cart_over_4kb_is_refused_413_and_the_old_cookie_stays_valid(lock, tmp_path):
    with shop(tmp_path, f"127.{NET}.0.10", "i-ck-big", "cookie", GAMEDAY_SESSION_KEY=KEY) as a:
        cat = catalogue(a.base)
        u = Shopper(a.base)
        lines = []
        refused = None
        for pid in range(1, 201):
            cookie = seal(KEY, session_text(lines + [(pid, 1, cat[pid]["price_cents"])]))
            r = u.call("POST", "/cart/items", {"product": pid, "qty": 1})
            if len("session=" + cookie) > 4096:
                refused = (pid, r, len("session=" + cookie))
                break
            assert r.status == 200, (pid, len(cookie), r)
            lines.append((pid, 1, cat[pid]["price_cents"]))
            assert u.jar["session"] == cookie
        assert refused, "200 lines should not fit in 4 KB"
        pid, r, size = refused
        assert 4096 < size < 4200 and len(lines) > 50, (size, len(lines))
        assert r.status == 413, r
        assert r.json() == {"error": "cart too large for a cookie session (4 KB): remove items "
                                     "or use server-side sessions"}
        assert r.header("Set-Cookie") is None
        assert a.m("gameday_clothes_sessions_too_large_total") == 1
        # the previous cookie is still the session, and the shop still serves
        assert [i["product"] for i in cart_of(u)["items"]] == [p for p, _, _ in lines]
        # the order history is in the cookie too: a checkout that would keep this cart as an
        # order does not fit either, and says so; a smaller cart checks out
        r = u.call("POST", "/checkout")
        assert r.status == 413 and r.json()["error"].startswith(
            "session too large for a cookie session (4 KB)"), r
        for p, _, _ in lines[10:]:
            assert u.call("DELETE", f"/cart/items/{p}").status == 200
        r = u.call("POST", "/checkout")
        assert r.status == 201 and len(r.json()["items"]) == 10, r
        assert http("GET", f"http://{a.base}/health").status == 200


# ---------------------------------------------------------------------------- redis


class Redis:
    """A real redis-server on REDIS_IP:port, started and stopped by the test."""

    def __init__(self, tmp, port, *extra):
        self.port, self.tmp, self.extra = port, tmp, extra
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", REDIS_IP, "--save", "",
             "--appendonly", "no", "--dir", str(self.tmp), *self.extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: self.command("PING", auth=True) == b"+PONG\r\n", 10,
                   "redis-server up",
                   alive=lambda w: self.proc.poll() is None or pytest.fail("redis exited"))
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            self.proc.wait(10)

    def command(self, *args, auth=False):
        """One command in RESP (after an AUTH when the server wants a password): the
        raw reply, its first line and, for a bulk string, its body."""
        with socket.create_connection((REDIS_IP, self.port), timeout=2) as s:
            f = s.makefile("rb")
            msgs = [args]
            if auth and "--requirepass" in self.extra:
                msgs.insert(0, ("AUTH", self.extra[self.extra.index("--requirepass") + 1]))
            reply = b""
            for m in msgs:
                s.sendall(f"*{len(m)}\r\n".encode() +
                          b"".join(f"${len(a)}\r\n{a}\r\n".encode() for a in m))
                reply = f.readline()
                if reply.startswith(b"$") and int(reply[1:]) >= 0:
                    reply += f.read(int(reply[1:]) + 2)
            return reply


@contextlib.contextmanager
def redis(tmp, port=16379, *extra):
    if not HAVE_REDIS:
        pytest.skip(NO_REDIS)
    r = Redis(tmp, port, *extra).start()
    try:
        yield r
    finally:
        r.stop()


def redis_env(port, **kw):
    return dict({"GAMEDAY_REDIS": f"{REDIS_IP}:{port}", "GAMEDAY_REDIS_TIMEOUT_MS": "300"}, **kw)


def store_up(s):
    return s.m("gameday_clothes_session_store_up") == 1


@pytest.mark.skipif(not HAVE_REDIS, reason=NO_REDIS)
def test_redis_sessions_survive_other_instances_and_kill_9(lock, tmp_path):
    with redis(tmp_path, 16379) as rd, \
            shop(tmp_path, f"127.{NET}.0.10", "i-rd-a", "redis", **redis_env(16379)) as a, \
            shop(tmp_path, f"127.{NET}.0.11", "i-rd-b", "redis", **redis_env(16379)) as b:
        for s in (a, b):
            wait_until(lambda: store_up(s), 10, f"{s.id} connected to redis", alive=s.alive)
        assert re.search(r"ev=redis_up addr=127\.231\.0\.50:16379", a.log_text())
        u = Shopper(a.base)
        r = u.call("POST", "/cart/items", {"product": 11, "qty": 3})
        assert r.status == 200 and r.header("X-Session") == "new"
        sid = u.jar["sid"]
        # the session is in Redis, with its TTL: 3600 game s = 60 wall s at x60
        stored = rd.command("GET", f"sess:{sid}")
        assert b'"product":11,"qty":3' in stored, stored
        ttl = int(rd.command("PTTL", f"sess:{sid}")[1:].split(b"\r\n")[0])
        assert 50000 < ttl <= 60000, ttl
        u.base = b.base
        r = u.call("GET", "/cart")
        assert r.header("X-Session") is None and r.header("X-Instance-Id") == "i-rd-b"
        assert [(i["product"], i["qty"]) for i in r.json()["items"]] == [(11, 3)]
        assert u.call("POST", "/cart/items", {"product": 12, "qty": 1}).status == 200

        # kill -9 of a and a new a on its address: the cart is still there
        a.proc.send_signal(signal.SIGKILL)
        a.proc.wait(5)
        with shop(tmp_path, f"127.{NET}.0.10", "i-rd-a", "redis", **redis_env(16379)) as a2:
            wait_until(lambda: store_up(a2), 10, "the new a connected", alive=a2.alive)
            u.base = a2.base
            r = u.call("GET", "/cart")
            assert r.header("X-Session") is None
            assert [i["product"] for i in r.json()["items"]] == [11, 12]
            assert u.call("POST", "/checkout").status == 201
            assert a2.m("gameday_clothes_sessions_lost_total") == 0
        # an id the store does not know (expired, made up): a new session, counted
        v = Shopper(b.base)
        v.jar = {"sid": "0" * 32}
        r = v.call("GET", "/cart")
        assert r.header("X-Session") == "new" and v.jar["sid"] != "0" * 32
        assert b.m("gameday_clothes_sessions_lost_total") == 1


@pytest.mark.skipif(not HAVE_REDIS, reason=NO_REDIS)
def test_redis_down_is_503_then_the_shop_recovers(lock, tmp_path):
    with redis(tmp_path, 16380) as rd, \
            shop(tmp_path, f"127.{NET}.0.10", "i-rd-down", "redis", **redis_env(16380)) as a:
        wait_until(lambda: store_up(a), 10, "connected to redis", alive=a.alive)
        u = Shopper(a.base)
        assert u.call("POST", "/cart/items", {"product": 20, "qty": 1}).status == 200

        # redis stops answering (SIGSTOP): the request fails after the 300 ms timeout
        rd.proc.send_signal(signal.SIGSTOP)
        t0 = time.monotonic()
        r = u.call("GET", "/cart")
        took = time.monotonic() - t0
        assert r.status == 503 and r.json() == {"error": "session store unavailable"}, r
        assert took < 2.5, f"{took:.2f} s"
        for _ in range(5):  # the store is down now: refused at once, no new session
            r = u.call("POST", "/cart/items", {"product": 21, "qty": 1})
            assert r.status == 503 and r.header("Set-Cookie") is None
        assert a.m("gameday_clothes_redis_errors_total", kind="timeout") == 1
        assert a.m("gameday_clothes_redis_errors_total", kind="unavailable") >= 1
        assert len(re.findall(r"ev=redis_down", a.log_text())) == 1, a.log_text()

        # it answers again: the shop reconnects and the cart is intact
        rd.proc.send_signal(signal.SIGCONT)
        wait_until(lambda: store_up(a), 10, "reconnected", alive=a.alive)
        assert [i["product"] for i in cart_of(u)["items"]] == [20]
        assert len(re.findall(r"ev=redis_up", a.log_text())) == 2

        # redis exits: refused at once, one more redis_down line, however many requests
        rd.stop()
        wait_until(lambda: not store_up(a), 10, "the loss noticed", alive=a.alive)
        for _ in range(5):
            t0 = time.monotonic()
            assert u.call("GET", "/cart").status == 503
            assert time.monotonic() - t0 < 1
        assert len(re.findall(r"ev=redis_down", a.log_text())) == 2, a.log_text()
        assert a.m("gameday_instance_busy_slots") == 0, "no slot held for a down store"

        # a new redis on the same address: served again; it kept nothing (no persistence),
        # so the cart is gone and the shop says so
        rd.start()
        wait_until(lambda: store_up(a), 10, "reconnected to the new redis", alive=a.alive)
        r = u.call("GET", "/cart")
        assert r.status == 200 and r.header("X-Session") == "new" and r.json()["items"] == []
        assert a.m("gameday_clothes_sessions_lost_total") == 1
        assert a.proc.poll() is None


@pytest.mark.skipif(not HAVE_REDIS, reason=NO_REDIS)
def test_redis_auth_with_the_password_and_refused_without(lock, tmp_path):
    with redis(tmp_path, 16381, "--requirepass", "s3cret"):
        with shop(tmp_path, f"127.{NET}.0.10", "i-rd-auth", "redis",
                  **redis_env(16381, GAMEDAY_REDIS_USER="default",
                              GAMEDAY_REDIS_PASSWORD="s3cret")) as a:
            wait_until(lambda: store_up(a), 10, "authenticated", alive=a.alive)
            assert Shopper(a.base).call("POST", "/cart/items",
                                        {"product": 1, "qty": 1}).status == 200
        with shop(tmp_path, f"127.{NET}.0.11", "i-rd-noauth", "redis",
                  **redis_env(16381, GAMEDAY_REDIS_PASSWORD="wrong")) as b:
            wait_until(lambda: "WRONGPASS" in b.log_text(), 10, "the refusal logged",
                       alive=b.alive)
            assert not store_up(b)
            r = Shopper(b.base).call("GET", "/cart")
            assert r.status == 503 and r.json() == {"error": "session store unavailable"}
            assert b.m("gameday_clothes_redis_connects_total", result="failed") >= 1


# ---------------------------------------------------------------------------- usage


def test_bad_settings_are_refused_at_start(tmp_path):
    cases = [
        ({"GAMEDAY_SESSIONS": "disk"}, "unknown mode 'disk' (allowed: memory, cookie, redis)"),
        ({"GAMEDAY_SESSIONS": "cookie"}, "cookie sessions need --session-key"),
        ({"GAMEDAY_SESSIONS": "cookie", "GAMEDAY_SESSION_KEY": "abc"},
         "cookie sessions need --session-key"),
        ({"GAMEDAY_SESSIONS": "redis"}, "redis sessions need --redis or GAMEDAY_REDIS"),
        ({"GAMEDAY_SESSIONS": "redis", "GAMEDAY_REDIS": "localhost:6379"},
         "IP:PORT of the Redis server"),
        ({"GAMEDAY_SESSION_TTL": "soon"}, "is not a whole number 1..2592000"),
    ]
    for env, want in cases:
        r = subprocess.run([gameday_bin(), "instance", "clothes", "--addr", f"127.{NET}.0.99:1"],
                           env=dict(os.environ, **env), capture_output=True, text=True,
                           timeout=10)
        assert r.returncode == 2, (env, r.stderr)
        assert want in r.stderr, (env, r.stderr)


# ---------------------------------------------------------------------------- in a game


@pytest.fixture(scope="module")
def game(tmp_path_factory):
    yield from shared_game(tmp_path_factory, scenario_path("clothes.yaml"), "clothes",
                           port=18531, speed=60, net=NET, customers=False)


def res(g, name):
    return g.get(f"/resources/{name}")["status"]


def served_by(g, name):
    st = res(g, name)
    return f"{st['ip']}:{st['port']}"


def test_the_launcher_gives_a_team_its_key_its_redis_and_its_mode(game, tmp_path):
    ids = {n: game.get(f"/resources/{n}")["id"] for n in ("c1", "c2", "m1", "m2", "r1")}
    logs = game.out / "logs"
    for n in ids:
        game.wait_until(lambda: (logs / f"{ids[n]}.log").exists() and
                        "ev=ready" in (logs / f"{ids[n]}.log").read_text(), 20, f"{n} ready")
    assert "sessions=cookie" in (logs / f"{ids['c1']}.log").read_text()
    assert "sessions=memory" in (logs / f"{ids['m1']}.log").read_text()

    # cookies through the round-robin load balancer: both shops share the team's key
    lb = served_by(game, "cookie-lb")
    game.wait_until(lambda: http("GET", f"http://{lb}/products/1").status == 200, 30,
                    "the cookie shops in service")
    u = Shopper(lb)
    assert u.call("POST", "/cart/items", {"product": 8, "qty": 2}).status == 200
    seen = set()
    for _ in range(6):
        r = u.call("GET", "/cart")
        assert r.status == 200 and r.header("X-Session") is None, r
        assert [(i["product"], i["qty"]) for i in r.json()["items"]] == [(8, 2)]
        seen.add(r.header("X-Instance-Id"))
    assert seen == {ids["c1"], ids["c2"]}, f"round robin reached both: {seen}"

    # memory sessions behind the same kind of balancer: the other shop does not know it
    lb = served_by(game, "memory-lb")
    game.wait_until(lambda: http("GET", f"http://{lb}/products/1").status == 200, 30,
                    "the memory shops in service")
    u = Shopper(lb)
    assert u.call("POST", "/cart/items", {"product": 8, "qty": 2}).status == 200
    news = [u.call("GET", "/cart").header("X-Session") for _ in range(4)]
    assert "new" in news, "round robin sent the shopper to a shop without the session"

    # the redis shop was told 127.T.0.50:16390 as 127.231.0.50:16390: start it there
    r1 = ids["r1"]
    if not HAVE_REDIS:
        pytest.skip(NO_REDIS)
    with redis(tmp_path, 16390):
        base = served_by(game, "r1")
        wait_until(lambda: metric(base, "gameday_clothes_session_store_up", r1) == 1, 15,
                   "r1 connected to the redis the template names")
        assert f"ev=redis_up addr={REDIS_IP}:16390" in (logs / f"{r1}.log").read_text()
        assert Shopper(base).call("POST", "/cart/items", {"product": 1, "qty": 1}).status == 200
