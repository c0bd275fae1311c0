"""MyClothes.com's virtual shoppers (service.kind clothes, doc/clothes.md "The shoppers")
in real games: two shop instances behind an alb, shoppers with cookie jars who browse,
fill carts and check out, and the server's score of what they found.

- with `sessions: memory` and round robin, carts are lost, counted in the status, the
  loadgen's metrics and the ledger (with the instance that did not know the session),
  and the score is lower than with `sessions: cookie`, where none is lost;
- checkouts are counted, and a verified order reads back through the shop with its
  shopper's cookies;
- with stickiness, memory sessions lose nothing until an instance is terminated; then
  the carts of its shoppers are lost (counted), and with cookie sessions none is;
- a report whose shop part is malformed or implausible is refused and scores nothing.

Team 1 lives on 127.234.0.0/16 (net 234)."""

import json
import re
import sqlite3
import time
import urllib.request
from http.client import HTTPConnection

import pytest

from conftest import Game, _all_games, _finish, free_port, get_json, hostport, http, scenario_path

NET = 234
LOADGEN = f"127.{NET}.255.250:9100"  # the loadgen's /metrics and /orders
SCENARIO = scenario_path("shoppers.yaml")
SPEED = 30
DURATION_S = 8 * 60  # the scenario's duration, game seconds


def variant(tmp_path, name, sessions="memory", sticky=False, kill_at=None):
    """The test scenario with its marked lines replaced, written to tmp_path."""
    text = SCENARIO.read_text()
    text = text.replace("sessions: memory  # SESSIONS", f"sessions: {sessions}")
    if sticky:
        text = text.replace("stickiness: {type: none}  # STICKINESS",
                            "stickiness: {type: lb_cookie, duration: 1h}")
    if kill_at:
        text = text.replace(
            "events: []  # EVENTS",
            "events:\n  - {at: %ds, action: terminate, target: instance/web2, "
            "principal: chaos-monkey, message: \"web2 terminated\"}" % kill_at)
    p = tmp_path / f"{name}.yaml"
    p.write_text(text)
    return p


def start(scenario, out):
    g = Game(scenario, out, port=free_port(18930), speed=SPEED, net=NET)
    _all_games.append(g)
    g.start()
    g.wait_ready()
    return g


def team(g):
    return g.team()


def ledger(g):
    """Team 1's ledger rows, from the game's store (also after the game ended)."""
    db = sqlite3.connect(f"file:{g.out}/state.db?mode=ro", uri=True)
    try:
        return [dict(zip(("time", "source", "points", "reason"), r)) for r in db.execute(
            "select time, source, points, reason from ledger where team = 1 order by seq")]
    finally:
        db.close()


def loadgen_metrics():
    out = {}
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(
            f"http://{LOADGEN}/metrics", timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                out[name] = float(value)
    return out


def outcome(metrics, name):
    return metrics[f'gameday_loadgen_shop_outcomes_total{{team="1",outcome="{name}"}}']


def run_to_end(g):
    assert g.wait_exit(DURATION_S / SPEED + 60) == 0, g.diagnostics()
    return g.result()


def shop_rows(rows, what):
    return [r for r in rows if r["source"] == "shoppers" and what in r["reason"]]


def instance_ids(g):
    return {i["id"] for i in g.instances()}


# ---------------------------------------------------------------------------- cookie game


@pytest.fixture(scope="module")
def cookie_game(tmp_path_factory):
    """A whole game with cookie sessions; while it runs, one verified order is read back
    through the shop with its shopper's cookies. Yields (result, read_back, ledger)."""
    tmp = tmp_path_factory.mktemp("cookie")
    g = start(variant(tmp, "cookie", sessions="cookie"), tmp / "game")
    try:  # the game ends (and frees the network) before the tests that use it run
        g.wait_until(lambda: team(g).get("checkouts", 0) >= 3, 60, "three checkouts")
        orders = g.wait_until(lambda: get_json(f"http://{LOADGEN}/orders"), 10,
                              "the loadgen's verified orders")
        order = orders[-1]
        host, port = hostport(g.endpoint)
        c = HTTPConnection(host, port, timeout=10)
        c.request("GET", "/orders", headers={"Cookie": order["cookie"]})
        r = c.getresponse()
        back = (r.status, r.read())
        c.close()
        result = run_to_end(g)
        rows = ledger(g)
    finally:
        _finish([g])
    yield result, order, back, rows


def test_cookie_sessions_lose_no_cart(cookie_game):
    result, _, _, rows = cookie_game
    shop = result["shop"]
    assert shop["checkouts"] > 10, shop
    for k in ("carts_lost", "items_lost", "checkouts_failed", "orders_wrong", "stale_prices",
              "sessions_lost"):
        assert shop[k] == 0, (k, shop)
    assert not [r for r in rows if r["source"] == "shoppers"], rows
    assert result["requests"]["error"] == 0 and result["requests"]["wrong"] == 0, result


def test_checkouts_are_counted_and_an_order_reads_back(cookie_game):
    result, order, back, rows = cookie_game
    assert re.fullmatch(r"o-[0-9a-f]{16}", order["order_id"]), order
    assert order["total_cents"] == sum(i["qty"] * i["price_cents"] for i in order["items"])
    assert order["cookie"].startswith("session=") or "session=" in order["cookie"], order
    status, body = back
    assert status == 200, (status, body)
    mine = [o for o in json.loads(body) if o["order_id"] == order["order_id"]]
    assert mine == [{k: order[k] for k in ("order_id", "items", "total_cents")}], (mine, order)
    # every checkout counted by the server is in a customers row's reason
    told = sum(int(m.group(1)) for r in rows if r["source"] == "customers"
               for m in [re.search(r", (\d+) checkouts?$", r["reason"])] if m)
    assert told == result["shop"]["checkouts"], (told, result["shop"])


# ---------------------------------------------------------------------------- memory, round robin


def test_round_robin_memory_sessions_lose_carts_and_score_less(cookie_game, tmp_path):
    g = start(variant(tmp_path, "memory"), tmp_path / "game")
    try:
        st = g.wait_until(lambda: (lambda t: t if t["carts_lost"] >= 5 else None)(team(g)), 60,
                          "five carts lost")
        m = loadgen_metrics()
        assert outcome(m, "cart_lost") >= st["carts_lost"], "the server counts what the loadgen saw"
        assert m['gameday_loadgen_sessions_lost_total{team="1"}'] >= st["carts_lost"]
        server = http("GET", f"{g.api}/metrics").body.decode()
        got = re.search(r'^gameday_shop_outcomes_total\{team="1",outcome="cart_lost"\} (\d+)',
                        server, re.M)
        assert got and int(got.group(1)) >= st["carts_lost"], server[-800:]
        ctl = g.ctl("status").stdout
        assert re.search(r"checkouts \d+  carts lost [1-9]\d*  items lost \d+", ctl), ctl
        ids = instance_ids(g)
        # a report with a bad shop part is refused and changes nothing
        tok = internal_token(g)
        now = g.status()["clock"]
        base = {"team": 1, "t0": now - 30, "t1": now - 29, "ok": 1, "error": 0, "timeout": 0,
                "wrong": 0, "points": 1}
        n = {"checkout": 0, "cart_lost": 0, "item_lost": 0, "checkout_failed": 0,
             "order_wrong": 0, "stale_price": 0}
        bad = [
            ({"n": dict(n, cart_lost=-1)}, "shop.n.cart_lost: must be a count"),
            ({"n": dict(n, cart_lost=2), "by": {"cart_lost": {"on i-x": 1}}}, "add up to 1"),
            ({"n": dict(n, checkout=5)}, "a checkout is a request"),
            ({"n": n, "by": {"boom": {}}}, "not a shop outcome"),
            ("lots", "must be an object"),
        ]
        for shop, want in bad:
            rep = dict(base, seq=time.monotonic_ns() // 1000, shop=shop)
            r = http("POST", g.url("/internal/report"), body=rep, token=tok)
            assert r.status == 400, (shop, r)
            assert want in r.json()["error"]["message"], (shop, r.json())
        result = run_to_end(g)
        rows = ledger(g)
    finally:
        _finish([g])
    shop = result["shop"]
    assert shop["carts_lost"] > 20, shop
    lost = shop_rows(rows, "lost (")
    assert lost, rows
    told = 0
    for r in shop_rows(rows, "cart"):
        m = re.fullmatch(r"(\d+) carts? lost \((.*)\)", r["reason"])
        assert m, r
        told += int(m.group(1))
        assert r["points"] == pytest.approx(-20 * int(m.group(1))), r
        for part in m.group(2).split(", "):
            w = re.fullmatch(r"(new session|emptied) on (i-[0-9a-f]+)( x\d+)?", part)
            assert w and w.group(2) in ids, (part, ids)
    assert told == shop["carts_lost"], (told, shop)
    failed = shop_rows(rows, "checkout")
    assert sum(int(r["reason"].split()[0]) for r in failed) == shop["checkouts_failed"]
    assert all("409 on i-" in r["reason"] for r in failed), failed
    cookie_result = cookie_game[0]
    assert result["score"] < cookie_result["score"] - 1000, (result["score"],
                                                              cookie_result["score"])
    assert shop["checkouts"] < cookie_result["shop"]["checkouts"], (shop, cookie_result["shop"])


def internal_token(g):
    db = sqlite3.connect(f"file:{g.out}/state.db?mode=ro", uri=True)
    try:
        return db.execute("select value from kv where key = 'internal_token'").fetchone()[0]
    finally:
        db.close()


# ---------------------------------------------------------------------------- an instance dies

KILL_AT = 240  # game seconds: web2 is terminated by Chaos Monkey


def play_kill(tmp_path, sessions):
    g = start(variant(tmp_path, sessions, sessions=sessions, sticky=True, kill_at=KILL_AT),
              tmp_path / sessions)
    try:
        g.wait_until(lambda: any(i["name"] == "web2" and i["status"]["state"] == "terminated"
                                 for i in g.instances()), DURATION_S / SPEED + 30,
                     "web2 terminated")
        survivor = [i["id"] for i in g.instances() if i["name"] == "web1"]
        result = run_to_end(g)
        rows = ledger(g)
    finally:
        _finish([g])
    return result, rows, survivor


def test_a_killed_instance_costs_sticky_memory_carts_and_no_cookie_cart(tmp_path):
    result, rows, survivor = play_kill(tmp_path, "memory")
    lost = shop_rows(rows, "cart")
    assert lost, "web2's shoppers lose their carts when it dies"
    assert all(r["time"] > KILL_AT for r in lost), \
        f"with stickiness nothing is lost before the kill: {lost}"
    assert result["shop"]["carts_lost"] == sum(int(r["reason"].split()[0]) for r in lost)
    assert any(f"new session on {survivor[0]}" in r["reason"] for r in lost), (lost, survivor)
    assert result["shop"]["checkouts"] > 10, result["shop"]

    result, rows, _ = play_kill(tmp_path, "cookie")
    assert result["shop"]["carts_lost"] == 0 and result["shop"]["items_lost"] == 0, result["shop"]
    assert not shop_rows(rows, "cart"), rows
    assert result["shop"]["checkouts"] > 10, result["shop"]


# ---------------------------------------------------------------------------- the scenario


def test_my_clothes_plays_twenty_minutes_and_its_carts_vanish(pg_tmp):
    """scenarios/my-clothes.yaml as the README plays it quickly: the untouched shop loses
    carts from the first minutes, Chaos Monkey's kill at 0:12 is in the ledger, and the
    game ends with its result."""
    from conftest import ROOT
    g = Game(ROOT / "scenarios" / "my-clothes.yaml", pg_tmp / "game", port=free_port(18940),
             speed=60, duration="20m", net=NET)
    _all_games.append(g)
    try:
        g.start()
        g.wait_ready()
        assert g.wait_exit(20 * 60 / 60 + 60) == 0, g.diagnostics()
        result = g.result()
        rows = ledger(g)
    finally:
        _finish([g])
    assert result["scenario"] == "my-clothes" and result["state"] == "ended", result
    shop = result["shop"]
    assert shop["carts_lost"] > 100 and shop["checkouts"] > 0, shop
    assert result["score"] < 0, "carts lost cost more than the untouched shop earns"
    kill = [r for r in rows if r["source"] == "chaos-monkey" and "terminated" in r["reason"]]
    assert kill and 12 * 60 <= kill[0]["time"] < 13 * 60, kill
    assert shop_rows(rows, "carts lost (new session on i-"), rows[:20]
