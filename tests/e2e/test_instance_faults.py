"""Faults on an instance (a chaos experiment's slot_hog, disk_full, latency): the real
`gameday instance unicorn` reads its fault file (GAMEDAY_FAULT_FILE) at start and on
SIGHUP, as the server's reconciler makes it do, and the faults act on its real slots and
answers, as a client measures them. Addresses: 127.225.0.0/16 (net 225)."""

import json
import os
import re
import signal
import threading
import time

import pytest

from conftest import daemon, http, net_lock, wait_until

NET = 225
ADDR = (f"127.{NET}.0.10", 8080)
BASE = f"http://{ADDR[0]}:{ADDR[1]}"
SERVICE_S = 1.0  # wall seconds a request holds a slot: 60 game s at speed 60
ENV = {"GAMEDAY_SPEED": "60", "GAMEDAY_SLOTS": "2", "GAMEDAY_QUEUE": "8",
       "GAMEDAY_SERVICE_MS": str(int(SERVICE_S * 60 * 1000)), "GAMEDAY_INSTANCE_ID": "i-faulty"}


@pytest.fixture(scope="module")
def lock():
    f = net_lock(net=NET)
    yield
    f.close()


class Instance:
    def __init__(self, proc, fault_file, log):
        self.proc, self.fault_file, self.log = proc, fault_file, log

    def faults(self, *faults):
        """Writes the fault file as the server does (whole, by rename) and SIGHUPs; no
        fault removes the file."""
        if faults:
            tmp = self.fault_file.with_suffix(".tmp")
            tmp.write_text(json.dumps({"faults": list(faults)}))
            os.rename(tmp, self.fault_file)
        elif self.fault_file.exists():
            self.fault_file.unlink()
        self.proc.send_signal(signal.SIGHUP)

    def log_text(self):
        return self.log.read_text()

    def alive(self, what):
        assert self.proc.poll() is None, f"the instance exited before {what}"


@pytest.fixture(scope="module")
def inst(lock, tmp_path_factory):
    d = tmp_path_factory.mktemp("faults")
    env = dict(ENV, GAMEDAY_EPOCH_NS=str(time.monotonic_ns()),
               GAMEDAY_FAULT_FILE=str(d / "i-faulty.json"))
    with daemon(["instance", "unicorn", "--addr", f"{ADDR[0]}:{ADDR[1]}"], f"{BASE}/health",
                d / "err", env=env) as p:
        yield Instance(p, d / "i-faulty.json", d / "err")


@pytest.fixture(autouse=True)
def no_fault_left(request):
    yield
    if "inst" in request.fixturenames:
        i = request.getfixturevalue("inst")
        i.faults()
        wait_until(lambda: not any(v for k, v in metrics().items() if "fault_active" in k), 5,
                   "every fault off after the test", alive=i.alive)


def metrics(base=BASE):
    out = {}
    for line in http("GET", f"{base}/metrics").body.decode().splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def m(name, kind=None, instance="i-faulty"):
    labels = f'instance="{instance}"' + (f',kind="{kind}"' if kind else "")
    return f"{name}{{{labels}}}"


def active(kind, base=BASE, instance="i-faulty"):
    return metrics(base)[m("gameday_instance_fault_active", kind, instance)] == 1


def concurrently(n, path="/?key=k"):
    """n GETs at once; (their statuses, wall seconds until the last answered)."""
    results = [None] * n

    def call(i):
        results[i] = http("GET", f"{BASE}{path}{i}", timeout=30).status

    ts = [threading.Thread(target=call, args=(i,)) for i in range(n)]
    t0 = time.monotonic()
    for t in ts:
        t.start()
    return results, ts, t0


def join(results, ts, t0):
    for t in ts:
        t.join()
    return results, time.monotonic() - t0


def test_slot_hog_halves_the_concurrency(inst):
    # no fault: two slots serve two requests at once, in about one service time
    statuses, took = join(*concurrently(2))
    assert statuses == [200, 200]
    assert took < 1.7 * SERVICE_S, f"two slots: {took:.2f} s for two requests"
    assert not active("slot_hog")

    inst.faults({"id": "f-hog", "kind": "slot_hog", "slots": 1})
    wait_until(lambda: active("slot_hog"), 5, "slot_hog in force", alive=inst.alive)
    assert re.search(r"ev=fault_on kind=slot_hog slots=1 capacity=1 of=2", inst.log_text())
    assert metrics()[m("gameday_instance_hogged_slots")] == 1
    results, ts, t0 = concurrently(2)
    # one is served, the other waits in the queue for the only slot left
    wait_until(lambda: (lambda x: x[m("gameday_instance_busy_slots")] == 1 and
                        x[m("gameday_instance_queue_depth")] == 1)(metrics()), 5,
               "one request served and one queued", alive=inst.alive)
    assert metrics()[m("gameday_instance_cpu_utilization")] == 1, "the hog shows as CPU"
    statuses, took = join(results, ts, t0)
    assert statuses == [200, 200]
    assert took >= 1.8 * SERVICE_S, f"one slot: {took:.2f} s for two requests"


def test_removing_the_hog_starts_the_queued_requests(inst):
    inst.faults({"id": "f-hog", "kind": "slot_hog", "slots": 5})  # more than it has
    wait_until(lambda: active("slot_hog"), 5, "slot_hog in force", alive=inst.alive)
    results, ts, t0 = concurrently(2)
    wait_until(lambda: metrics()[m("gameday_instance_queue_depth")] == 2, 5,
               "both requests queued: no slot is free", alive=inst.alive)
    assert metrics()[m("gameday_instance_busy_slots")] == 0
    assert all(r is None for r in results), "nothing answered while every slot is hogged"
    t_off = time.monotonic()
    inst.faults()
    statuses, _ = join(results, ts, t0)
    took = time.monotonic() - t_off
    assert statuses == [200, 200]
    assert took < 1.7 * SERVICE_S, f"both took a slot given back at once ({took:.2f} s)"
    wait_until(lambda: "ev=fault_off kind=slot_hog capacity=2" in inst.log_text(), 5,
               "fault_off in the log", alive=inst.alive)


def test_disk_full_answers_500_without_a_slot(inst):
    inst.faults({"id": "f-disk", "kind": "disk_full"})
    wait_until(lambda: active("disk_full"), 5, "disk_full in force", alive=inst.alive)
    for path in ("/health", "/?key=k1"):
        t0 = time.monotonic()
        r = http("GET", f"{BASE}{path}")
        assert r.status == 500 and r.body == b"No space left on device", (path, r)
        assert r.header("X-Instance-Id") == "i-faulty"
        assert time.monotonic() - t0 < 0.5 * SERVICE_S, "answered at once, not after a slot"
    x = metrics()
    assert x[m("gameday_instance_busy_slots")] == 0
    assert x[m("gameday_instance_fault_answers_total", "disk_full")] >= 2
    inst.faults()
    wait_until(lambda: http("GET", f"{BASE}/health").status == 200, 5, "healthy again",
               alive=inst.alive)
    assert http("GET", f"{BASE}/?key=k1", timeout=10).status == 200
    assert "ev=fault_off kind=disk_full" in inst.log_text()


def test_latency_delays_each_answer(inst):
    inst.faults({"id": "f-slow", "kind": "latency", "latency_ms": 600})
    wait_until(lambda: active("latency"), 5, "latency in force", alive=inst.alive)
    t0 = time.monotonic()
    assert http("GET", f"{BASE}/health").status == 200
    assert time.monotonic() - t0 >= 0.55, "the health check waits 600 ms"
    t0 = time.monotonic()
    assert http("GET", f"{BASE}/?key=k").status == 200
    assert time.monotonic() - t0 >= SERVICE_S + 0.55, "service time, then the delay"
    inst.faults()
    wait_until(lambda: not active("latency"), 5, "latency off", alive=inst.alive)
    t0 = time.monotonic()
    assert http("GET", f"{BASE}/health").status == 200
    assert time.monotonic() - t0 < 0.4


def test_a_bad_fault_file_keeps_the_faults_in_force(inst):
    inst.faults({"id": "f-hog", "kind": "slot_hog", "slots": 1})
    wait_until(lambda: active("slot_hog"), 5, "slot_hog in force", alive=inst.alive)
    bad = [{"kind": "cpu_stress"}, {"kind": "slot_hog", "slots": -1},
           {"kind": "latency", "latency_ms": "slow"}]
    for n, fault in enumerate(bad, 1):
        inst.faults(fault)
        wait_until(lambda: inst.log_text().count("ev=fault_file_bad") == n, 5,
                   f"bad file {n} refused", alive=inst.alive)
        assert active("slot_hog") and not active("disk_full"), "the previous faults stay"
    inst.fault_file.write_text("{\"faults\": [")  # not JSON
    inst.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: inst.log_text().count("ev=fault_file_bad") == 4, 5, "junk refused",
               alive=inst.alive)
    lines = [x for x in inst.log_text().splitlines() if "ev=fault_file_bad" in x]
    assert all(f"path={inst.fault_file} error=" in x for x in lines), lines
    assert "faults[0].kind: unknown kind" in lines[0] and "cpu_stress" in lines[0], lines[0]
    assert "faults[0].slots:" in lines[1] and "faults[0].latency_ms:" in lines[2], lines
    assert active("slot_hog")
    assert http("GET", f"{BASE}/health").status == 200


def test_a_fault_file_there_at_start_is_read(lock, tmp_path):
    addr, base = (f"127.{NET}.0.11", 8080), f"http://127.{NET}.0.11:8080"
    ff = tmp_path / "i-born-faulty.json"
    ff.write_text(json.dumps({"faults": [{"id": "f-1", "kind": "slot_hog", "slots": 2}]}))
    env = dict(ENV, GAMEDAY_EPOCH_NS=str(time.monotonic_ns()), GAMEDAY_FAULT_FILE=str(ff),
               GAMEDAY_INSTANCE_ID="i-born-faulty")
    with daemon(["instance", "unicorn", "--addr", f"{addr[0]}:{addr[1]}"], f"{base}/health",
                tmp_path / "err", env=env):
        x = metrics(base)
        assert x[m("gameday_instance_fault_active", "slot_hog", "i-born-faulty")] == 1
        assert x[m("gameday_instance_hogged_slots", instance="i-born-faulty")] == 2
        assert "ev=fault_on kind=slot_hog slots=2 capacity=0 of=2" in (tmp_path / "err").read_text()
