"""FIS network actions end to end (tests/e2e/scenarios/fis_network.yaml): an experiment
started from a template puts a fault on a link of the team's load balancer; the
experiment runner adds it to the fault table, the edge push carries it to the real edge
process, and a customer's real HTTP requests through the load balancer show it (added
latency, the error status, a reset, a slow body, no answer, a late close). The edge's
/stats counts it, the audit log has its InjectFault by principal fis, and once the
experiment ends (or is stopped) the fault is gone: requests are normal again and the
RollbackFault is audited.

Every parameter is game time, which the edge waits as wall time divided by the speed
(doc/fis.md): at speed 30, a latency of 9 s is 300 wall ms."""

import socket
import time

import pytest

from conftest import hostport, scenario_path, shared_game

NET = 229  # team 1 lives at 127.229.0.0/16: no other test uses it
SPEED = 30
FAST_MS = 200  # a request without a fault is answered well under this (100 game ms of service)


@pytest.fixture(scope="module")
def game(tmp_path_factory):
    yield from shared_game(tmp_path_factory, scenario_path("fis_network.yaml"), "fis_network",
                           port=18620, speed=SPEED, net=NET)


# ---------------------------------------------------------------- a customer, by hand

class Exchange:
    """One GET through the load balancer on a new connection, timed: status, body,
    elapsed_ms (request sent -> whole answer), reset (the edge sent a TCP RST),
    silent (nothing came within the timeout) and close_ms (answer -> the edge's close,
    when close_wait_s is given)."""

    def __init__(self, addr, key="k1", close=False, timeout=5.0, close_wait_s=None):
        self.status = self.body = self.elapsed_ms = self.close_ms = None
        self.reset = self.silent = False
        s = socket.create_connection(addr, timeout=timeout)
        try:
            req = f"GET /?key={key} HTTP/1.1\r\nHost: {addr[0]}:{addr[1]}\r\n"
            if close:
                req += "Connection: close\r\n"
            t0 = time.monotonic()
            s.sendall((req + "\r\n").encode())
            buf = b""
            try:
                while not self._complete(buf):
                    d = s.recv(65536)
                    if not d:
                        break
                    buf += d
            except ConnectionResetError:
                self.reset = True
            except socket.timeout:
                self.silent = not buf
            self.elapsed_ms = (time.monotonic() - t0) * 1000
            if self._complete(buf):
                head, _, body = buf.partition(b"\r\n\r\n")
                self.status = int(head.split(b" ", 2)[1])
                self.body = body
                if close_wait_s is not None:
                    self.close_ms = self._close_after(s, close_wait_s)
        finally:
            s.close()

    @staticmethod
    def _complete(buf):
        head, sep, body = buf.partition(b"\r\n\r\n")
        if not sep:
            return False
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                return len(body) >= int(v.strip())
        return True

    @staticmethod
    def _close_after(s, wait_s):
        t0 = time.monotonic()
        s.settimeout(wait_s)
        try:
            while s.recv(4096):
                pass
        except socket.timeout:
            return None
        except ConnectionResetError:
            pass
        return (time.monotonic() - t0) * 1000

    def __repr__(self):
        return (f"<Exchange status={self.status} {self.elapsed_ms and round(self.elapsed_ms)} ms"
                f" reset={self.reset} silent={self.silent} close_ms={self.close_ms}"
                f" body={self.body and self.body[:80]!r}>")


def customer(game, **kw):
    return Exchange(hostport(game.endpoint), **kw)


# ---------------------------------------------------------------- experiments

def template(game, name, action_id, parameters, duration="PT1H"):
    """A template of one network action on web-alb (created once per name)."""
    spec = {"description": f"{action_id} on web-alb",
            "targets": {"lb": {"resourceType": "aws:elasticloadbalancing:loadbalancer",
                               "resourceIds": ["web-alb"], "selectionMode": "ALL"}},
            "actions": {"net": {"actionId": action_id, "targets": {"LoadBalancers": "lb"},
                                "parameters": {"duration": duration, **parameters}}}}
    r = game.call("POST", "/resources", {"type": "experiment_template", "name": name,
                                         "spec": spec})
    assert r.status == 201, r.body


def start(game, name):
    r = game.call("POST", f"/experiment_templates/{name}/start", {})
    assert r.status == 201, r.body
    eid = r.json()["id"]
    e = game.wait_until(lambda: (lambda e: e if e["status"]["state"] in ("running", "failed",
                                                                          "completed") else None)(
        game.get(f"/resources/{eid}")), 30, f"experiment {eid} running")
    assert e["status"]["state"] == "running", e["status"]
    faults = e["status"]["actions"]["net"]["faults"]
    assert len(faults) == 1, faults
    return eid, faults[0]["id"]


def stop(game, eid):
    r = game.call("POST", f"/experiments/{eid}/stop", {})
    assert r.status == 200, r.body
    e = game.get(f"/resources/{eid}")
    assert e["status"]["state"] == "stopped", e["status"]


def edge_fault(game, fid):
    """The fault of that id on the edge's /stats, or None."""
    return next((f for f in game.edge_stats().get("faults", []) if f["id"] == fid), None)


def wait_on_edge(game, fid, kind, link):
    f = game.wait_until(lambda: edge_fault(game, fid), 30, f"fault {fid} on the edge")
    assert (f["kind"], f["link"]) == (kind, link), f
    return f


def wait_applied(game, fid, n):
    return game.wait_until(lambda: (lambda f: f if f and f["applied"] >= n else None)(
        edge_fault(game, fid)), 10, f"the edge to count {n} hit(s) of {fid}")


def fis_audit(game, event, fid):
    recs = game.get(f"/audit?principal=fis&event={event}&limit=0")
    return [a for a in recs if (a.get("responseElements") or {}).get("faultId") == fid]


def check_injected(game, eid, fid, kind, link, **fields):
    """InjectFault by fis, with the fault the edge was told."""
    recs = fis_audit(game, "InjectFault", fid)
    assert len(recs) == 1, recs
    p = recs[0]["requestParameters"]
    assert p["experimentId"] == eid and p["action"] == "net", p
    assert p["fault"]["kind"] == kind and p["fault"]["link"] == link, p
    for k, v in fields.items():
        assert p["fault"][k] == v, (k, p["fault"])
    assert recs[0]["principal"] == "fis" and recs[0]["errorCode"] is None, recs[0]


def check_rolled_back(game, fid):
    """The fault leaves the edge, RollbackFault is audited, and requests are normal."""
    game.wait_until(lambda: edge_fault(game, fid) is None and "faults" in game.edge_stats(), 30,
                    f"fault {fid} gone from the edge")
    assert len(fis_audit(game, "RollbackFault", fid)) == 1
    x = customer(game)
    assert x.status == 200 and b'"hash"' in x.body and x.elapsed_ms < FAST_MS, x


def wait_fast(game):
    """The fleet answers, without any fault, well under FAST_MS."""
    game.wait_until(lambda: (lambda x: x.status == 200 and x.elapsed_ms < FAST_MS)(
        customer(game)), 30, "a normal answer through the load balancer")


# ---------------------------------------------------------------- one test per action

def test_latency_on_the_target_link_delays_every_request_until_stopped(game):
    wait_fast(game)
    template(game, "net-latency", "gameday:network:latency",
             {"link": "target", "latency": "9s"})  # 300 wall ms at speed 30
    eid, fid = start(game, "net-latency")
    wait_on_edge(game, fid, "latency", "upstream")
    check_injected(game, eid, fid, "latency", "upstream", latency_ms=300)
    before = edge_fault(game, fid)["applied"]
    for _ in range(3):
        x = customer(game)
        assert x.status == 200 and x.elapsed_ms >= 250, x
    wait_applied(game, fid, before + 3)
    stop(game, eid)
    check_rolled_back(game, fid)


def test_error_on_the_client_link_answers_the_status_until_the_experiment_completes(game):
    wait_fast(game)
    template(game, "net-error", "gameday:network:error",
             {"link": "client", "status": 418}, duration="PT2M")  # 4 wall s
    eid, fid = start(game, "net-error")
    wait_on_edge(game, fid, "error", "client")
    check_injected(game, eid, fid, "error", "client", status=418)
    x = customer(game)
    assert x.status == 418 and x.body == f"fault injected: {fid}".encode(), x
    wait_applied(game, fid, 1)
    e = game.wait_until(lambda: (lambda e: e if e["status"]["state"] != "running" else None)(
        game.get(f"/resources/{eid}")), 30, f"experiment {eid} to end by itself")
    assert e["status"]["state"] == "completed", e["status"]
    check_rolled_back(game, fid)


def test_reset_on_the_client_link_resets_the_connection(game):
    wait_fast(game)
    template(game, "net-reset", "gameday:network:reset", {"link": "client"})
    eid, fid = start(game, "net-reset")
    wait_on_edge(game, fid, "reset", "client")
    check_injected(game, eid, fid, "reset", "client")
    x = customer(game)
    assert x.reset and x.status is None, x
    wait_applied(game, fid, 1)
    stop(game, eid)
    check_rolled_back(game, fid)


def test_bandwidth_on_the_client_link_makes_a_slow_body(game):
    wait_fast(game)
    size = len(customer(game).body)  # the answer's body; its head adds some 150 bytes
    assert size > 60, size  # {"key", "hash"}: long enough to take a while at 120 bytes/s
    template(game, "net-bandwidth", "gameday:network:bandwidth",
             {"link": "client", "bytesPerSecond": 4})  # 120 wall bytes a second
    eid, fid = start(game, "net-bandwidth")
    wait_on_edge(game, fid, "bandwidth", "client")
    check_injected(game, eid, fid, "bandwidth", "client", bytes_per_s=4 * SPEED)
    x = customer(game, timeout=15)
    # at least the body at 120 bytes a second, less the first burst (6 bytes)
    assert x.status == 200 and len(x.body) == size, x
    assert x.elapsed_ms >= (size - 10) / 120 * 1000, (size, x)
    wait_applied(game, fid, 1)
    stop(game, eid)
    check_rolled_back(game, fid)


def test_blackhole_on_the_client_link_never_answers(game):
    wait_fast(game)
    template(game, "net-blackhole", "gameday:network:blackhole", {"link": "client"})
    eid, fid = start(game, "net-blackhole")
    wait_on_edge(game, fid, "blackhole", "client")
    check_injected(game, eid, fid, "blackhole", "client")
    x = customer(game, timeout=1.0)  # the customer gives up after a wall second
    assert x.silent and x.status is None and not x.reset, x
    wait_applied(game, fid, 1)
    stop(game, eid)
    check_rolled_back(game, fid)


def test_slow_close_on_the_client_link_closes_late(game):
    wait_fast(game)
    x = customer(game, close=True, close_wait_s=5)
    assert x.status == 200 and x.close_ms is not None and x.close_ms < 300, x
    template(game, "net-slow-close", "gameday:network:slow-close",
             {"link": "client", "delay": "21s"})  # 700 wall ms
    eid, fid = start(game, "net-slow-close")
    wait_on_edge(game, fid, "slow_close", "client")
    check_injected(game, eid, fid, "slow_close", "client", delay_ms=700)
    x = customer(game, close=True, close_wait_s=5)
    assert x.status == 200 and x.close_ms is not None and 550 <= x.close_ms <= 3000, x
    wait_applied(game, fid, 1)
    stop(game, eid)
    check_rolled_back(game, fid)
    x = customer(game, close=True, close_wait_s=5)
    assert x.close_ms is not None and x.close_ms < 300, x
