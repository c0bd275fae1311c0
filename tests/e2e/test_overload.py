"""Overload: one instance with one slot and a queue of one, customers at 5 rps (twenty
times what it answers). Requests beyond slot + queue get 503, the load balancer
passes them through, the customers count errors and the score falls."""

import json
import threading

import pytest

from conftest import http, scenario_path

SCENARIO = scenario_path("overload.yaml")


@pytest.fixture(scope="module")
def overloaded(module_play):
    g = module_play(SCENARIO, speed=60)
    g.wait_ready()
    g.wait_customers()
    return g


def hammer(url, n):
    """n concurrent GETs of url; returns their responses (or exceptions)."""
    out = [None] * n
    go = threading.Event()

    def one(i):
        go.wait()
        try:
            out[i] = http("GET", url, timeout=10)
        except Exception as e:  # noqa: BLE001 - reported by the caller
            out[i] = e

    ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    go.set()
    for t in ts:
        t.join(30)
    return out


def check_overloaded(responses, where):
    statuses = [getattr(r, "status", r) for r in responses]
    assert all(s in (200, 503) for s in statuses), f"{where}: {statuses}"
    refused = [r for r in responses if r.status == 503]
    # One slot and a queue of one hold at most 2 of 12 simultaneous requests (the
    # customers compete for them too); allow for threads that start late.
    assert len(refused) >= 6, f"{where}: expected 503s from a full instance: {statuses}"
    for r in refused:
        err = r.json()["error"]
        assert err["code"] == "Overloaded", f"{where}: the instance's own 503: {r.body!r}"


def test_hammered_instance_answers_503_and_the_lb_passes_it_through(overloaded):
    g = overloaded
    inst = [i for i in g.instances() if i["status"]["state"] == "running"]
    assert len(inst) == 1, inst
    st = inst[0]["status"]
    check_overloaded(hammer(f"http://{st['ip']}:{st['port']}/?key=hammer", 12),
                     "the instance, directly")
    check_overloaded(hammer(f"{g.endpoint.rstrip('/')}/?key=hammer", 12),
                     "through the load balancer")
    stats = g.edge_stats()
    assert stats["5xx"] > 0, stats
    target = [t for t in stats["targets"] if t["id"] == inst[0]["id"]]
    assert target and target[0]["state"] == "InService", \
        f"an overloaded instance still passes its health checks: {stats['targets']}"


def test_overload_counts_errors_and_the_score_falls(overloaded):
    g = overloaded
    t1 = g.wait_until(lambda: (lambda t: t if t["errors"] > 0 else None)(g.team()), 20,
                      "customers to see errors")
    # The next report of the customers: more errors, and a lower score.
    t2 = g.wait_until(lambda: (lambda t: t if t["errors"] > t1["errors"] else None)(g.team()),
                      20, "the customers' next report")
    assert t2["score"] < t1["score"], f"the score fell: {t1['score']:.1f} -> {t2['score']:.1f}"
    g.wait_until(lambda: g.team()["trend"] < 0, 20, "a negative score trend")
    # The status lines show the errors too.
    g.wait_until(lambda: any(int(l.split(" errors ")[1].split()[0]) > 0
                             for l in g.status_lines()), 10, "a status line with errors > 0")
    assert g.stop() == []
    res = json.loads((g.out / "result.json").read_text())
    assert res["requests"]["error"] > 0, res
    assert res["requests"]["error"] > res["requests"]["ok"], res
    assert res["score"] < 0, res
