"""SIGKILL of an instance behind the ALB under steady load: customers see no error,
the target leaves rotation within one health-check interval, and a restarted one
comes back after the healthy threshold. Real binaries: three unicorn instances, one
edge in alb mode, the real loadgen as the customers."""
import json
import os
import signal
import subprocess
import time
import urllib.request

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("GAMEDAY_BIN", os.path.join(ROOT, "build", "gameday"))
SPEED = 60
NET = "127.78"  # addresses of this test only
INTERVAL, HEALTHY, UNHEALTHY = 30, 5, 2  # ALB health-check defaults, game seconds


def wait_until(pred, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.01)
    pytest.fail("timed out waiting for " + what)


def stats():
    with urllib.request.urlopen("http://%s.0.4:9901/stats" % NET, timeout=2) as r:
        return json.load(r)


def target(tid):
    for t in stats()["targets"]:
        if t["id"] == tid:
            return t
    return {}


def state_of(tid):
    return target(tid).get("state")


def in_rotation(tid):
    t = target(tid)
    return t.get("state") == "InService" and not t.get("ejected")


@pytest.fixture
def fleet(tmp_path):
    env = dict(os.environ, GAMEDAY_SPEED=str(SPEED), GAMEDAY_EPOCH_NS=str(time.monotonic_ns()))
    procs = {}

    def instance(n):
        p = subprocess.Popen([BIN, "instance", "unicorn", "--addr", "%s.1.%d:8000" % (NET, n),
                              "--id", "i-%d" % n, "--salt", "unicorn-rentals",
                              "--service-ms", "400", "--slots", "20"],
                             env=env, stderr=subprocess.DEVNULL)
        procs["i-%d" % n] = p
        return p

    for n in (4, 5, 6):
        instance(n)
    cfg = {"mode": "alb", "id": "alb-e2e", "name": "e2e", "listen": NET + ".0.4:8080",
           "target_groups": [{"name": "web",
                              "health_check": {"interval": INTERVAL, "timeout": 5,
                                               "healthy_threshold": HEALTHY,
                                               "unhealthy_threshold": UNHEALTHY},
                              "targets": [{"id": "i-%d" % n, "addr": "%s.1.%d:8000" % (NET, n),
                                           "healthy": True} for n in (4, 5, 6)]}],
           "default_action": {"type": "forward", "target_group": "web"}}
    (tmp_path / "alb.json").write_text(json.dumps(cfg))
    procs["edge"] = subprocess.Popen([BIN, "edge", "--admin", NET + ".0.4:9901", "--config",
                                      str(tmp_path / "alb.json")], env=env,
                                     stderr=open(tmp_path / "edge.log", "w"))
    wait_until(lambda: all(state_of("i-%d" % n) == "InService" for n in (4, 5, 6))
               if _up() else False, 10, "the edge and its targets")
    yield env, procs, instance, tmp_path
    for p in procs.values():
        if p.poll() is None:
            p.kill()
        p.wait()


def _up():
    try:
        stats()
        return True
    except OSError:
        return False


def test_killed_instance_costs_customers_nothing(fleet):
    env, procs, instance, tmp = fleet
    log = open(tmp / "loadgen.log", "w")
    lg = subprocess.Popen([BIN, "loadgen", "--scenario", os.path.join(ROOT, "scenarios",
                                                                      "unicorn-rentals.yaml"),
                           "--endpoint", NET + ".0.4:8080", "--rate", "20", "--duration", "6m"],
                          env=env, stderr=log)
    procs["loadgen"] = lg
    # Steady load first: the fleet is serving.
    wait_until(lambda: stats()["2xx"] > 200, 10, "steady traffic through the ALB")
    procs["i-5"].send_signal(signal.SIGKILL)
    killed_at = time.monotonic()
    wait_until(lambda: not in_rotation("i-5"), 5, "the killed target to leave rotation")
    left_after = (time.monotonic() - killed_at) * SPEED
    assert left_after <= INTERVAL, "left rotation after %.0f game s" % left_after
    # Health checks agree (unhealthy threshold), then a new process on the same address
    # comes back after the healthy threshold.
    wait_until(lambda: state_of("i-5") == "OutOfService", 5, "health checks to mark it down")
    procs["i-5"].wait()
    instance(5)
    started = time.monotonic()
    wait_until(lambda: in_rotation("i-5"), 15, "the restarted target to return")
    back_after = (time.monotonic() - started) * SPEED
    assert back_after >= (HEALTHY - 1) * INTERVAL, "back after only %.0f game s" % back_after
    assert lg.wait(timeout=60) == 0
    log.close()
    done = [l for l in open(tmp / "loadgen.log") if "ev=done" in l][-1]
    counts = dict(kv.split("=") for kv in done.split() if kv.split("=")[0] in
                  ("ok", "error", "timeout", "wrong"))
    assert int(counts["ok"]) > 1000, done
    assert counts["error"] == "0" and counts["timeout"] == "0" and counts["wrong"] == "0", done
    s = stats()
    assert s["retries"] > 0, "the kill was not noticed by any request"
    assert s["elb_5xx"] == 0
