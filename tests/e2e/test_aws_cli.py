"""The real aws CLI (Debian's awscli 2.9, /usr/bin/aws) against the AWS-compatible API
of a running game (tests/e2e/scenarios/aws_cli.yaml, two teams, on --net 235: team 1
at 127.235.0.0/16, team 2 at 127.236.0.0/16). Every answer is compared with the
game's REST API, every write is checked in the game's state and audit trail, and
requests signed with another team's key, a wrong secret, an unknown key or a skewed
clock are refused with AWS's codes and change nothing. The refusals that the CLI
cannot produce (a skewed clock) are signed here by a few lines of SigV4 of our own."""

import configparser
import datetime
import hashlib
import hmac
import json
import os
import re
import signal
import subprocess
import urllib.parse

import pytest

from conftest import (connect_refused, http, live, net_lock, proc_info, scenario_path,
                      shared_game, wait_for_quiet_network)

SCENARIO = scenario_path("aws_cli.yaml")
SPEED = 30
NET = 235  # team 1: 127.235.0.0/16; team 2: 127.236.0.0/16
AWS = "/usr/bin/aws"  # Debian's awscli (scripts/install-deps.sh), not a pip one on PATH


@pytest.fixture(scope="module")
def game(tmp_path_factory):
    if not os.access(AWS, os.X_OK):
        pytest.fail(f"{AWS} is missing: scripts/install-deps.sh installs Debian's awscli")
    # Team 2 lives on the next /16: take its lock too, as conftest does for team 1's.
    lock = net_lock(net=NET + 1)
    try:
        wait_for_quiet_network(net=NET + 1)
        yield from shared_game(tmp_path_factory, SCENARIO, "aws", port=18735, speed=SPEED,
                               net=NET)
    finally:
        lock.close()


def aws_env(g, credentials=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_CONFIG_FILE=str(g.out / "aws" / "config"),
               AWS_SHARED_CREDENTIALS_FILE=str(credentials or g.out / "aws" / "credentials"),
               AWS_PAGER="", AWS_MAX_ATTEMPTS="1", AWS_DEFAULT_REGION="us-east-1")
    return env


def aws(g, *args, profile="team-1", credentials=None, check=True):
    """Runs the aws CLI with the game's profile files; its parsed JSON output (check) or
    the completed process."""
    cmd = [AWS, "--profile", profile, "--endpoint-url", g.api + "/aws", "--output", "json",
           *args]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60,
                       env=aws_env(g, credentials))
    if not check:
        return r
    assert r.returncode == 0, f"{' '.join(args)}: rc {r.returncode}\n{r.stdout}\n{r.stderr}"
    return json.loads(r.stdout) if r.stdout.strip() else {}


def aws_error(g, *args, **kw):
    """Runs a command that must fail; the AWS error code it printed."""
    r = aws(g, *args, check=False, **kw)
    assert r.returncode != 0, f"{' '.join(args)} succeeded: {r.stdout}"
    m = re.search(r"An error occurred \(([^)]+)\)", r.stderr)
    assert m, r.stderr
    return m.group(1), r.stderr


def admin_token(g):
    return g.info["admin_token"]


def team_token(g, team):
    return g.info["teams"][team - 1]["token"]


def rest(g, path, team=1):
    return g.get(path, token=team_token(g, team))


def keys(g):
    c = configparser.ConfigParser()
    c.read(g.out / "aws" / "credentials")
    return c


def instances(g, team=1):
    return {i["id"]: i for i in rest(g, "/instances", team)}


def cli_instances(g, *args, profile="team-1"):
    out = aws(g, "ec2", "describe-instances", *args, profile=profile)
    return {i["InstanceId"]: i for r in out["Reservations"] for i in r["Instances"]}


def steady(g, read, team=1):
    """(REST instances, read()) taken while the team's instances did not change (the
    group replaces Chaos Monkey's kill, boots end): the REST view before and after the
    read is the same."""
    def once():
        before = instances(g, team)
        got = read()
        after = instances(g, team)
        key = lambda d: {i: (r["status"]["state"], r["status"].get("ip")) for i, r in d.items()}
        return (after, got) if key(before) == key(after) else None
    return g.wait_until(once, 30, "a moment when the instances do not change")


# ---- SigV4 of our own, for requests the CLI cannot make (a skewed clock) ----


def signed(url, body, key_id, secret, service, when, target=None):
    """Headers of a SigV4-signed POST of body to url at datetime when (UTC)."""
    u = urllib.parse.urlsplit(url)
    amz = when.strftime("%Y%m%dT%H%M%SZ")
    h = {"host": u.netloc, "x-amz-date": amz}
    if target:
        h["x-amz-target"] = target
        h["content-type"] = "application/x-amz-json-1.1"
    else:
        h["content-type"] = "application/x-www-form-urlencoded; charset=utf-8"
    names = sorted(h)
    creq = "\n".join(["POST", u.path, "", "".join(f"{n}:{h[n]}\n" for n in names),
                      ";".join(names), hashlib.sha256(body).hexdigest()])
    scope = f"{amz[:8]}/us-east-1/{service}/aws4_request"
    sts = "\n".join(["AWS4-HMAC-SHA256", amz, scope, hashlib.sha256(creq.encode()).hexdigest()])
    k = ("AWS4" + secret).encode()
    for part in (amz[:8], "us-east-1", service, "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    h["authorization"] = (f"AWS4-HMAC-SHA256 Credential={key_id}/{scope}, "
                          f"SignedHeaders={';'.join(names)}, Signature={sig}")
    return h


def raw_post(url, body, headers):
    import urllib.request
    req = urllib.request.Request(url, data=body, method="POST", headers=headers)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


# ---- keys and profiles ----


def test_play_prints_a_working_aws_line_per_team(game):
    g = game
    lines = [l for l in g.stdout_lines() if l.startswith("aws: ")]
    assert len(lines) == 2, g.stdout_lines()
    for t, line in enumerate(lines, 1):
        assert f"--profile team-{t} " in line, line
        assert f"--endpoint-url {g.api}/aws ec2 describe-instances" in line, line
    # The printed command works as printed (with Debian's aws binary in place of 'aws').
    words = lines[0][len("aws: "):].split()
    env = dict(aws_env(g), **dict(w.split("=", 1) for w in words[:2]))
    assert words[2] == "aws"
    r = subprocess.run([AWS, *words[3:], "--output", "json"], capture_output=True, text=True,
                       env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    ids = {i["InstanceId"] for res in json.loads(r.stdout)["Reservations"]
           for i in res["Instances"]}
    assert ids and ids <= set(instances(g)), (ids, set(instances(g)))
    # Keys: AKIA + 16, 40-character secrets, one pair per team and per team for the admin.
    c = keys(g)
    assert set(c.sections()) == {"team-1", "team-2", "admin-team-1", "admin-team-2"}
    ids = {c[s]["aws_access_key_id"] for s in c.sections()}
    assert len(ids) == 4 and all(re.fullmatch(r"AKIA[A-Z2-7]{16}", i) for i in ids), ids
    assert all(len(c[s]["aws_secret_access_key"]) == 40 for s in c.sections())
    assert (g.out / "aws" / "credentials").stat().st_mode & 0o077 == 0, "private to the user"


# ---- EC2 ----


def test_describe_instances_is_the_games_instances(game):
    g = game
    rest_inst, cli = steady(g, lambda: cli_instances(g))
    assert set(cli) == set(rest_inst)
    subnets = {r["name"]: r["id"] for r in rest(g, "/resources?type=subnet")}
    vpc = rest(g, "/resources?type=vpc")[0]["id"]
    for iid, r in rest_inst.items():
        c, st = cli[iid], r["status"]
        assert c["State"]["Name"] == st["state"], (c["State"], st)
        assert c["State"]["Code"] == {"pending": 0, "running": 16, "terminated": 48,
                                      "stopped": 80}[st["state"]]
        assert c["InstanceType"] == st["instance_type"]
        assert c["Placement"]["AvailabilityZone"] == "us-east-1" + st["az"]
        if st["state"] != "terminated":
            assert c["PrivateIpAddress"] == st["ip"]
            assert c["PrivateIpAddress"].startswith(f"127.{NET}.201.")
        assert c["SubnetId"] == subnets[st["subnet"]] and c["VpcId"] == vpc
        tags = {t["Key"]: t["Value"] for t in c["Tags"]}
        assert tags["Name"] == r["name"] and tags["aws:autoscaling:groupName"] == "web"
        assert [s["GroupName"] for s in c["SecurityGroups"]] == ["web-sg"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00", c["LaunchTime"])


def test_filters_and_pages(game):
    g = game
    inst, got = steady(g, lambda: cli_instances(g, "--filters",
                                                "Name=instance-state-name,Values=running",
                                                "Name=tag:Name,Values=web-*"))
    running = {i for i, r in inst.items() if r["status"]["state"] == "running"}
    assert running and set(got) == running
    assert cli_instances(g, "--filters", "Name=tag:Name,Values=nothing-*") == {}
    one = sorted(running)[0]
    assert set(cli_instances(g, "--instance-ids", one)) == {one}
    # Pages of five: the CLI follows NextToken and finds every instance.
    inst, got = steady(g, lambda: cli_instances(g, "--page-size", "5"))
    assert set(got) == set(inst)
    out = aws(g, "ec2", "describe-instances", "--max-items", "1")
    assert len(out["Reservations"]) == 1 and "NextToken" in out
    code, msg = aws_error(g, "ec2", "describe-instances", "--filters", "Name=colour,Values=red")
    assert code == "InvalidParameterValue" and "The filter 'colour' is invalid" in msg, msg
    code, _ = aws_error(g, "ec2", "describe-instances", "--instance-ids", "web-1")
    assert code == "InvalidInstanceID.Malformed"
    code, msg = aws_error(g, "ec2", "describe-images")
    assert code == "InvalidAction" and "DescribeInstances" in msg, msg


def test_describe_subnets_vpcs_groups_templates(game):
    g = game
    subnets = {r["id"]: r for r in rest(g, "/resources?type=subnet")}
    got = {s["SubnetId"]: s for s in aws(g, "ec2", "describe-subnets")["Subnets"]}
    assert set(got) == set(subnets)
    priv = next(s for s in got.values() if s["CidrBlock"] == f"127.{NET}.201.0/24")
    assert priv["AvailabilityZone"] == "us-east-1a"
    inst, got = steady(g, lambda: {s["SubnetId"]: s for s in aws(g, "ec2", "describe-subnets")["Subnets"]})
    priv = next(s for s in got.values() if s["CidrBlock"] == f"127.{NET}.201.0/24")
    live = [i for i in inst.values() if i["status"]["state"] != "terminated"]
    assert priv["AvailableIpAddressCount"] == 251 - len(live)
    vpcs = aws(g, "ec2", "describe-vpcs")["Vpcs"]
    assert [v["CidrBlock"] for v in vpcs] == [f"127.{NET}.0.0/16"]
    sgs = aws(g, "ec2", "describe-security-groups", "--group-names", "web-sg")["SecurityGroups"]
    assert len(sgs) == 1 and sgs[0]["GroupId"].startswith("sg-")
    perm = sgs[0]["IpPermissions"][0]
    assert perm["FromPort"] == 8000 and perm["IpRanges"] == [{"CidrIp": "0.0.0.0/0"}]
    lts = aws(g, "ec2", "describe-launch-templates")["LaunchTemplates"]
    assert [(t["LaunchTemplateName"], t["LaunchTemplateId"][:3]) for t in lts] == \
        [("web-template", "lt-")]


# ---- who may do what ----


def test_team_2_key_cannot_see_or_touch_team_1(game):
    g = game
    t1 = instances(g, 1)
    victim = next(i for i, r in t1.items() if r["status"]["state"] == "running")
    inst2, t2 = steady(g, lambda: cli_instances(g, profile="team-2"), team=2)
    assert t2 and set(t2) == set(inst2) and not set(t2) & set(t1)
    assert all(i["PrivateIpAddress"].startswith(f"127.{NET + 1}.") for i in t2.values()
               if i["State"]["Name"] != "terminated")
    code, _ = aws_error(g, "ec2", "describe-instances", "--instance-ids", victim,
                        profile="team-2")
    assert code == "InvalidInstanceID.NotFound"
    before = len(g.get("/audit?limit=0", token=admin_token(g)))
    code, msg = aws_error(g, "ec2", "terminate-instances", "--instance-ids", victim,
                          profile="team-2")
    assert code == "InvalidInstanceID.NotFound" and victim in msg
    assert instances(g, 1)[victim]["status"]["state"] == "running"
    assert len(g.get("/audit?limit=0", token=admin_token(g))) == before, "nothing was done"


def test_a_bad_secret_or_an_unknown_key_is_refused_and_changes_nothing(game, tmp_path):
    g = game
    c = keys(g)
    victim = next(i for i, r in instances(g).items() if r["status"]["state"] == "running")
    desired = rest(g, "/resources/web")["spec"]["desired"]
    before = len(g.get("/audit?limit=0", token=admin_token(g)))
    bad = configparser.ConfigParser()
    bad["team-1"] = {"aws_access_key_id": c["team-1"]["aws_access_key_id"],
                     "aws_secret_access_key": "x" * 40}
    bad["stranger"] = {"aws_access_key_id": "AKIAAAAAAAAAAAAAAAAA",
                       "aws_secret_access_key": c["team-1"]["aws_secret_access_key"]}
    with open(tmp_path / "bad", "w") as f:
        bad.write(f)
    code, _ = aws_error(g, "ec2", "terminate-instances", "--instance-ids", victim,
                        credentials=tmp_path / "bad")
    assert code == "SignatureDoesNotMatch"
    code, _ = aws_error(g, "ec2", "describe-instances", profile="stranger",
                        credentials=tmp_path / "bad")
    assert code == "InvalidClientTokenId"
    # The JSON protocol's words for the same (CloudTrail), and the query protocol's.
    code, _ = aws_error(g, "cloudtrail", "lookup-events", credentials=tmp_path / "bad")
    assert code == "InvalidSignatureException"
    code, _ = aws_error(g, "cloudtrail", "lookup-events", profile="stranger",
                        credentials=tmp_path / "bad")
    assert code == "UnrecognizedClientException"
    code, _ = aws_error(g, "autoscaling", "set-desired-capacity", "--auto-scaling-group-name",
                        "web", "--desired-capacity", "5", credentials=tmp_path / "bad")
    assert code == "SignatureDoesNotMatch"
    assert rest(g, "/resources/web")["spec"]["desired"] == desired
    assert instances(g)[victim]["status"]["state"] == "running"
    assert len(g.get("/audit?limit=0", token=admin_token(g))) == before
    # A request with no signature at all.
    r = http("POST", g.api + "/aws/", body=b"Action=DescribeInstances&Version=2016-11-15")
    assert r.status == 403 and b"<Code>MissingAuthenticationToken</Code>" in r.body, r


def test_a_skewed_clock_is_refused(game):
    g = game
    c = keys(g)["team-1"]
    victim = next(i for i, r in instances(g).items() if r["status"]["state"] == "running")
    body = f"Action=TerminateInstances&Version=2016-11-15&InstanceId.1={victim}".encode()
    url = g.api + "/aws/"
    now = datetime.datetime.now(datetime.timezone.utc)
    for skew in (-20, 20):
        h = signed(url, body, c["aws_access_key_id"], c["aws_secret_access_key"], "ec2",
                   now + datetime.timedelta(minutes=skew))
        status, text = raw_post(url, body, h)
        assert status == 400 and "<Code>RequestExpired</Code>" in text, (status, text)
    # Signed right now, the same code of ours is accepted: the refusal was the clock's.
    h = signed(url, b"Action=DescribeInstances&Version=2016-11-15", c["aws_access_key_id"],
               c["aws_secret_access_key"], "ec2", now)
    status, text = raw_post(url, b"Action=DescribeInstances&Version=2016-11-15", h)
    assert status == 200 and victim in text, (status, text[:300])
    assert instances(g)[victim]["status"]["state"] == "running"


# ---- writes: subnets, groups, capacity ----


def audit_of(g, team=1):
    return g.get("/audit?limit=0", token=team_token(g, team))


def test_create_subnet_and_add_it_to_the_group(game):
    g = game
    vpc = aws(g, "ec2", "describe-vpcs")["Vpcs"][0]["VpcId"]
    out = aws(g, "ec2", "create-subnet", "--vpc-id", vpc, "--cidr-block", f"127.{NET}.202.0/24",
              "--availability-zone", "us-east-1b", "--tag-specifications",
              "ResourceType=subnet,Tags=[{Key=Name,Value=private-b}]")["Subnet"]
    assert out["CidrBlock"] == f"127.{NET}.202.0/24" and out["AvailabilityZone"] == "us-east-1b"
    assert out["AvailableIpAddressCount"] == 251
    sn = rest(g, "/resources/private-b")
    assert sn["id"] == out["SubnetId"] and sn["spec"]["az"] == "b"
    assert sn["spec"]["cidr"] == f"127.{NET}.202.0/24" and sn["spec"]["vpc"] == "main"
    # Bad blocks are refused with EC2's codes and create nothing.
    n = len(rest(g, "/resources?type=subnet"))
    code, msg = aws_error(g, "ec2", "create-subnet", "--vpc-id", vpc, "--cidr-block",
                          f"127.{NET}.202.0/25")
    assert code == "InvalidSubnet.Conflict" and "overlaps subnet 'private-b'" in msg, msg
    code, msg = aws_error(g, "ec2", "create-subnet", "--vpc-id", vpc, "--cidr-block",
                          f"127.{NET + 1}.9.0/24")
    assert code == "InvalidParameterValue" and "outside this team's range" in msg, msg
    code, _ = aws_error(g, "ec2", "create-subnet", "--vpc-id", "vpc-00000000", "--cidr-block",
                        f"127.{NET}.9.0/24")
    assert code == "InvalidVpcID.NotFound"
    code, _ = aws_error(g, "ec2", "create-subnet", "--vpc-id", vpc, "--cidr-block",
                        f"127.{NET}.9.0/24", "--dry-run")
    assert code == "DryRunOperation"
    assert len(rest(g, "/resources?type=subnet")) == n

    group = aws(g, "autoscaling", "describe-auto-scaling-groups", "--auto-scaling-group-names",
                "web")["AutoScalingGroups"][0]
    old = group["VPCZoneIdentifier"]
    assert old == rest(g, "/resources/private-a")["id"]
    aws(g, "autoscaling", "update-auto-scaling-group", "--auto-scaling-group-name", "web",
        "--vpc-zone-identifier", f"{old},{out['SubnetId']}")
    assert rest(g, "/resources/web")["spec"]["subnets"] == ["private-a", "private-b"]
    group = aws(g, "autoscaling", "describe-auto-scaling-groups")["AutoScalingGroups"][0]
    assert group["VPCZoneIdentifier"] == f"{old},{out['SubnetId']}"
    assert group["AvailabilityZones"] == ["us-east-1a", "us-east-1b"]
    code, msg = aws_error(g, "autoscaling", "update-auto-scaling-group",
                          "--auto-scaling-group-name", "web", "--vpc-zone-identifier",
                          "subnet-00000000")
    assert code == "ValidationError" and "subnet-00000000" in msg
    assert rest(g, "/resources/web")["spec"]["subnets"] == ["private-a", "private-b"]
    # Both writes are in the audit trail as the team's, from the CLI's address.
    recs = [r for r in audit_of(g) if r["principal"] == "team-1" and r["errorCode"] is None]
    assert any(r["eventName"] == "CreateResource" and r["requestParameters"]["type"] == "subnet"
               and r["requestParameters"]["name"] == "private-b" and r["sourceIP"] == "127.0.0.1"
               for r in recs), recs[-5:]
    assert any(r["eventName"] == "UpdateResource" and r["requestParameters"]["id"] == "web"
               and r["requestParameters"]["spec"]["subnets"] == ["private-a", "private-b"]
               for r in recs), recs[-5:]


def members(g, state="running"):
    return [i for i in instances(g).values()
            if i["status"].get("asg") == "web" and i["status"]["state"] == state]


def test_set_desired_capacity_and_the_instances_come(game):
    g = game
    desired = rest(g, "/resources/web")["spec"]["desired"]
    want = desired + 2
    assert want <= 6
    aws(g, "autoscaling", "set-desired-capacity", "--auto-scaling-group-name", "web",
        "--desired-capacity", str(want))
    assert rest(g, "/resources/web")["spec"]["desired"] == want
    g.wait_until(lambda: len(members(g)) == want, 60, f"{want} running instances of web")
    # The CLI sees them, in the group and in EC2.
    group = aws(g, "autoscaling", "describe-auto-scaling-groups")["AutoScalingGroups"][0]
    assert group["DesiredCapacity"] == want
    live = {i["id"] for i in members(g)}
    assert {i["InstanceId"] for i in group["Instances"]
            if i["LifecycleState"] == "InService"} == live
    # The group now spreads over both zones (the new subnet has the fewest members).
    zones = {i["status"]["az"] for i in members(g)}
    assert zones == {"a", "b"}, zones
    code, msg = aws_error(g, "autoscaling", "set-desired-capacity", "--auto-scaling-group-name",
                          "web", "--desired-capacity", "7")
    assert code == "ValidationError" and "outside the group's min..max (1..6)" in msg, msg
    code, msg = aws_error(g, "autoscaling", "set-desired-capacity", "--auto-scaling-group-name",
                          "nope", "--desired-capacity", "2")
    assert code == "ValidationError" and "AutoScalingGroup name not found" in msg, msg
    assert rest(g, "/resources/web")["spec"]["desired"] == want
    acts = aws(g, "autoscaling", "describe-scaling-activities", "--auto-scaling-group-name",
               "web", "--max-items", "2")["Activities"]
    assert len(acts) == 2 and all(a["Description"].startswith("Launching a new EC2 instance")
                                  for a in acts), acts
    # Audited as the REST API's: the change, and both refusals with their codes.
    recs = [(r["requestParameters"]["autoScalingGroupName"],
             r["requestParameters"]["desiredCapacity"], r["errorCode"])
            for r in audit_of(g) if r["eventName"] == "SetDesiredCapacity"
            and r["principal"] == "team-1"]
    assert recs[-3:] == [("web", want, None), ("web", 7, "ValidationError"),
                         ("nope", 2, "ResourceNotFound")], recs


# ---- CloudWatch ----


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_get_metric_statistics_of_the_load_balancer(game):
    g = game
    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = now - datetime.timedelta(minutes=2), now + datetime.timedelta(seconds=1)
    args = ["cloudwatch", "get-metric-statistics", "--namespace", "AWS/ELB", "--dimensions",
            "Name=LoadBalancerName,Value=web-lb", "--start-time", iso(start), "--end-time",
            iso(end), "--period", "60"]
    out = aws(g, *args, "--metric-name", "RequestCount", "--statistics", "Sum", "SampleCount")
    pts = out["Datapoints"]
    assert out["Label"] == "RequestCount" and len(pts) >= 5, out
    assert all(p["Unit"] == "Count" and p["Sum"] >= 0 and p["SampleCount"] >= 1 for p in pts)
    total = sum(p["Sum"] for p in pts)
    assert total > 0
    # Periods are game seconds: 60 of them are 2 wall seconds at x30.
    ts = sorted(datetime.datetime.fromisoformat(p["Timestamp"]).timestamp() for p in pts)
    for a, b in zip(ts, ts[1:]):
        steps = (b - a) / (60 / SPEED)
        assert abs(steps - round(steps)) < 0.05 and round(steps) >= 1, (a, b)
    # The same window through the REST API (game seconds) counts the same requests.
    clock = g.status()["clock"]
    wall = datetime.datetime.now(datetime.timezone.utc).timestamp()
    g0 = clock - (wall - start.timestamp()) * SPEED
    g1 = clock - (wall - end.timestamp()) * SPEED
    ref = g.get(f"/metrics?resource=web-lb&metric=RequestCount&statistic=Sum&period=60"
                f"&start={g0:.3f}&end={g1:.3f}", token=team_token(g, 1))
    ref_total = sum(p["Sum"] for p in ref["Datapoints"])
    assert abs(total - ref_total) <= 0.1 * ref_total + 10, (total, ref_total)
    per = aws(g, *args, "--metric-name", "RequestCountPerTarget", "--statistics", "Sum")
    assert per["Datapoints"] and all(p["Sum"] >= 0 for p in per["Datapoints"])
    # Another team's load balancer, or one that does not exist: no datapoints, as AWS.
    other = aws(g, *args, "--metric-name", "RequestCount", "--statistics", "Sum",
                profile="team-2")
    assert other["Datapoints"] and other["Datapoints"] != pts  # team 2's own web-lb
    none = aws(g, "cloudwatch", "get-metric-statistics", "--namespace", "AWS/ELB",
               "--dimensions", "Name=LoadBalancerName,Value=nope", "--start-time", iso(start),
               "--end-time", iso(end), "--period", "60", "--metric-name", "RequestCount",
               "--statistics", "Sum")
    assert none["Datapoints"] == []
    code, msg = aws_error(g, "cloudwatch", "get-metric-statistics", "--namespace", "AWS/ELB",
                          "--metric-name", "RequestCount", "--start-time", iso(end),
                          "--end-time", iso(start), "--period", "60", "--statistics", "Sum")
    assert code == "InvalidParameterValue" and "StartTime must be less" in msg
    code, msg = aws_error(g, "cloudwatch", "get-metric-statistics", "--namespace", "AWS/ELB",
                          "--metric-name", "RequestCount", "--start-time",
                          iso(now - datetime.timedelta(days=1)), "--end-time", iso(end),
                          "--period", "60", "--statistics", "Sum")
    assert code == "InvalidParameterCombination" and "1,440" in msg
    names = {(m["Namespace"], m["MetricName"]) for m in
             aws(g, "cloudwatch", "list-metrics", "--dimensions",
                 "Name=LoadBalancerName,Value=web-lb")["Metrics"]}
    assert ("AWS/ELB", "RequestCount") in names and ("AWS/ELB", "HealthyHostCount") in names


def test_describe_alarms(game):
    g = game
    g.ctl("create", "alarm", "busy-lb", "resource=web-lb", "metric=RequestCount",
          "statistic=Sum", "threshold=100000", token=team_token(g, 1))
    alarms = aws(g, "cloudwatch", "describe-alarms")["MetricAlarms"]
    a = next(a for a in alarms if a["AlarmName"] == "busy-lb")
    assert a["Namespace"] == "AWS/ELB" and a["MetricName"] == "RequestCount"
    assert a["Dimensions"] == [{"Name": "LoadBalancerName", "Value": "web-lb"}]
    assert a["Statistic"] == "Sum" and a["Threshold"] == 100000 and a["Period"] == 60
    assert a["ComparisonOperator"] == "GreaterThanThreshold"
    assert a["StateValue"] in ("OK", "ALARM", "INSUFFICIENT_DATA")
    assert aws(g, "cloudwatch", "describe-alarms", profile="team-2")["MetricAlarms"] == []


# ---- CloudTrail ----


def lookup(g, key, value, *extra, profile="team-1"):
    return aws(g, "cloudtrail", "lookup-events", "--lookup-attributes",
               f"AttributeKey={key},AttributeValue={value}", *extra, profile=profile)["Events"]


def test_lookup_events_names_who_terminated(game):
    g = game
    victim = members(g)[0]["id"]
    out = aws(g, "ec2", "terminate-instances", "--instance-ids", victim)
    change = out["TerminatingInstances"][0]
    assert change["InstanceId"] == victim and change["CurrentState"]["Name"] == "terminated"
    assert change["PreviousState"]["Name"] == "running"
    assert instances(g)[victim]["status"]["state"] == "terminated"
    evs = lookup(g, "ResourceName", victim)
    term = [e for e in evs if e["EventName"] == "TerminateInstances"]
    assert len(term) == 1, evs
    e = term[0]
    assert e["Username"] == "team-1" and e["EventSource"] == "ec2.amazonaws.com"
    assert e["AccessKeyId"] == keys(g)["team-1"]["aws_access_key_id"]
    assert {"ResourceType": "AWS::EC2::Instance", "ResourceName": victim} in e["Resources"]
    ct = json.loads(e["CloudTrailEvent"])
    assert ct["userIdentity"]["userName"] == "team-1" and ct["eventName"] == "TerminateInstances"
    assert ct["requestParameters"]["instanceId"] == victim and ct["awsRegion"] == "us-east-1"
    # Chaos Monkey's kill at 2m, named as the audit trail names it.
    g.wait_until(lambda: any(r["principal"] == "chaos-monkey" for r in audit_of(g)), 30,
                 "Chaos Monkey's kill")
    kills = [r for r in audit_of(g) if r["principal"] == "chaos-monkey"
             and r["eventName"] == "TerminateInstances"]
    evs = lookup(g, "Username", "chaos-monkey")
    assert [e["EventName"] for e in evs] == ["TerminateInstances"] * len(kills) and kills
    assert {r["requestParameters"]["instanceId"] for r in kills} == \
        {e["Resources"][0]["ResourceName"] for e in evs}
    # Our own names are CloudTrail's: the subnet and the group of the earlier tests.
    assert lookup(g, "EventName", "CreateSubnet")[0]["Username"] in ("team-1", "gameday")
    assert any(e["Username"] == "team-1" for e in lookup(g, "EventName", "CreateSubnet"))
    ups = lookup(g, "EventName", "UpdateAutoScalingGroup")
    assert ups and ups[0]["EventSource"] == "autoscaling.amazonaws.com"
    # Newest first, in pages the CLI follows.
    paged = lookup(g, "Username", "team-1", "--page-size", "2")
    everything = lookup(g, "Username", "team-1")
    assert [e["EventId"] for e in paged] == [e["EventId"] for e in everything]
    times = [datetime.datetime.fromisoformat(e["EventTime"]) for e in everything]
    assert times == sorted(times, reverse=True) and len(times) > 2
    # Team 2 sees none of team 1's trail.
    assert lookup(g, "ResourceName", victim, profile="team-2") == []
    code, _ = aws_error(g, "cloudtrail", "lookup-events", "--lookup-attributes",
                        "AttributeKey=Colour,AttributeValue=red")
    assert code == "InvalidLookupAttributesException"
    code, _ = aws_error(g, "cloudtrail", "describe-trails")
    assert code == "UnknownOperationException"


# ---- the instructor's keys, and keys that outlive the server ----


def test_the_admin_key_acts_on_its_team_as_admin(game):
    g = game
    inst2, got = steady(g, lambda: cli_instances(g, profile="admin-team-2"), team=2)
    assert got and set(got) == set(inst2)
    desired = rest(g, "/resources/web", team=2)["spec"]["desired"]
    team1 = rest(g, "/resources/web", team=1)["spec"]["desired"]
    aws(g, "autoscaling", "set-desired-capacity", "--auto-scaling-group-name", "web",
        "--desired-capacity", str(desired + 1), profile="admin-team-2")
    assert rest(g, "/resources/web", team=2)["spec"]["desired"] == desired + 1
    assert rest(g, "/resources/web", team=1)["spec"]["desired"] == team1, "team 1's is its own"
    rec = [r for r in audit_of(g, 2) if r["eventName"] == "SetDesiredCapacity"][-1]
    assert rec["principal"] == "admin" and rec["team"] == 2 and rec["errorCode"] is None
    evs = lookup(g, "Username", "admin", profile="admin-team-2")
    assert evs[0]["EventName"] == "SetDesiredCapacity"
    assert evs[0]["AccessKeyId"] == keys(g)["admin-team-2"]["aws_access_key_id"]


def test_keys_survive_a_server_restart(game):
    g = game
    creds = (g.out / "aws" / "credentials").read_text()
    spid = json.loads((g.out / "game.json").read_text())["server_pid"]
    os.kill(spid, signal.SIGKILL)  # play restarts it; the new one resumes the game
    g.wait_until(lambda: not live(proc_info(spid)), 10, "the server to die")
    g.wait_until(lambda: json.loads((g.out / "game.json").read_text())["server_pid"] != spid
                 and not connect_refused("127.0.0.1", g.port), 30, "the restarted server")
    assert (g.out / "aws" / "credentials").read_text() == creds
    inst, got = steady(g, lambda: cli_instances(g))
    assert got and set(got) == set(inst)
