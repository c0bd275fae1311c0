"""`gameday openloop`: the open-loop load generator bench/edge/run compares proxies with.

It must send at the offered rate whatever the server does, and charge a slow server's
queueing to the requests it delays (latency from the time each was due), which a
closed-loop tool hides. Real processes: a unicorn instance on 127.249.0.0/16.
"""

import json
import os
import socket
import subprocess
import time

import pytest

from conftest import gameday_bin, wait_until

BIN = gameday_bin()
ADDR = "127.249.0.1"


def port_open(port):
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((ADDR, port)) == 0


@pytest.fixture
def instance():
    env = dict(os.environ, GAMEDAY_SPEED="1", GAMEDAY_EPOCH_NS=str(time.monotonic_ns()))
    procs = []

    def start(port, service_ms, slots, queue):
        p = subprocess.Popen([BIN, "instance", "unicorn", "--addr", "%s:%d" % (ADDR, port),
                              "--service-ms", str(service_ms), "--slots", str(slots),
                              "--queue", str(queue)], env=env, stderr=subprocess.DEVNULL)
        procs.append(p)
        wait_until(lambda: port_open(port), 10, "instance on port %d" % port)
        return p

    yield start
    for p in procs:
        p.terminate()
        p.wait(10)


def openloop(port, *args):
    r = subprocess.run([BIN, "openloop", "http://%s:%d/?key=openloop" % (ADDR, port),
                        "--json", "--quiet"] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    return r.returncode, json.loads(r.stdout.strip().splitlines()[-1]), r.stderr


def test_sends_the_offered_rate_and_counts_answers(instance):
    instance(18001, 0, 1000, 0)
    code, res, err = openloop(18001, "--rate", "400", "--seconds", "1", "--warmup", "0.2")
    assert code == 0, err
    # 1.2 s at 400/s: 480 sent, the 400 due in the measured second answered.
    assert 478 <= res["sent"] <= 482, res
    assert 398 <= res["ok"] <= 402, res
    assert res["errors"] == 0 and res["timeouts"] == 0 and res["bad_status"] == 0, res
    assert 0 < res["p50_ms"] <= res["p99_ms"] <= res["max_ms"], res


def test_a_slow_server_is_charged_its_queue(instance):
    # One slot of 50 ms serves 20/s; offered 40/s, the line grows by 20 a second, so
    # requests due late in the run wait about half a second or more. A closed-loop
    # client on 64 connections would report about 64 x 50 ms per request at best;
    # what matters here is that the latency grows past the service time many times.
    instance(18002, 50, 1, 1000)
    code, res, err = openloop(18002, "--rate", "40", "--seconds", "2", "--warmup", "0",
                              "--timeout", "20")
    assert code == 0, err
    assert res["sent"] == 80, res
    assert res["ok"] == 80, res
    assert res["p50_ms"] >= 50, res
    assert res["max_ms"] >= 1000, res  # the last request waits behind ~40 others


def test_nothing_listening_is_an_error():
    code, res, _ = openloop(18003, "--rate", "50", "--seconds", "0.5", "--warmup", "0",
                            "--timeout", "1")
    assert code == 1
    assert res["ok"] == 0 and res["errors"] > 0, res


def test_bad_arguments_are_refused():
    r = subprocess.run([BIN, "openloop", "http://localhost:80/", "--rate", "10"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert r.returncode == 2 and "IPV4" in r.stderr
    r = subprocess.run([BIN, "openloop", "http://%s:1/" % ADDR, "--rate", "0"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert r.returncode == 2 and "--rate" in r.stderr


def test_waits_without_spinning(instance):
    # Between due times the generator sleeps in epoll: at 100 req/s it must leave the
    # CPU idle nearly all the time, --quiet or not (it once spun when --quiet).
    instance(18004, 0, 1000, 0)
    for extra in ([], ["--quiet"]):
        t0 = os.times()
        r = subprocess.run([BIN, "openloop", "http://%s:18004/?key=idle" % ADDR, "--rate", "100",
                            "--seconds", "2", "--warmup", "0"] + extra,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
        t1 = os.times()
        assert r.returncode == 0, r.stderr
        cpu = (t1.children_user - t0.children_user) + (t1.children_system - t0.children_system)
        assert cpu < 0.5, "openloop %s used %.2f s of CPU in a 2 s run" % (extra, cpu)
