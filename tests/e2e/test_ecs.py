"""Containers (ECS) in a real game (scenarios/ecs.yaml): two m5.large container
instances of cluster prod (an asg's, by its launch template's ecs_cluster), service web
(4 tasks of 512 cpu) bin-packed onto one of them behind web-alb's target group, service
big whose second task does not fit and stays PENDING with AWS's reason, service fg on
Fargate. Every task is its own `gameday instance` process on its own address; a task
killed with -9 is replaced; the service scales through the API (audited); Fargate is
billed per vCPU-second and GB-second with a minute's minimum; a SIGKILLed server
re-adopts the tasks' processes. Real binaries on a network of their own (--net 249)."""

import json
import os
import re
import signal
import subprocess
import time

import pytest

from conftest import gameday_hash, http, proc_info, live, scenario_path, shared_game

SCENARIO = scenario_path("ecs.yaml")
SPEED = 20
NET = 249  # team 1 lives at 127.249.0.0/16: no other test uses it
PREFIX = "127.249."


@pytest.fixture(scope="module")
def game(tmp_path_factory):
    yield from shared_game(tmp_path_factory, SCENARIO, "ecs", port=18900, speed=SPEED, net=NET)


def tasks(g, service=None, state=None):
    out = g.get("/resources?type=task")
    return [t for t in out
            if (service is None or t["spec"]["ecs_service"] == service)
            and (state is None or t["status"].get("state") == state)]


def res(g, name):
    return g.get(f"/resources/{name}")


def wait_running(g, service, n, timeout=30):
    return g.wait_until(
        lambda: (lambda ts: ts if len(ts) == n and res(g, service)["status"].get("running_count") == n
                 else None)(tasks(g, service, "running")),
        timeout, f"{n} running tasks of {service}")


def environ(pid):
    with open(f"/proc/{pid}/environ", "rb") as f:
        return dict(kv.split("=", 1) for kv in f.read().decode(errors="replace").split("\0") if "=" in kv)


def test_tasks_are_bin_packed_each_its_own_process_and_address(game):
    g = game
    web = wait_running(g, "web", 4)
    hosts = {t["status"]["container_instance"] for t in web}
    assert len(hosts) == 1, f"binpack put web's 4 tasks on one host: {hosts}"
    ips = {t["status"]["ip"] for t in web}
    assert len(ips) == 4 and all(ip.startswith(PREFIX) for ip in ips), ips
    host = next(i for i in g.instances() if i["id"] in hosts)
    assert host["status"]["instance_type"] == "m5.large"
    assert host["status"]["ip"] not in ips
    for t in web:
        st = t["status"]
        assert st["slots"] == 10, "512 of an m5.large's 2048 cpu units: 10 of its 40 slots"
        env = environ(st["pid"])
        assert env["GAMEDAY_INSTANCE_ID"] == t["id"] and env["GAMEDAY_SLOTS"] == "10"
        assert env["GAMEDAY_ADDR"] == f"{st['ip']}:8000"
        r = http("GET", f"http://{st['ip']}:8000/?key=direct")
        assert r.status == 200 and r.header("X-Instance-Id") == t["id"], r
        assert r.json()["hash"] == gameday_hash("direct", SCENARIO)
    # The cluster's status: what its container instances registered and reserve.
    cl = res(g, "prod")["status"]
    assert cl["registered_container_instances"] == 2
    assert cl["cpu_registered"] == 4096 and cl["memory_registered"] == 16384
    packed = next(c for c in cl["container_instances"] if c["id"] in hosts)
    assert packed["cpu_free"] == 0 and packed["tasks"] == 4, packed
    # Its metrics: CPUReservation (AWS/ECS) from the reservations.
    m = g.wait_until(lambda: g.get("/metrics?resource=prod").get("CPUReservation"),
                     10, "the cluster's CPUReservation")
    assert m, m


def test_a_task_that_does_not_fit_stays_pending_with_the_reason(game):
    g = game
    wait_running(g, "big", 1)
    pending = g.wait_until(lambda: tasks(g, "big", "pending"), 10, "big's second task pending")
    assert len(pending) == 1
    assert pending[0]["status"]["pending_reason"] == "RESOURCE:MEMORY", pending[0]["status"]
    assert not pending[0]["status"].get("ip"), "an unplaced task has no address"
    events = [e["message"] for e in res(g, "big")["status"]["events"]]
    assert any("was unable to place a task because no container instance met all of its "
               "requirements. Reason: RESOURCE:MEMORY" in e for e in events), events
    st = res(g, "big")["status"]
    assert (st["running_count"], st["pending_count"], st["desired_count"]) == (1, 1, 2)


def test_tasks_serve_customers_through_the_target_group(game):
    g = game
    web = {t["id"] for t in wait_running(g, "web", 4)}
    g.wait_until(lambda: res(g, "web-tg")["status"].get("healthy") == 4, 30,
                 "web's 4 tasks healthy in web-tg")
    seen = set()
    for n in range(12):
        r = g.request(f"tg{n}")
        assert r.status == 200, r
        assert r.json()["hash"] == gameday_hash(f"tg{n}", SCENARIO)
        seen.add(r.header("X-Instance-Id"))
    assert seen <= web and len(seen) >= 2, (seen, web)
    before = g.team()["ok"]
    g.wait_until(lambda: g.team()["ok"] > before, 15, "customers answered by the tasks")


def test_a_task_killed_with_sigkill_is_replaced(game):
    g = game
    web = wait_running(g, "web", 4)
    victim = web[0]
    os.kill(victim["status"]["pid"], signal.SIGKILL)
    st = g.wait_until(lambda: (lambda s: s if s.get("state") == "stopped" else None)(
        res(g, victim["id"])["status"]), 10, "the killed task stopped")
    assert "signal 9" in st["stopped_reason"], st
    after = wait_running(g, "web", 4)
    assert victim["id"] not in {t["id"] for t in after}
    audit = g.audit()
    assert any(a["eventName"] == "TaskStateChange" and a["principal"] == "ecs"
               and a["requestParameters"]["taskId"] == victim["id"] for a in audit)
    assert sum(a["eventName"] == "RunTask" and a["principal"] == "ecs"
               and a["requestParameters"]["service"] == "web" for a in audit) >= 5


def test_scaling_the_service_through_the_api_is_audited(game):
    g = game
    wait_running(g, "web", 4)
    r = g.call("PATCH", "/resources/web", {"spec": {"desired_count": 7}})
    assert r.status == 200, r
    # 4 fill one host; the other has 1024 cpu left after big's task: 2 more fit there,
    # and the seventh stays pending for cpu.
    wait_running(g, "web", 6)
    pending = g.wait_until(lambda: tasks(g, "web", "pending"), 10, "web's seventh task pending")
    assert pending[0]["status"]["pending_reason"] == "RESOURCE:CPU", pending[0]["status"]
    rec = [a for a in g.audit() if a["eventName"] == "UpdateResource"
           and a["principal"] == "team-1" and "web" in json.dumps(a["requestParameters"])]
    assert rec and rec[-1]["errorCode"] is None, rec
    assert "desired_count" in json.dumps(rec[-1]["requestParameters"])
    # Bad input changes nothing, and says what is allowed.
    r = g.call("PATCH", "/resources/web", {"spec": {"desired_count": 500}})
    assert r.status == 400 and "desired_count" in r.body.decode(), r
    assert "0..50" in r.json()["error"]["message"], r
    r = g.call("PATCH", "/resources/web", {"spec": {"launch_type": "FARGATE"}})
    msg = r.json()["error"]["message"]
    assert r.status == 400 and "subnets" in msg and "FARGATE" in msg, r
    assert g.call("POST", "/resources", {"type": "task_definition", "name": "odd-td",
                                         "spec": {"cpu": 384, "memory": 1024}}).status == 201
    r = g.call("PATCH", "/resources/web", {"spec": {"launch_type": "FARGATE",
                                                     "subnets": ["private-a"],
                                                     "task_definition": "odd-td"}})
    msg = r.json()["error"]["message"]
    assert r.status == 400 and "not a Fargate size" in msg and "cpu 256, 512" in msg, r
    r = g.call("PATCH", "/resources/web", {"spec": {"subnets": ["private-a"]}})
    assert r.status == 400 and "only a FARGATE service names subnets" in r.body.decode(), r
    r = g.call("PATCH", "/resources/web", {"spec": {"placement_strategy": "random"}})
    assert r.status == 400 and "binpack, spread" in r.body.decode(), r
    assert res(g, "web")["spec"]["launch_type"] == "EC2"
    assert res(g, "web")["spec"]["task_definition"] == "web-td"
    assert res(g, "web")["spec"]["desired_count"] == 7
    # Back to 4 with gameday ctl: the pending one goes first, then the newest.
    r = g.ctl("--json", "scale", "web", "4")
    assert json.loads(r.stdout)["spec"]["desired_count"] == 4
    assert any(a["eventName"] == "UpdateService" and a["principal"] == "team-1"
               and a["requestParameters"] == {"service": "web", "desiredCount": 4}
               for a in g.audit())
    wait_running(g, "web", 4)
    assert not tasks(g, "web", "pending")
    listed = g.ctl("resources", "task").stdout
    assert all(t["name"] in listed for t in tasks(g, "web", "running")), listed


def test_unhealthy_tasks_are_replaced_until_the_circuit_breaker_trips(game):
    g = game
    st = g.wait_until(lambda: (lambda s: s if s.get("deployment_state") == "FAILED" else None)(
        res(g, "bad")["status"]), 60, "bad's deployment failed")
    assert st["failed_tasks"] >= 3, st
    assert any("deployment failed: tasks failed to start" in e["message"] for e in st["events"])
    stopped_ = tasks(g, "bad", "stopped")
    assert len(stopped_) >= 3
    assert all(t["status"]["stopped_reason"] ==
               "Task failed ELB health checks in (target-group bad-tg)" for t in stopped_), \
        [t["status"]["stopped_reason"] for t in stopped_]
    # Tripped: no more tasks are started.
    g.wait_until(lambda: not [t for t in tasks(g, "bad") if t["status"].get("state") != "stopped"],
                 30, "bad's last tasks stopped")
    n = len(tasks(g, "bad"))
    runs = sum(a["eventName"] == "RunTask" and a["requestParameters"]["service"] == "bad"
               for a in g.audit())
    t0 = g.status()["clock"]
    g.wait_until(lambda: g.status()["clock"] > t0 + 30, 10, "30 game seconds")
    assert len(tasks(g, "bad")) == n and sum(
        a["eventName"] == "RunTask" and a["requestParameters"]["service"] == "bad"
        for a in g.audit()) == runs, "a failed deployment starts no task"
    # A new task definition is a new deployment: it listens where bad-tg checks.
    r = g.call("POST", "/resources", {"type": "task_definition", "name": "good-td",
                                      "spec": {"cpu": 256, "memory": 512, "service_time": "1s",
                                               "start_time": "2s"}})
    assert r.status == 201, r
    assert g.call("PATCH", "/resources/bad", {"spec": {"task_definition": "good-td"}}).status == 200
    wait_running(g, "bad", 2)
    g.wait_until(lambda: res(g, "bad-tg")["status"].get("healthy") == 2, 30, "bad-tg healthy")
    st = g.wait_until(lambda: (lambda s: s if s.get("deployment_state") == "COMPLETED" else None)(
        res(g, "bad")["status"]), 10, "the new deployment completed")
    assert st["failed_tasks"] == 0 and st["deployment_task_definition"] == "good-td:1"
    r = http("GET", f"{g.endpoint.rstrip('/')}/bad/x?key=fixed")
    assert r.status == 200 and r.header("X-Instance-Id").startswith("task-"), r


def test_tasks_of_a_terminated_container_instance_stop_and_are_placed_again(game):
    g = game
    (big,) = wait_running(g, "big", 1)
    host = big["status"]["container_instance"]
    g.ctl("terminate", host)
    st = g.wait_until(lambda: (lambda s: s if s.get("state") == "stopped" else None)(
        res(g, big["id"])["status"]), 15, "big's task stopped with its host")
    assert st["stopped_reason"] == f"Host EC2 (instance {host}) terminated.", st
    # The group replaces the instance; the new one joins the cluster and takes big's task.
    (again,) = wait_running(g, "big", 1, timeout=60)
    assert again["status"]["container_instance"] not in ("", host), again["status"]
    cl = res(g, "prod")["status"]
    assert cl["registered_container_instances"] == 2 and host not in \
        {c["id"] for c in cl["container_instances"]}, cl


def test_fargate_tasks_run_without_instances_and_are_billed_by_size(game):
    g = game
    (fg,) = wait_running(g, "fg", 1)
    st = fg["status"]
    assert st["container_instance"] == "" and st["ip"].startswith(PREFIX + "2."), st
    assert st["slots"] == 5, "256 cpu units on Fargate: a quarter of 20 slots"
    assert st["ip"] not in {i["status"]["ip"] for i in g.instances()}

    def line(task_id, name):
        return next((i for i in g.get("/bill")["items"]
                     if i["resource"] == task_id and i["line"] == name), None)
    v = g.wait_until(lambda: line(fg["id"], "Fargate vCPU-hours"), 15, "a Fargate bill line")
    gb = line(fg["id"], "Fargate GB-hours")
    assert abs(v["usd"] / v["quantity"] - 0.04048) < 1e-9, v
    assert abs(gb["usd"] / gb["quantity"] - 0.004445) < 1e-9, gb
    assert abs(gb["quantity"] - 2 * v["quantity"]) < 1e-9, "512 MiB is twice a quarter vCPU"
    # A task stopped within its first minute is billed the minute.
    assert g.call("PATCH", "/resources/fg", {"spec": {"desired_count": 2}}).status == 200
    new = g.wait_until(lambda: [t for t in tasks(g, "fg") if t["id"] != fg["id"]
                                and t["status"].get("placed_at") is not None], 10, "a second fg task")
    assert g.call("PATCH", "/resources/fg", {"spec": {"desired_count": 1}}).status == 200
    st2 = g.wait_until(lambda: (lambda s: s if s.get("state") == "stopped" else None)(
        res(g, new[0]["id"])["status"]), 10, "the second fg task stopped")
    assert st2["stopped_at"] - st2["placed_at"] < 60, st2
    b = g.wait_until(lambda: (lambda s: s if s.get("billed_until", 0) > s["placed_at"] else None)(
        res(g, new[0]["id"])["status"]), 15, "the stopped task billed")
    assert abs(b["billed_until"] - b["placed_at"] - 60) < 1e-6, b
    q = line(new[0]["id"], "Fargate vCPU-hours")["quantity"]
    assert abs(q - 0.25 * 60 / 3600) < 1e-9, q


AWS = "/usr/bin/aws"  # Debian's awscli, as test_aws_cli.py


def aws(g, *args, check=True):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_CONFIG_FILE=str(g.out / "aws" / "config"),
               AWS_SHARED_CREDENTIALS_FILE=str(g.out / "aws" / "credentials"),
               AWS_PAGER="", AWS_MAX_ATTEMPTS="1", AWS_DEFAULT_REGION="us-east-1")
    r = subprocess.run([AWS, "--profile", "team-1", "--endpoint-url", g.api + "/aws",
                        "--output", "json", *args], capture_output=True, text=True,
                       timeout=60, env=env)
    if not check:
        return r
    assert r.returncode == 0, f"{' '.join(args)}: rc {r.returncode}\n{r.stdout}\n{r.stderr}"
    return json.loads(r.stdout) if r.stdout.strip() else {}


@pytest.mark.skipif(not os.access(AWS, os.X_OK), reason="Debian's awscli is not installed")
def test_the_aws_cli_reads_and_scales_ecs(game):
    g = game
    wait_running(g, "web", 4)
    (cl,) = aws(g, "ecs", "describe-clusters", "--clusters", "prod")["clusters"]
    assert cl["clusterName"] == "prod" and cl["status"] == "ACTIVE"
    assert cl["registeredContainerInstancesCount"] == 2 and cl["activeServicesCount"] == 5
    assert aws(g, "ecs", "describe-clusters", "--clusters", "nope")["failures"][0]["reason"] == "MISSING"
    arns = aws(g, "ecs", "list-services", "--cluster", "prod")["serviceArns"]
    assert sorted(a.rsplit("/", 1)[1] for a in arns) == ["auto", "bad", "big", "fg", "web"], arns
    assert all(a.startswith("arn:aws:ecs:us-east-1:") and ":service/prod/" in a for a in arns)
    (svc,) = aws(g, "ecs", "describe-services", "--cluster", "prod", "--services", "web")["services"]
    assert (svc["desiredCount"], svc["runningCount"], svc["launchType"]) == (4, 4, "EC2")
    assert svc["loadBalancers"][0]["targetGroupArn"].split(":")[-1].startswith("targetgroup/web-tg/")
    assert svc["placementStrategy"] == [{"type": "binpack", "field": "cpu"}]
    (big,) = aws(g, "ecs", "describe-services", "--cluster", "prod", "--services", "big")["services"]
    assert any("RESOURCE:MEMORY" in e["message"] for e in big["events"]), big["events"]
    tasks_ = aws(g, "ecs", "list-tasks", "--cluster", "prod", "--service-name", "web")["taskArns"]
    assert len(tasks_) == 4
    desc = aws(g, "ecs", "describe-tasks", "--cluster", "prod", "--tasks", *tasks_)["tasks"]
    assert {t["lastStatus"] for t in desc} == {"RUNNING"} and len(desc) == 4
    assert all(t["group"] == "service:web" and t["cpu"] == "512" and t["memory"] == "1024"
               and t["containerInstanceArn"].split("/")[-1].startswith("i-") for t in desc)
    ips = {t["containers"][0]["networkInterfaces"][0]["privateIpv4Address"] for t in desc}
    assert len(ips) == 4 and all(ip.startswith(PREFIX) for ip in ips)
    td = aws(g, "ecs", "describe-task-definition", "--task-definition", "web-td")["taskDefinition"]
    assert (td["family"], td["revision"], td["cpu"], td["memory"]) == ("web-td", 1, "512", "1024")
    assert td["containerDefinitions"][0]["portMappings"][0]["containerPort"] == 8000
    # UpdateService: through the operations layer, audited under its AWS name.
    out = aws(g, "ecs", "update-service", "--cluster", "prod", "--service", "web", "--desired-count", "5")
    assert out["service"]["desiredCount"] == 5
    wait_running(g, "web", 5)
    rec = [a for a in g.audit() if a["eventName"] == "UpdateService"]
    assert rec and rec[-1]["principal"] == "team-1" and rec[-1]["errorCode"] is None, rec
    # Bad input: a clear error, nothing changed.
    r = aws(g, "ecs", "update-service", "--cluster", "prod", "--service", "web", "--desired-count",
            "900", check=False)
    assert r.returncode != 0 and "desired_count" in r.stderr, r.stderr
    r = aws(g, "ecs", "update-service", "--cluster", "prod", "--service", "nope", "--desired-count",
            "1", check=False)
    assert re.search(r"\(ServiceNotFoundException\)", r.stderr), r.stderr
    assert res(g, "web")["spec"]["desired_count"] == 5
    aws(g, "ecs", "update-service", "--cluster", "prod", "--service", "web", "--desired-count", "4")
    wait_running(g, "web", 4)
    # The AWS/ECS metrics through CloudWatch: the cluster's reservation.
    now = time.time()
    out = aws(g, "cloudwatch", "get-metric-statistics", "--namespace", "AWS/ECS", "--dimensions",
              "Name=ClusterName,Value=prod", "--metric-name", "CPUReservation", "--statistics",
              "Average", "--period", "60", "--start-time", str(int(now - 120)), "--end-time",
              str(int(now + 1)))
    assert out["Datapoints"] and all(0 < p["Average"] <= 100 for p in out["Datapoints"]), out


def test_deleting_a_service_stops_its_tasks(game):
    g = game
    mine = [t["id"] for t in tasks(g, "big") if t["status"].get("state") != "stopped"]
    assert len(mine) == 2, mine
    # a task definition a service uses cannot go
    r = g.call("DELETE", "/resources/big-td")
    assert r.status == 409 and "ecs_service big" in r.body.decode(), r
    # a game's task cannot be made by hand
    r = g.call("POST", "/resources", {"type": "task", "name": "mine",
                                      "spec": {"ecs_service": "web", "cluster": "prod",
                                               "task_definition": "web-td"}})
    assert r.status == 400, r
    assert g.call("DELETE", "/resources/big").status == 200
    for tid in mine:
        st = g.wait_until(lambda: (lambda s: s if s.get("state") == "stopped" else None)(
            res(g, tid)["status"]), 10, "big's tasks stopped")
        assert st["stopped_reason"] == "Service big deleted", st
        assert not st.get("pid")
    assert g.call("DELETE", "/resources/big-td").status == 200


def test_service_auto_scaling_by_target_tracking(game):
    g = game
    # auto's two tasks take no traffic: 15 minutes under 90 % of the 50 % target scale
    # it in, to min_capacity (ceil(2 x 0 / 50) is 0), through the operations layer.
    g.wait_until(lambda: res(g, "auto")["spec"]["desired_count"] == 1, 150,
                 "auto scaled in by its policy")
    st = res(g, "auto-cpu")["status"]
    assert st["wish"] in ("in", "hold") and st["last_value"] == 0, st
    rec = [a for a in g.audit() if a["eventName"] == "UpdateService"
           and a["principal"] == "autoscaling"]
    assert rec and rec[-1]["requestParameters"] == {"service": "auto", "desiredCount": 1}, rec
    wait_running(g, "auto", 1)
    # A policy must name what it scales, with the metric of that kind.
    r = g.call("POST", "/resources", {"type": "scaling_policy", "name": "p2",
                                      "spec": {"ecs_service": "auto",
                                               "policy_type": "TargetTrackingScaling",
                                               "metric": "ASGAverageCPUUtilization",
                                               "target_value": 50}})
    assert r.status == 400 and "ECSServiceAverageCPUUtilization" in r.body.decode(), r


def test_a_sigkilled_server_re_adopts_the_tasks(game):
    g = game
    before = {t["id"]: t["status"]["pid"] for t in tasks(g, state="running")}
    assert len(before) >= 5, before
    spid = g.info["server_pid"]
    os.kill(spid, signal.SIGKILL)
    g.wait_until(lambda: not live(proc_info(spid)), 10, "the server to die")
    g.wait_until(lambda: json.loads((g.out / "game.json").read_text())["server_pid"] != spid,
                 30, "play to restart the server")
    g.wait_until(g.team, 30, "the restarted server's API")
    after = g.wait_until(lambda: {t["id"]: t["status"]["pid"] for t in tasks(g, state="running")},
                         10, "the tasks listed again")
    assert after == before, "the same tasks run on the same processes"
    for pid in after.values():
        assert live(proc_info(pid))
    # and they are watched again: a kill is still noticed and replaced
    victim = next(t for t in tasks(g, "web", "running"))
    os.kill(victim["status"]["pid"], signal.SIGKILL)
    g.wait_until(lambda: res(g, victim["id"])["status"].get("state") == "stopped", 15,
                 "the adopted task's death noticed")
    wait_running(g, "web", 4)
