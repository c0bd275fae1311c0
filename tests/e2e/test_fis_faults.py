"""FIS actions that break one instance or one DNS record, end to end with the real
binaries (tests/e2e/scenarios/fis_faults.yaml): each one is started with `gameday ctl
experiment`, happens for real at the target (the instance's answers and /metrics, the
game's DNS server as dig sees it), is audited as InjectFault by the principal fis, and
is rolled back (RollbackFault) when the experiment ends or is stopped, after which the
target answers as before."""

import re
import subprocess
import threading

import pytest

from conftest import http, scenario_path, shared_game

NET = 230  # team 1 lives at 127.230.0.0/16: no other test uses it
ZONE = "team1.gameday.test"


@pytest.fixture(scope="module")
def game(tmp_path_factory):
    yield from shared_game(tmp_path_factory, scenario_path("fis_faults.yaml"), "fis_faults",
                           port=18620, speed=60, net=NET)


def template(g, name, spec):
    r = g.call("POST", "/resources", {"type": "experiment_template", "name": name, "spec": spec})
    assert r.status == 201, r.body


def ctl_start(g, name):
    out = g.ctl("experiment", "start", name).stdout
    m = re.match(r"(exp-[0-9a-f]+) started: (\w+)", out)
    assert m, out
    return m.group(1)


def state(g, eid):
    return g.get(f"/resources/{eid}")["status"]


def probe(g):
    """The probe instance, running (its first one, or its replacement)."""
    def find():
        r = g.get("/resources/probe")
        st = r["status"]
        return r if st.get("state") == "running" and st.get("health") != "initializing" else None
    return g.wait_until(find, 60, "the probe instance running")


def base(inst):
    return f"http://{inst['status']['ip']}:{inst['status']['port']}"


def metric(inst, name, kind=None):
    text = http("GET", base(inst) + "/metrics").body.decode()
    for line in text.splitlines():
        if line.startswith(name) and (kind is None or f'kind="{kind}"' in line):
            return float(line.split()[-1])
    raise AssertionError(f"{name} not in the instance's metrics:\n{text}")


def audits(g, **match):
    return [a for a in g.get("/audit?principal=fis&limit=0")
            if all(a.get(k) == v for k, v in match.items())]


def faults_of(g, eid, event):
    return [a for a in audits(g, eventName=event)
            if (a.get("requestParameters") or {}).get("experimentId") == eid]


def test_ctl_experiment_refuses_bad_usage_and_unknown_templates(game):
    r = game.ctl("experiment", "explode", check=False)
    assert r.returncode == 2 and "allowed: start, stop, list, get, wait" in r.stderr, r.stderr
    r = game.ctl("experiment", "start", check=False)
    assert r.returncode == 2 and "TEMPLATE" in r.stderr, r.stderr
    r = game.ctl("experiment", "start", "ghost", check=False)
    assert r.returncode == 1 and "404" in r.stderr, r.stderr
    assert game.get("/resources?type=experiment") == []


def test_slot_hog_takes_the_instances_slots_until_stopped(game):
    inst = probe(game)
    template(game, "hog", {
        "targets": {"p": {"resourceType": "aws:ec2:instance", "resourceIds": ["probe"]}},
        "actions": {"hog": {"actionId": "gameday:instance:slot-hog",
                            "targets": {"Instances": "p"},
                            "parameters": {"duration": "PT1H", "slots": "2"}}}})
    assert metric(inst, "gameday_instance_hogged_slots") == 0
    eid = ctl_start(game, "hog")
    game.wait_until(lambda: metric(inst, "gameday_instance_hogged_slots") == 2, 30,
                    "the instance to lose its two slots")
    assert metric(inst, "gameday_instance_fault_active", "slot_hog") == 1
    # a request now waits in the queue: no slot is free to work on it
    answer = {}
    t = threading.Thread(target=lambda: answer.update(r=http("GET", base(inst) + "/?key=k1",
                                                               timeout=60)))
    t.start()
    game.wait_until(lambda: metric(inst, "gameday_instance_queue_depth") == 1, 30,
                    "the request queued behind the hog")
    assert metric(inst, "gameday_instance_busy_slots") == 0
    assert "answer" not in answer and t.is_alive()
    assert faults_of(game, eid, "InjectFault"), "InjectFault audited as fis"
    out = game.ctl("experiment", "get", eid).stdout
    assert "running" in out and "hog" in out, out
    # stopping the experiment gives the slots back and the request is served
    game.ctl("experiment", "stop", eid)
    t.join(60)
    assert answer["r"].status == 200, answer["r"].body
    assert metric(inst, "gameday_instance_hogged_slots") == 0
    st = state(game, eid)
    assert st["state"] == "stopped" and st["actions"]["hog"]["state"] == "stopped", st
    assert faults_of(game, eid, "RollbackFault"), "RollbackFault audited as fis"


def test_disk_full_answers_500_health_checks_too_then_heals_at_the_end(game):
    inst = probe(game)
    template(game, "fill", {
        "targets": {"p": {"resourceType": "instance", "resourceIds": ["probe"]}},
        "actions": {"fill": {"actionId": "gameday:instance:disk-full",
                             "targets": {"Instances": "p"}, "parameters": {"duration": "PT3M"}}}})
    assert http("GET", base(inst) + "/health").status == 200
    eid = ctl_start(game, "fill")
    r = game.wait_until(lambda: (lambda r: r if r.status == 500 else None)(
        http("GET", base(inst) + "/health")), 30, "the health check failing")
    assert b"No space left on device" in r.body
    assert http("GET", base(inst) + "/?key=k2", timeout=30).status == 500
    assert metric(inst, "gameday_instance_fault_active", "disk_full") == 1
    # the experiment ends by itself after its 3 game minutes and the disk is freed
    out = game.ctl("experiment", "wait", eid, "--timeout", "60").stdout
    assert "completed" in out, out
    game.wait_until(lambda: http("GET", base(inst) + "/health").status == 200, 30,
                    "the health check passing again")
    assert http("GET", base(inst) + "/?key=k2", timeout=30).status == 200
    inj, rb = faults_of(game, eid, "InjectFault"), faults_of(game, eid, "RollbackFault")
    assert len(inj) == 1 and len(rb) == 1, (inj, rb)
    assert inj[0]["eventTime"] <= rb[0]["eventTime"] - 180 + 1
    events = game.get("/teams/1/score/events?limit=100000")
    assert any(f"disk full on {inst['id']}" in e["reason"] and eid in e["reason"]
               for e in events), [e["reason"] for e in events[-10:]]


def dns_addr(g):
    host, port = g.info["dns"].split(":")
    return host, port


def dig(g, name, *extra):
    host, port = dns_addr(g)
    return subprocess.run(["dig", f"@{host}", "-p", port, "+time=1", "+tries=1", name, *extra],
                          capture_output=True, text=True, timeout=10)


def www(g):
    r = dig(g, f"www.{ZONE}", "+short")
    return r.returncode, r.stdout.split()


@pytest.mark.parametrize("action,params,seen", [
    ("gameday:dns:wrong-answer", {"address": "127.0.0.9"}, "wrong"),
    ("gameday:dns:servfail", {}, "servfail"),
    ("gameday:dns:outage", {}, "outage"),
])
def test_dns_faults_reach_the_dns_server_and_are_rolled_back(game, action, params, seen):
    good = game.wait_until(lambda: (lambda rc, a: a if rc == 0 and a else None)(*www(game)),
                           30, "www answering")
    name = "dns-" + seen
    template(game, name, {
        "targets": {"r": {"resourceType": "aws:route53:record-set", "resourceIds": ["www"]}},
        "actions": {"break": {"actionId": action, "targets": {"Records": "r"},
                              "parameters": dict(params, duration="PT1H")}}})
    eid = ctl_start(game, name)

    def broken():
        r = dig(game, f"www.{ZONE}")
        if seen == "wrong":
            return www(game)[1] == ["127.0.0.9"]
        if seen == "servfail":
            return "status: SERVFAIL" in r.stdout
        return r.returncode == 9 and "timed out" in r.stdout  # no answer at all
    game.wait_until(broken, 30, f"the record {seen}")
    inj = faults_of(game, eid, "InjectFault")
    assert inj and inj[0]["requestParameters"]["fault"]["kind"] == seen, inj
    game.ctl("experiment", "stop", eid)
    game.wait_until(lambda: www(game) == (0, good), 30, "www answering as before")
    assert faults_of(game, eid, "RollbackFault")
    lst = game.ctl("experiment", "list").stdout
    assert re.search(rf"{eid}\s+\S+\s+{name}\s+stopped", lst), lst


def test_a_p99_latency_alarm_stops_the_experiment_and_rolls_its_latency_back(game):
    """The stop condition: TargetResponseTime p99 of web-alb over 2 game seconds. The
    experiment makes every web instance answer 3 s late for half an hour; the alarm
    fires on the first period of slow answers and the experiment stops itself there,
    its fault rolled back, its record saying why."""
    r = game.call("POST", "/resources", {"type": "alarm", "name": "slow-p99", "spec": {
        "resource": "web-alb", "metric": "TargetResponseTime", "statistic": "p99",
        "period": "20s", "threshold": 2, "comparison": "GreaterThanThreshold"}})
    assert r.status == 201, r.body
    game.wait_until(lambda: game.get("/resources/slow-p99")["status"].get("state") == "OK", 60,
                    "the alarm OK on real datapoints")
    template(game, "slow-web", {
        "targets": {"web": {"resourceType": "aws:ec2:instance",
                            "resourceTags": {"aws:autoscaling:groupName": "web"},
                            "filters": [{"path": "State.Name", "values": ["running"]}]}},
        "actions": {"lag": {"actionId": "gameday:instance:latency", "targets": {"Instances": "web"},
                            "parameters": {"duration": "PT30M", "latency": "PT3S"}}},
        "stopConditions": [{"source": "aws:cloudwatch:alarm", "value": "slow-p99"}]})
    eid = ctl_start(game, "slow-web")
    st = game.wait_until(lambda: (lambda s: s if s["state"] in ("stopped", "completed", "failed")
                                  else None)(state(game, eid)), 90, "the experiment to end")
    assert st["state"] == "stopped", st
    assert "stop condition: alarm 'slow-p99' is in ALARM" in st["reason"], st["reason"]
    assert st["actions"]["lag"]["state"] == "stopped", st["actions"]
    assert st["endTime"] - st["startTime"] < 600, "stopped long before its 30 minutes"
    # the latency was real: the load balancer's requests took over 3 s at the p99
    pts = game.get("/metrics?resource=web-alb&metric=TargetResponseTime")
    assert max(v for t, v in pts if t >= st["startTime"]) >= 3, pts[-20:]
    # and it is rolled back: every web instance answers without the fault again
    rb = faults_of(game, eid, "RollbackFault")
    targets = st["targets"]["web"]
    assert {a["requestParameters"]["target"] for a in rb} == set(targets), (rb, targets)
    for iid in targets:
        inst = game.get(f"/resources/{iid}")
        game.wait_until(lambda: metric(inst, "gameday_instance_fault_active", "latency") == 0, 30,
                        f"{iid} without its latency")
    events = game.get("/teams/1/score/events?limit=100000")
    assert any(eid in e["reason"] and "stop condition" in e["reason"] for e in events), \
        [e["reason"] for e in events[-10:]]


def test_a_zone_outage_loses_its_instances_and_load_balancers_until_it_ends(game):
    import socket

    def alb_answers(name):
        lb = game.get(f"/resources/{name}")["status"]
        try:
            r = http("GET", f"http://{lb['ip']}:{lb['port']}/", timeout=2)
            return r.status
        except (socket.timeout, TimeoutError, OSError):
            return None

    in_b = lambda: [i for i in game.instances() if i["status"]["state"] == "running"
                    and i["status"].get("az") == "b"]
    game.wait_until(in_b, 60, "a web instance in zone b")
    assert alb_answers("b-alb") == 503, "b-alb answers (it has no target) before"
    assert alb_answers("web-alb") is not None
    template(game, "zone-b", {"actions": {"down": {
        "actionId": "gameday:az:outage",
        "parameters": {"duration": "PT1H", "availabilityZone": "b"}}}})
    lost = [i["id"] for i in in_b()]
    eid = ctl_start(game, "zone-b")
    game.wait_until(lambda: not in_b(), 30, "zone b empty")
    game.wait_until(lambda: alb_answers("b-alb") is None, 30, "b-alb dark")
    assert alb_answers("web-alb") is not None, "web-alb has a subnet in zone a: it lives"
    # nothing launches in b: the group's replacements go to a, and a launch there is refused
    r = game.call("POST", "/resources", {"type": "instance", "name": "in-b",
                                         "spec": {"launch_template": "web-lt",
                                                  "subnet": "private-b"}})
    assert r.status == 400 and b"InsufficientInstanceCapacity" in r.body, r.body
    terms = [a for a in audits(game, eventName="TerminateInstances")
             if any(i in str(a.get("requestParameters")) for i in lost)]
    assert terms, "the zone's instances were lost, audited as fis"
    st = state(game, eid)
    assert "load balancer dark" in st["actions"]["down"]["reason"], st["actions"]
    game.ctl("experiment", "stop", eid)
    game.wait_until(lambda: alb_answers("b-alb") == 503, 30, "b-alb back")
    r = game.call("POST", "/resources", {"type": "instance", "name": "in-b",
                                         "spec": {"launch_template": "web-lt",
                                                  "subnet": "private-b"}})
    assert r.status == 201, r.body
