"""A Lambda function behind an alb (tests/e2e/scenarios/function.yaml), with the real
binaries: the function is a `gameday lambda` process on its own address, and each
execution environment a real `gameday instance` process of its own; the first
invocations start environments (cold starts, with the init time), later ones reuse
them; past the reserved concurrency invocations are throttled (429, counted; the alb
answers the customer 503 of its own); raising it lets them through; idle environments expire; a killed environment is replaced; the
bill has the requests and the GB-seconds."""

import json
import os
import re
import signal
import urllib.request

import pytest

from conftest import processes, scenario_path, shared_game

SCENARIO = scenario_path("function.yaml")
NET = 254  # team 1 lives at 127.254.0.0/16: no other test uses it
SPEED = 30


@pytest.fixture(scope="module")
def game(tmp_path_factory):
    yield from shared_game(tmp_path_factory, SCENARIO, "function", port=18996, speed=SPEED,
                           net=NET)


def fn(g):
    return g.get("/resources/hash")


def stats(g):
    """The daemon's own counters, as the server last read them (metrics latest)."""
    st = fn(g)["status"]
    with urllib.request.urlopen(f"http://{st['ip']}:9901/stats", timeout=5) as r:
        return json.loads(r.read())


def env_processes(g):
    ip = fn(g)["status"]["ip"]
    return [p for p in processes() if " instance unicorn --addr " + ip + ":" in p.cmdline]


def test_the_function_and_its_environments_are_real_processes(game):
    st = fn(game)["status"]
    assert st["state"] == "active" and st["ip"].startswith(f"127.{NET}.1.")
    daemon = [p for p in processes() if f"lambda --addr {st['ip']}:8000" in p.cmdline]
    assert len(daemon) == 1 and daemon[0].pid == st["pid"], daemon
    game.wait_until(lambda: stats(game)["invocations"] >= 20, 60, "20 invocations")
    envs = env_processes(game)
    s = stats(game)
    assert 1 <= len(envs) == s["environments"] <= 4, (envs, s)
    assert all(re.search(r"--slots 1 --queue 0 --service-ms 2000 ", p.cmdline) for p in envs)
    assert len({p.pid for p in envs}) == len(envs)


def test_cold_starts_then_warm_environments_are_reused(game):
    s = stats(game)
    assert 1 <= s["cold_starts"] <= 4, s
    assert s["completed"] > 4 * s["cold_starts"], "warm environments take most invocations"
    m = game.get("/metrics?resource=hash&metric=InitDuration&statistic=Average&period=60")
    inits = [d["Average"] for d in m["Datapoints"]]
    assert inits and all(v >= 3000 for v in inits), inits  # init_time 3 s, then the process
    print(f"\ncold starts {s['cold_starts']}, completed {s['completed']}, InitDuration {inits} ms")
    d = game.get("/metrics?resource=hash&metric=Duration&statistic=Average&period=60")
    assert all(1900 <= x["Average"] <= 3000 for x in d["Datapoints"]), d


def test_past_the_concurrency_invocations_are_throttled(game):
    game.wait_until(lambda: game.status()["clock"] >= 13 * 60, 60, "the 4 rps phase")
    t0 = stats(game)["throttles"]
    game.wait_until(lambda: stats(game)["throttles"] >= t0 + 20, 60, "20 throttles")
    s = stats(game)
    assert s["environments"] <= 4 and s["peak"] == 4, s
    assert game.team()["errors"] >= 20
    thr = game.get("/metrics?resource=hash&metric=Throttles&statistic=Sum&period=60")
    assert sum(x["Sum"] for x in thr["Datapoints"]) >= 20
    # The alb answers a throttled invocation with a 503 of its own, as AWS's does.
    e = game.edge_stats()
    assert e["elb_5xx"] >= 20 and e["4xx"] == 0, {k: e[k] for k in ("elb_5xx", "4xx", "5xx")}
    # More reserved concurrency: the daemon gets it, and more environments start.
    r = game.call("PATCH", "/resources/hash", {"spec": {"reserved_concurrency": 10}})
    assert r.status == 200, r
    game.wait_until(lambda: stats(game)["concurrency"] == 10, 30, "the new concurrency")
    c0 = stats(game)["cold_starts"]
    game.wait_until(lambda: stats(game)["cold_starts"] > c0, 30, "a fifth environment")
    print(f"\nfunction at 4 rps, concurrency 4: {s['invocations']} invocations, "
          f"{s['throttles']} throttles, {s['cold_starts']} cold starts, peak {s['peak']}")
    too_many = game.call("PATCH", "/resources/hash", {"spec": {"reserved_concurrency": 5000}})
    assert too_many.status == 400 and "reserved_concurrency" in json.dumps(too_many.json())


def test_a_killed_environment_is_replaced(game):
    envs = env_processes(game)
    assert envs
    os.kill(envs[0].pid, signal.SIGKILL)
    game.wait_until(lambda: envs[0].pid not in {p.pid for p in env_processes(game)}, 30,
                    "the killed environment to go")
    c0 = stats(game)["cold_starts"]
    game.wait_until(lambda: stats(game)["cold_starts"] > c0 or game.status()["clock"] > 20 * 60,
                    60, "another cold start")
    assert game.running()


def test_the_bill_has_requests_and_gb_seconds(game):
    game.wait_until(lambda: any(l["line"].startswith("Lambda")
                                for l in game.get("/bill")["by_line"]), 60, "a Lambda bill line")
    lines = {l["line"]: l for l in game.get("/bill")["by_line"]}
    assert lines["Lambda requests"]["quantity"] > 0
    assert lines["Lambda duration (GB-seconds)"]["quantity"] > 0
    # 1024 MB: one GB-second per game second of invocation (each rounded up to the ms)
    s = stats(game)
    assert abs(s["gb_seconds"] - s["duration_ms"] / 1000) < 0.05 * s["gb_seconds"] + 1


def test_idle_environments_expire(game):
    game.wait_until(lambda: game.status()["clock"] >= 20 * 60, 90, "the customers to stop")
    game.wait_until(lambda: stats(game)["environments"] == 0, 60,
                    "the idle environments to expire (idle_timeout 5m)")
    game.wait_until(lambda: not env_processes(game), 10, "their processes to exit")
