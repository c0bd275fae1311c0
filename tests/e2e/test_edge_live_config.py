"""Configuration changes apply live with no failed request: an edge under a steady
open-loop load (`gameday openloop`, real HTTP) gets a new configuration every 100 ms,
moving targets between target groups, removing and adding targets, changing rules and
the algorithm (alb), or the cache policy, TTLs and origin (cdn). Every request of the
load must be answered 2xx. Real processes: unicorn instances and `gameday edge` on
127.247.0.0/16, which no other test uses."""

import json
import os
import subprocess
import time
import urllib.request

import pytest

from conftest import SANITIZER_MARKS, gameday_bin, wait_until

BIN = gameday_bin()
NET = "127.247"
TOKEN = "live-config-token"
EDGE = NET + ".0.4:8080"
ADMIN = NET + ".0.4:9901"
RATE, SECONDS = 250, 3


def inst(n):
    return {"id": "i-%d" % n, "addr": "%s.1.%d:8000" % (NET, n), "healthy": True}


def admin(method, path, body=None):
    req = urllib.request.Request("http://%s%s" % (ADMIN, path), method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Authorization": "Bearer " + TOKEN,
                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as r:
        return r.status, json.loads(r.read() or b"null")


def stats():
    return admin("GET", "/stats")[1]


@pytest.fixture
def cluster(tmp_path):
    env = dict(os.environ, GAMEDAY_SPEED="1", GAMEDAY_EPOCH_NS=str(time.monotonic_ns()),
               GAMEDAY_ADMIN_TOKEN=TOKEN)
    procs = []
    # 20 ms a request: requests are in flight on every target when a change lands.
    for n in (1, 2, 3, 4):
        procs.append(subprocess.Popen([BIN, "instance", "unicorn", "--addr", inst(n)["addr"],
                                       "--id", "i-%d" % n, "--service-ms", "20", "--slots", "50",
                                       "--queue", "200"], env=env, stderr=subprocess.DEVNULL))

    def start(cfg):
        path = tmp_path / "edge.json"
        path.write_text(json.dumps(cfg))
        p = subprocess.Popen([BIN, "edge", "--admin", ADMIN, "--config", str(path)], env=env,
                             stderr=open(tmp_path / "edge.log", "w"))
        procs.append(p)
        wait_until(lambda: stats()["version"] >= 1, 10, "the edge to take its first config")
        return p

    yield start
    for p in procs:
        p.terminate()
    for p in procs:
        p.wait(10)
    log = (tmp_path / "edge.log").read_text(errors="replace")
    assert not [l for l in log.splitlines() if any(m in l for m in SANITIZER_MARKS)], log


def load(path):
    """Starts an open-loop load of RATE req/s for SECONDS at the edge."""
    return subprocess.Popen([BIN, "openloop", "http://%s%s" % (EDGE, path), "--rate", str(RATE),
                             "--seconds", str(SECONDS), "--warmup", "0", "--conns", "32",
                             "--timeout", "5", "--json", "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def answered_while_swapping(configs, paths):
    """Loads the edge at every path while PUTting the configs in turn every 100 ms; checks
    that every request was answered and every configuration applied. Returns the edge's
    stats and the last configuration applied."""
    v0 = stats()["version"]
    gens = [load(p) for p in paths]
    applied = 0
    while any(g.poll() is None for g in gens):
        status, _ = admin("PUT", "/config", configs[applied % len(configs)])
        assert status == 200
        applied += 1
        time.sleep(0.1)  # the pace of the changes, not a synchronisation
    for g in gens:
        out, err = g.communicate(timeout=30)
        res = json.loads(out.strip().splitlines()[-1])
        assert res["ok"] == RATE * SECONDS, (res, stats())
        assert res["errors"] == res["timeouts"] == res["bad_status"] == 0, (res, err)
    s = stats()
    assert applied >= 20 and s["version"] == v0 + applied, (applied, s["version"])
    return s, configs[(applied - 1) % len(configs)]


def alb(web, api, algorithm="round_robin", api_path="/api*"):
    return {"mode": "alb", "id": "alb-live", "name": "live", "listen": EDGE,
            "target_groups": [
                {"name": "web", "algorithm": algorithm, "deregistration_delay": 5,
                 "health_check": {"interval": 300, "timeout": 5},
                 "targets": [inst(n) for n in web]},
                {"name": "api", "deregistration_delay": 5,
                 "health_check": {"interval": 300, "timeout": 5},
                 "targets": [inst(n) for n in api]}],
            "rules": [{"priority": 10, "conditions": {"path": [api_path]},
                       "action": {"type": "forward", "target_group": "api"}}],
            "default_action": {"type": "forward", "target_group": "web"}}


def test_alb_changes_under_load_fail_no_request(cluster):
    configs = [alb([1, 2], [3]),
               alb([2, 3, 4], [4], algorithm="least_outstanding_requests"),
               alb([1, 4], [2, 3], algorithm="weighted_random", api_path="/api/*"),
               alb([3], [1, 2, 4])]
    cluster(configs[0])
    s, last = answered_while_swapping(configs, ["/?key=web", "/api/v1?key=api"])
    assert s["elb_5xx"] == 0 and s["retries"] == 0, s
    # The edge ends with the groups of the last configuration.
    for group in last["target_groups"]:
        assert {t["id"] for t in s["targets"] if t.get("target_group") == group["name"]} == \
            {t["id"] for t in group["targets"]}, (group, s["targets"])


def cdn(origin, **behavior):
    return {"mode": "cdn", "id": "cdn-live", "name": "live", "listen": EDGE,
            "origin": {"addr": inst(origin)["addr"]},
            "cache": {"max_bytes": 1 << 22, "behaviors": [dict(path="*", **behavior)]}}


def test_cdn_changes_under_load_fail_no_request(cluster):
    configs = [cdn(1, query_strings="all", default_ttl=1),
               cdn(2, query_strings="none", min_ttl=0, default_ttl=0, max_ttl=0),
               cdn(3, query_strings={"include": ["key"]}, default_ttl=60,
                   stale_while_revalidate=5),
               cdn(4, query_strings={"except": ["x"]}, default_ttl=2, stale_if_error=10)]
    cluster(configs[0])
    s, _ = answered_while_swapping(configs, ["/?key=a", "/?key=b&x=1"])
    assert s["cache"]["hits"] > 0 and s["cache"]["misses"] > 0, s["cache"]
