"""Instances and groups as EC2 runs them (tests/e2e/scenarios/fleet_ops.yaml), with
the real binaries: a standalone instance behind the customers' clb is stopped (its
downtime is in the customers' errors, its billing stops), changes type while stopped
only, and serves again after its boot time with the new type's slots; a group spread
over two zones replaces a terminated member in the zone it left, scales in by AWS's
default termination order (the zone with the most first), keeps an instance protected
from scale-in, and writes every launch and termination in its activity history."""

import json
import urllib.request
from collections import Counter

import pytest

from conftest import scenario_path, shared_game

SCENARIO = scenario_path("fleet_ops.yaml")
SPEED = 60
NET = 218  # team 1 lives at 127.218.0.0/16: no other test uses it


@pytest.fixture(scope="module")
def game(tmp_path_factory):
    yield from shared_game(tmp_path_factory, SCENARIO, "fleet_ops", port=18440, speed=SPEED,
                           net=NET)


def clock(g):
    return g.status()["clock"]


def inst(g, name):
    return g.get(f"/resources/{name}")


def members(g):
    return [i for i in g.instances()
            if i["status"].get("asg") == "web" and i["status"]["state"] in ("pending", "running")
            and i["status"].get("lifecycle") != "Terminating"]


def zones(g):
    return Counter(i["status"]["az"] for i in members(g))


def team(g):
    return g.status()["teams"][0]


def slots_of(ip, port=8000):
    """The slots the instance process at ip serves (its /metrics); None while it is
    not listening."""
    try:
        with urllib.request.urlopen(f"http://{ip}:{port}/metrics", timeout=5) as r:
            for line in r.read().decode().splitlines():
                if line.startswith("gameday_instance_slots"):
                    return int(float(line.split()[-1]))
    except OSError:
        return None
    return None


def test_stop_change_type_start(game):
    g = game
    g.wait_until(lambda: inst(g, "solo")["status"]["state"] == "running", 30, "solo running")
    g.wait_until(lambda: team(g)["ok"] > 20, 60, "customers answered by solo")
    ip = inst(g, "solo")["status"]["ip"]
    assert g.wait_until(lambda: slots_of(ip), 10, "solo's metrics") == 5

    # The type changes only while stopped (EC2: IncorrectInstanceState).
    r = g.call("PATCH", "/resources/solo", {"spec": {"instance_type": "t3.small"}})
    assert r.status == 409 and r.json()["error"]["code"] == "IncorrectInstanceState", r

    before = team(g)["errors"] + team(g)["timeouts"]
    r = g.ctl("--json", "stop", "solo")
    assert json.loads(r.stdout)["status"]["state"] == "stopped"
    stopped_at = inst(g, "solo")["status"]["stopped_at"]
    # Down: the clb has no healthy target, the customers get errors.
    g.wait_until(lambda: team(g)["errors"] + team(g)["timeouts"] > before + 20, 60,
                 "the downtime in the customers' errors")
    assert g.call("POST", "/instances/solo/stop").status == 409  # already stopped
    # Not billed while stopped.
    g.wait_until(lambda: clock(g) > stopped_at + 150, 30, "two billing intervals stopped")
    st = inst(g, "solo")["status"]
    assert st["billed_until"] <= stopped_at + 1e-6, st

    r = g.ctl("--json", "update", "solo", "instance_type=t3.small")
    assert json.loads(r.stdout)["spec"]["instance_type"] == "t3.small"
    r = g.ctl("--json", "start", "solo")
    st = json.loads(r.stdout)["status"]
    assert st["state"] == "pending" and st["instance_type"] == "t3.small" and st["slots"] == 10
    started = clock(g)
    assert st["boot_until"] == pytest.approx(st["launched_at"] + 30, abs=1e-6)
    g.wait_until(lambda: inst(g, "solo")["status"]["state"] == "running", 60, "solo booted")
    assert clock(g) >= started + 29, "it boots for its boot time"
    assert inst(g, "solo")["status"]["ip"] == ip, "a stopped instance keeps its address"
    assert g.wait_until(lambda: slots_of(ip), 10, "solo's metrics") == 10, \
        "a t3.small serves twice the slots of a t3.micro"
    ok = team(g)["ok"]
    g.wait_until(lambda: team(g)["ok"] > ok + 20, 60, "customers answered again")
    sid = inst(g, "solo")["id"]
    events = [a["eventName"] for a in g.audit()
              if (a.get("requestParameters") or {}).get("instanceId") in ("solo", sid)]
    assert "StopInstances" in events and "StartInstances" in events
    bill = g.get("/bill")
    lines = {l["line"] for l in bill["items"] if l["name"] == "solo"}
    assert lines == {"t3.micro on-demand", "t3.small on-demand"}, lines

    # A group's member does not stop: the group owns its capacity.
    m = members(g)[0]
    r = g.call("POST", f"/instances/{m['id']}/stop")
    assert r.status == 400 and r.json()["error"]["code"] == "UnsupportedOperation", r


def test_az_balance_replacement_termination_order_protection(game):
    g = game
    g.wait_until(lambda: len(members(g)) == 4, 30, "four members")
    assert zones(g) == {"a": 2, "b": 2}, zones(g)

    # A member terminated in zone a is replaced in zone a.
    victim = next(m for m in members(g) if m["status"]["az"] == "a")
    g.ctl("terminate", victim["id"])
    g.wait_until(lambda: len(members(g)) == 4 and victim["id"] not in
                 [m["id"] for m in members(g)], 30, "a replacement")
    assert zones(g) == {"a": 2, "b": 2}, zones(g)

    # Scale-in takes from the zone with the most members first, the newest there; a
    # member protected from scale-in stays.
    g.ctl("scale", "web", "3")
    g.wait_until(lambda: len(members(g)) == 3, 30, "three members")
    z = zones(g)
    assert sorted(z.values()) == [1, 2], z
    big = max(z, key=z.get)
    in_big = sorted((m for m in members(g) if m["status"]["az"] == big),
                    key=lambda m: m["status"]["launched_at"])
    keep = in_big[0]  # the older one of the fuller zone
    g.ctl("update", keep["id"], "protected_from_scale_in=true")
    g.ctl("scale", "web", "2")
    g.wait_until(lambda: len(members(g)) == 2, 30, "two members")
    assert zones(g) == {"a": 1, "b": 1}, zones(g)
    assert keep["id"] in [m["id"] for m in members(g)]
    g.ctl("scale", "web", "0")
    g.wait_until(lambda: len(members(g)) == 1, 30, "only the protected one left")
    assert members(g)[0]["id"] == keep["id"]
    g.wait_until(lambda: inst(g, "web")["status"].get("scale_in_blocked"), 10,
                 "the group says why it stopped")

    acts = inst(g, "web")["status"]["activities"]
    texts = [a["description"] for a in acts]
    assert any(t.startswith("Launching a new EC2 instance") for t in texts), texts
    term = [a for a in acts if a["description"].startswith("Terminating EC2 instance")]
    assert len(term) >= 3, acts
    assert all("termination policy" in a["cause"] for a in term), term
    assert all(a["time"] <= clock(g) for a in acts)


def test_quotas(game):
    """After the tests above: solo (a t3.small, 2 vCPUs) and web's protected member (2)
    run; the quota is 14 vCPUs, one group, one alarm."""
    g = game
    g.wait_until(lambda: len(members(g)) == 1, 30, "web down to its protected member")
    r = g.ctl("--json", "create", "instance", "big", "launch_template=web-template",
              "subnet=private-a", "instance_type=c5.xlarge", "market=spot")
    big = json.loads(r.stdout)
    assert big["status"]["market"] == "spot" and big["spec"]["market"] == "spot", big
    g.ctl("create", "instance", "big2", "launch_template=web-template", "subnet=private-a",
          "instance_type=m5.xlarge")  # 2 + 2 + 4 + 4 = 12
    r = g.call("POST", "/resources", {"type": "instance", "name": "big3", "spec": {
        "launch_template": "web-template", "subnet": "private-a", "instance_type": "c5.xlarge"}})
    assert r.status == 400 and r.json()["error"]["code"] == "VcpuLimitExceeded", r
    assert "vCPU limit of 14" in r.json()["error"]["message"]
    assert "big3" not in [i["name"] for i in g.instances()]
    assert any(a["eventName"] == "RunInstances" and a.get("errorCode") == "VcpuLimitExceeded"
               for a in g.audit())
    # A group that would go past it records the refusal and launches nothing more.
    g.ctl("scale", "web", "4")
    g.wait_until(lambda: "vCPU limit" in (inst(g, "web")["status"].get("last_error") or ""),
                 30, "the group's launch refused by the quota")
    assert len(members(g)) == 2  # 12 + 2 = 14: one more fits, the next does not

    r = g.call("POST", "/resources", {"type": "asg", "name": "web2", "spec": {
        "launch_template": "web-template", "subnets": ["private-a"]}})
    assert r.status == 400 and r.json()["error"]["code"] == "LimitExceeded", r
    g.ctl("create", "alarm", "hot", "resource=web", "metric=CPUUtilization", "threshold=90")
    r = g.call("POST", "/resources", {"type": "alarm", "name": "hot2", "spec": {
        "resource": "web", "metric": "CPUUtilization", "threshold": 95}})
    assert r.status == 400 and r.json()["error"]["code"] == "LimitExceeded", r
    assert "1 of 1 alarms" in r.json()["error"]["message"]
