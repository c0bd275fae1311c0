"""Elastic Load Balancing v2 and CloudFront through the real aws CLI (Debian's awscli 2.9)
against a running game (tests/e2e/scenarios/aws_elb.yaml, two teams, on --net 237:
team 1 at 127.237.0.0/16, team 2 at 127.238.0.0/16). The CLI makes a target group,
registers a lone instance in it, sets the listener's default action and adds a rule,
and the alb then sends a path to that instance (a real request through the edge);
describe-target-health says healthy once the edge's checks pass. A CloudFront
invalidation removes a cached object: the next request is a miss. Every write is
checked in the game's state (REST API) and its audit trail; another team's key, a
wrong secret and an unknown key are refused with AWS's codes and change nothing."""

import configparser
import datetime
import json
import os
import re
import subprocess

import pytest

from conftest import http, net_lock, scenario_path, shared_game, wait_for_quiet_network

SCENARIO = scenario_path("aws_elb.yaml")
SPEED = 30
NET = 237  # team 1: 127.237.0.0/16; team 2: 127.238.0.0/16
AWS = "/usr/bin/aws"  # Debian's awscli (scripts/install-deps.sh)
ARN = "arn:aws:elasticloadbalancing:us-east-1:000000000001:"


@pytest.fixture(scope="module")
def game(tmp_path_factory):
    if not os.access(AWS, os.X_OK):
        pytest.fail(f"{AWS} is missing: scripts/install-deps.sh installs Debian's awscli")
    lock = net_lock(net=NET + 1)  # team 2 lives on the next /16: its lock too
    try:
        wait_for_quiet_network(net=NET + 1)
        yield from shared_game(tmp_path_factory, SCENARIO, "aws-elb", port=18737, speed=SPEED,
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
    cmd = [AWS, "--profile", profile, "--endpoint-url", g.api + "/aws", "--output", "json",
           *args]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60,
                       env=aws_env(g, credentials))
    if not check:
        return r
    assert r.returncode == 0, f"{' '.join(args)}: rc {r.returncode}\n{r.stdout}\n{r.stderr}"
    return json.loads(r.stdout) if r.stdout.strip() else {}


def aws_error(g, *args, **kw):
    """Runs a command that must fail; the AWS error code it printed, and its stderr."""
    r = aws(g, *args, check=False, **kw)
    assert r.returncode != 0, f"{' '.join(args)} succeeded: {r.stdout}"
    m = re.search(r"An error occurred \(([^)]+)\)", r.stderr)
    assert m, r.stderr
    return m.group(1), r.stderr


def token(g, team=1):
    return g.info["teams"][team - 1]["token"]


def rest(g, path, team=1):
    return g.get(path, token=token(g, team))


def audit(g, team=1):
    return rest(g, "/audit?limit=0", team)


def events_of(g, name, team=1):
    return [e for e in audit(g, team) if e["eventName"] == name]


def alb_arn(g):
    lbs = aws(g, "elbv2", "describe-load-balancers", "--names", "web-alb")["LoadBalancers"]
    return lbs[0]["LoadBalancerArn"]


def tg_arn(g, name):
    groups = aws(g, "elbv2", "describe-target-groups", "--names", name)["TargetGroups"]
    return groups[0]["TargetGroupArn"]


def listener_arn(g):
    return aws(g, "elbv2", "describe-listeners", "--load-balancer-arn",
               alb_arn(g))["Listeners"][0]["ListenerArn"]


def api_instance(g, team=1):
    return next(i for i in rest(g, "/instances", team) if i["name"] == "api-1")


def through_alb(g, path, key):
    r = http("GET", f"{g.endpoint.rstrip('/')}{path}?key={key}")
    assert r.status == 200, f"GET {path}?key={key}: {r!r}"
    return r.header("X-Instance-Id")


def test_describe_load_balancers_is_the_games_alb(game):
    g = game
    alb = rest(g, "/resources/web-alb")
    out = aws(g, "elbv2", "describe-load-balancers")["LoadBalancers"]
    assert [lb["LoadBalancerName"] for lb in out] == ["web-alb"]
    lb = out[0]
    digits = alb["id"].split("-", 1)[1]
    assert lb["LoadBalancerArn"] == f"{ARN}loadbalancer/app/web-alb/{digits}"
    assert lb["DNSName"] == alb["status"]["dns_name"]
    assert lb["Type"] == "application" and lb["State"]["Code"] == "active"
    subnet = rest(g, "/resources/public-a")
    assert lb["AvailabilityZones"] == [{"ZoneName": "us-east-1a", "SubnetId": subnet["id"]}]
    assert lb["VpcId"] == rest(g, "/resources/main")["id"]
    # By ARN, the same; paged one at a time; an unknown name is AWS's error.
    again = aws(g, "elbv2", "describe-load-balancers", "--load-balancer-arns",
                lb["LoadBalancerArn"])["LoadBalancers"]
    assert again == out
    code, msg = aws_error(g, "elbv2", "describe-load-balancers", "--names", "nope")
    assert code == "LoadBalancerNotFound" and "nope" in msg
    # Team 2 sees its own alb only, under its own account.
    other = aws(g, "elbv2", "describe-load-balancers", profile="team-2")["LoadBalancers"]
    assert len(other) == 1 and ":000000000002:" in other[0]["LoadBalancerArn"]
    assert other[0]["LoadBalancerArn"] != lb["LoadBalancerArn"]


def test_a_target_group_a_listener_and_a_rule_route_a_path_to_a_registered_instance(game):
    g = game
    api = api_instance(g)
    assert api["status"]["state"] == "running", api
    web = {i["id"] for i in rest(g, "/instances") if i["status"].get("asg") == "web"}
    vpc = rest(g, "/resources/main")["id"]

    # The alb's own group is listed with its targets' port.
    groups = aws(g, "elbv2", "describe-target-groups")["TargetGroups"]
    own = next(t for t in groups if t["TargetGroupName"] == "web-alb")
    assert own["Port"] == 8000 and own["HealthCheckIntervalSeconds"] == 5
    assert own["LoadBalancerArns"] == [alb_arn(g)]

    # CreateTargetGroup: a target_group resource, audited as CreateTargetGroup.
    out = aws(g, "elbv2", "create-target-group", "--name", "api-tg", "--protocol", "HTTP",
              "--port", "8000", "--vpc-id", vpc, "--health-check-interval-seconds", "5",
              "--health-check-timeout-seconds", "2", "--healthy-threshold-count", "2",
              "--health-check-path", "/health")["TargetGroups"]
    tg = rest(g, "/resources/api-tg")
    assert tg["type"] == "target_group"
    assert tg["spec"]["port"] == 8000 and tg["spec"]["health_check"]["interval"] == 5
    arn = out[0]["TargetGroupArn"]
    assert arn == f"{ARN}targetgroup/api-tg/{tg['id'].split('-', 1)[1]}"
    assert out[0]["VpcId"] == vpc and out[0]["LoadBalancerArns"] == []
    ct = aws(g, "cloudtrail", "lookup-events", "--lookup-attributes",
             "AttributeKey=EventName,AttributeValue=CreateTargetGroup")["Events"]
    assert ct and ct[0]["EventSource"] == "elasticloadbalancing.amazonaws.com"
    assert ct[0]["Username"] == "team-1"
    code, _ = aws_error(g, "elbv2", "create-target-group", "--name", "api-tg", "--port", "8000")
    assert code == "DuplicateTargetGroupName"
    code, msg = aws_error(g, "elbv2", "create-target-group", "--name", "tls-tg", "--protocol",
                          "HTTPS", "--port", "8443")
    assert code == "ValidationError" and "HTTP" in msg
    assert "tls-tg" not in [r["name"] for r in rest(g, "/resources")]

    # RegisterTargets: the instance in the group's spec, audited as RegisterTargets.
    code, _ = aws_error(g, "elbv2", "register-targets", "--target-group-arn", arn,
                        "--targets", "Id=i-0badbadbadbad0000")
    assert code == "InvalidTarget"
    assert aws(g, "elbv2", "register-targets", "--target-group-arn", arn, "--targets",
               f"Id={api['id']}") == {}
    assert rest(g, "/resources/api-tg")["spec"]["instances"] == ["api-1"]
    assert events_of(g, "RegisterTargets")[0]["principal"] == "team-1"
    # Registered but no alb sends to the group yet: unused.
    health = aws(g, "elbv2", "describe-target-health", "--target-group-arn",
                 arn)["TargetHealthDescriptions"]
    assert [(h["Target"]["Id"], h["TargetHealth"]["State"]) for h in health] == \
        [(api["id"], "unused")]

    # The listener: one, on the alb's port, forwarding to its own group.
    listeners = aws(g, "elbv2", "describe-listeners", "--load-balancer-arn",
                    alb_arn(g))["Listeners"]
    assert len(listeners) == 1 and listeners[0]["Port"] == 8080
    assert listeners[0]["DefaultActions"][0]["TargetGroupArn"] == own["TargetGroupArn"]
    lis = listeners[0]["ListenerArn"]
    assert lis.startswith(f"{ARN}listener/app/web-alb/")
    out = aws(g, "elbv2", "create-listener", "--load-balancer-arn", alb_arn(g), "--protocol",
              "HTTP", "--port", "8080", "--default-actions",
              f"Type=forward,TargetGroupArn={own['TargetGroupArn']}")["Listeners"]
    assert out == listeners, "the same listener, its default action set again"
    assert rest(g, "/resources/web-alb")["spec"]["default_target_group"] == "default"
    assert events_of(g, "CreateListener")
    code, msg = aws_error(g, "elbv2", "create-listener", "--load-balancer-arn", alb_arn(g),
                          "--protocol", "HTTP", "--port", "9090", "--default-actions",
                          f"Type=forward,TargetGroupArn={arn}")
    assert code == "TooManyListeners" and "8080" in msg
    assert rest(g, "/resources/web-alb")["spec"]["default_target_group"] == "default"

    # CreateRule: /api/* to api-tg, in the alb's rules.
    out = aws(g, "elbv2", "create-rule", "--listener-arn", lis, "--priority", "10",
              "--conditions", "Field=path-pattern,Values=/api/*", "--actions",
              f"Type=forward,TargetGroupArn={arn}")["Rules"]
    assert out[0]["Priority"] == "10" and out[0]["IsDefault"] is False
    assert out[0]["Conditions"][0]["Field"] == "path-pattern"
    assert out[0]["Conditions"][0]["Values"] == ["/api/*"]
    assert out[0]["Actions"][0]["TargetGroupArn"] == arn
    rule_arn = out[0]["RuleArn"]
    assert rule_arn.startswith(f"{ARN}listener-rule/app/web-alb/")
    rules = rest(g, "/resources/web-alb")["spec"]["rules"]
    assert rules == [{"priority": 10, "conditions": {"path": "/api/*"},
                      "action": {"type": "forward", "target_group": "api-tg"}}]
    assert events_of(g, "CreateRule")[0]["principal"] == "team-1"
    code, _ = aws_error(g, "elbv2", "create-rule", "--listener-arn", lis, "--priority", "10",
                        "--conditions", "Field=path-pattern,Values=/x/*", "--actions",
                        f"Type=forward,TargetGroupArn={arn}")
    assert code == "PriorityInUse"
    code, _ = aws_error(g, "elbv2", "create-rule", "--listener-arn", lis, "--priority", "11",
                        "--conditions", "Field=path-pattern,Values=/x/*", "--actions",
                        f"Type=forward,TargetGroupArn={ARN}targetgroup/nope/0")
    assert code == "TargetGroupNotFound"
    assert len(rest(g, "/resources/web-alb")["spec"]["rules"]) == 1
    listed = aws(g, "elbv2", "describe-rules", "--listener-arn", lis)["Rules"]
    assert [r["Priority"] for r in listed] == ["10", "default"]
    assert listed[0]["RuleArn"] == rule_arn and listed[1]["IsDefault"] is True

    # The edge checks the new target: healthy once it passed twice.
    def healthy():
        h = aws(g, "elbv2", "describe-target-health", "--target-group-arn",
                arn)["TargetHealthDescriptions"]
        states = {x["Target"]["Id"]: x["TargetHealth"]["State"] for x in h}
        assert set(states) == {api["id"]}, states
        assert states[api["id"]] in ("initial", "healthy"), h
        return h if states[api["id"]] == "healthy" else None
    h = g.wait_until(healthy, 30, "describe-target-health to say api-1 is healthy")
    assert h[0]["Target"]["Port"] == 8000 and h[0]["HealthCheckPort"] == "8000"
    assert g.wait_until(lambda: (lambda s: s if s.get("healthy") == 1 else None)(
        rest(g, "/resources/api-tg")["status"]), 10, "api-tg's status to count it")
    # The alb's own group: the two instances of web, healthy.
    own_health = aws(g, "elbv2", "describe-target-health", "--target-group-arn",
                     own["TargetGroupArn"])["TargetHealthDescriptions"]
    assert {x["Target"]["Id"] for x in own_health} == web
    assert {x["TargetHealth"]["State"] for x in own_health} == {"healthy"}

    # Real requests through the alb's edge: /api/* lands on api-1, the rest on web's.
    for n in range(4):
        assert through_alb(g, f"/api/items/{n}", f"a{n}") == api["id"]
        assert through_alb(g, "/", f"w{n}") in web

    # CloudWatch has them: RequestCountPerTarget of the new group (its one target took
    # the 4 requests), under the dimension AWS gives it, the ARN's last part.
    dim = "targetgroup/" + arn.split(":targetgroup/")[1]

    def per_target():
        now = datetime.datetime.now(datetime.timezone.utc)
        out = aws(g, "cloudwatch", "get-metric-statistics", "--namespace", "AWS/ApplicationELB",
                  "--metric-name", "RequestCountPerTarget", "--dimensions",
                  f"Name=TargetGroup,Value={dim}", "--statistics", "Sum", "--period", "60",
                  "--start-time", (now - datetime.timedelta(minutes=5)).isoformat(),
                  "--end-time", (now + datetime.timedelta(seconds=1)).isoformat())
        total = sum(p["Sum"] for p in out["Datapoints"])
        return out if total >= 3.999 else None  # float pieces of a spread count
    out = g.wait_until(per_target, 20, "RequestCountPerTarget of api-tg to count the 4")
    assert out["Label"] == "RequestCountPerTarget"
    assert sum(p["Sum"] for p in out["Datapoints"]) == pytest.approx(4), out

    # A group in use cannot be deleted; the rule can, and then the path goes to web.
    code, msg = aws_error(g, "elbv2", "delete-target-group", "--target-group-arn", arn)
    assert code == "ResourceInUse" and "web-alb" in msg
    assert rest(g, "/resources/api-tg")["type"] == "target_group"
    code, _ = aws_error(g, "elbv2", "delete-rule", "--rule-arn", listed[1]["RuleArn"])
    assert code == "OperationNotPermitted"
    assert aws(g, "elbv2", "delete-rule", "--rule-arn", rule_arn) == {}
    assert rest(g, "/resources/web-alb")["spec"]["rules"] == []
    assert events_of(g, "DeleteRule")
    g.wait_until(lambda: through_alb(g, "/api/items/9", "z9") in web, 10,
                 "/api/* to go to web's instances once the rule is gone")
    code, _ = aws_error(g, "elbv2", "delete-rule", "--rule-arn", rule_arn)
    assert code == "RuleNotFound"


def test_target_group_attributes_deregistration_and_delete(game):
    g = game
    out = aws(g, "elbv2", "create-target-group", "--name", "spare-tg", "--port", "8000")
    arn = out["TargetGroups"][0]["TargetGroupArn"]
    attrs = aws(g, "elbv2", "modify-target-group-attributes", "--target-group-arn", arn,
                "--attributes", "Key=deregistration_delay.timeout_seconds,Value=30",
                "Key=stickiness.enabled,Value=true",
                "Key=stickiness.lb_cookie.duration_seconds,Value=600")["Attributes"]
    got = {a["Key"]: a["Value"] for a in attrs}
    assert got["deregistration_delay.timeout_seconds"] == "30"
    assert got["stickiness.enabled"] == "true" and got["stickiness.type"] == "lb_cookie"
    spec = rest(g, "/resources/spare-tg")["spec"]
    assert spec["deregistration_delay"] == 30
    assert spec["stickiness"]["type"] == "lb_cookie" and spec["stickiness"]["duration"] == 600
    assert events_of(g, "ModifyTargetGroupAttributes")
    described = aws(g, "elbv2", "describe-target-group-attributes", "--target-group-arn",
                    arn)["Attributes"]
    assert {a["Key"]: a["Value"] for a in described} == got
    code, msg = aws_error(g, "elbv2", "modify-target-group-attributes", "--target-group-arn",
                          arn, "--attributes", "Key=proxy_protocol_v2.enabled,Value=true")
    assert code == "ValidationError" and "proxy_protocol_v2.enabled" in msg
    code, _ = aws_error(g, "elbv2", "modify-target-group-attributes", "--target-group-arn", arn,
                        "--attributes", "Key=deregistration_delay.timeout_seconds,Value=9999")
    assert code == "ValidationError"
    assert rest(g, "/resources/spare-tg")["spec"]["deregistration_delay"] == 30

    # Register, then deregister; a target not in the group is InvalidTarget.
    api = api_instance(g)
    aws(g, "elbv2", "register-targets", "--target-group-arn", arn, "--targets",
        f"Id={api['id']}")
    assert rest(g, "/resources/spare-tg")["spec"]["instances"] == ["api-1"]
    assert aws(g, "elbv2", "deregister-targets", "--target-group-arn", arn, "--targets",
               f"Id={api['id']}") == {}
    assert rest(g, "/resources/spare-tg")["spec"]["instances"] == []
    code, _ = aws_error(g, "elbv2", "deregister-targets", "--target-group-arn", arn,
                        "--targets", f"Id={api['id']}")
    assert code == "InvalidTarget"

    tags = aws(g, "elbv2", "describe-tags", "--resource-arns", arn, alb_arn(g))
    assert [t["ResourceArn"] for t in tags["TagDescriptions"]] == [arn, alb_arn(g)]

    # Paging: one group a page (the API's own PageSize), NextMarker until the last.
    names, marker = [], None
    while True:
        extra = ["--marker", marker] if marker else []
        page = aws(g, "elbv2", "describe-target-groups", "--page-size", "1", *extra)
        assert len(page["TargetGroups"]) == 1, page
        names += [t["TargetGroupName"] for t in page["TargetGroups"]]
        marker = page.get("NextMarker")
        if not marker:
            break
    assert sorted(names) == sorted(t["TargetGroupName"] for t in aws(
        g, "elbv2", "describe-target-groups")["TargetGroups"])
    assert len(names) >= 2

    assert aws(g, "elbv2", "delete-target-group", "--target-group-arn", arn) == {}
    assert "spare-tg" not in [r["name"] for r in rest(g, "/resources")]
    code, _ = aws_error(g, "elbv2", "describe-target-groups", "--target-group-arns", arn)
    assert code == "TargetGroupNotFound"


# ---- CloudFront ----


def cdn_get(g, path="/", key="k1"):
    cdn = rest(g, "/resources/web-cdn")["status"]
    r = http("GET", f"http://{cdn['ip']}:{cdn['port']}{path}?key={key}")
    assert r.status == 200, r
    return r


def test_distributions_are_the_games_cdns(game):
    g = game
    cdn = rest(g, "/resources/web-cdn")
    out = aws(g, "cloudfront", "list-distributions", "--no-paginate")["DistributionList"]
    assert out["Quantity"] == 1 and out["IsTruncated"] is False and out["MaxItems"] == 100
    paged = aws(g, "cloudfront", "list-distributions")["DistributionList"]["Items"]
    assert [(i["Id"], i["DomainName"]) for i in paged] == \
        [(i["Id"], i["DomainName"]) for i in out["Items"]], "the CLI's paginated form"
    d = out["Items"][0]
    assert re.fullmatch(r"E[A-Z0-9]{13}", d["Id"]), d["Id"]
    assert d["ARN"] == f"arn:aws:cloudfront::000000000001:distribution/{d['Id']}"
    assert d["DomainName"] == cdn["status"]["dns_name"] and d["Status"] == "Deployed"
    assert d["Origins"]["Items"][0]["Id"] == "web-alb"
    assert d["DefaultCacheBehavior"]["TargetOriginId"] == "web-alb"
    got = aws(g, "cloudfront", "get-distribution", "--id", d["Id"])
    assert got["Distribution"]["Id"] == d["Id"] and got["ETag"]
    assert got["Distribution"]["DistributionConfig"]["DefaultCacheBehavior"][
        "DefaultTTL"] == cdn["spec"]["default_ttl"]
    conf = aws(g, "cloudfront", "get-distribution-config", "--id", d["Id"])
    assert conf["DistributionConfig"] == got["Distribution"]["DistributionConfig"]
    assert conf["ETag"] == got["ETag"]
    code, _ = aws_error(g, "cloudfront", "get-distribution", "--id", "E0000000000000")
    assert code == "NoSuchDistribution"
    other = aws(g, "cloudfront", "list-distributions", profile="team-2")["DistributionList"]
    assert len(other["Items"]) == 1 and other["Items"][0]["Id"] != d["Id"]


def dist_id(g):
    return aws(g, "cloudfront", "list-distributions")["DistributionList"]["Items"][0]["Id"]


def test_an_invalidation_removes_a_cached_object(game, tmp_path):
    g = game
    did = dist_id(g)
    cdn_get(g, "/", "k1")
    assert cdn_get(g, "/", "k1").header("X-Cache").startswith("Hit"), "cached"

    out = aws(g, "cloudfront", "create-invalidation", "--distribution-id", did, "--paths", "/")
    inv = out["Invalidation"]
    assert re.fullmatch(r"I[A-Z0-9]{13}", inv["Id"]), inv
    assert inv["InvalidationBatch"]["Paths"] == {"Quantity": 1, "Items": ["/"]}
    assert inv["Status"] in ("InProgress", "Completed")
    assert out["Location"].endswith(f"/distribution/{did}/invalidation/{inv['Id']}")
    # The edge confirms it: Completed, in the CLI and in the cdn's status.
    g.wait_until(lambda: aws(g, "cloudfront", "get-invalidation", "--distribution-id", did,
                             "--id", inv["Id"])["Invalidation"]["Status"] == "Completed",
                 20, "the invalidation to complete")
    recs = rest(g, "/cdns/web-cdn/invalidations")
    assert recs[0]["id"] == inv["Id"] and recs[0]["status"] == "Completed"
    assert recs[0]["paths"] == ["/"] and recs[0]["objects"] >= 1
    ev = events_of(g, "CreateInvalidation")
    assert ev[0]["principal"] == "team-1" and ev[0]["errorCode"] is None
    ct = aws(g, "cloudtrail", "lookup-events", "--lookup-attributes",
             "AttributeKey=EventName,AttributeValue=CreateInvalidation")["Events"]
    assert ct and ct[0]["EventSource"] == "cloudfront.amazonaws.com"
    # The object is fetched again from the origin, then cached again.
    assert cdn_get(g, "/", "k1").header("X-Cache").startswith("Miss")
    assert cdn_get(g, "/", "k1").header("X-Cache").startswith("Hit")

    # The same CallerReference with the same paths: the same invalidation.
    batch = tmp_path / "batch.json"
    batch.write_text(json.dumps({"Paths": {"Quantity": 2, "Items": ["/a", "/img/*"]},
                                 "CallerReference": "deploy-42"}))
    first = aws(g, "cloudfront", "create-invalidation", "--distribution-id", did,
                "--invalidation-batch", f"file://{batch}")["Invalidation"]
    again = aws(g, "cloudfront", "create-invalidation", "--distribution-id", did,
                "--invalidation-batch", f"file://{batch}")["Invalidation"]
    assert again["Id"] == first["Id"]
    n = len(rest(g, "/cdns/web-cdn/invalidations"))
    batch.write_text(json.dumps({"Paths": {"Quantity": 1, "Items": ["/b"]},
                                 "CallerReference": "deploy-42"}))
    code, _ = aws_error(g, "cloudfront", "create-invalidation", "--distribution-id", did,
                        "--invalidation-batch", f"file://{batch}")
    assert code == "InvalidationBatchAlreadyExists"
    code, _ = aws_error(g, "cloudfront", "create-invalidation", "--distribution-id", did,
                        "--paths", "no-slash")
    assert code == "InvalidArgument"
    assert len(rest(g, "/cdns/web-cdn/invalidations")) == n, "refusals change nothing"

    # ctl invalidate: the same operation, listed by the CLI.
    r = g.ctl("invalidate", "web-cdn", "/x", "/y/*", token=token(g))
    assert "/y/*" in r.stdout
    recs = rest(g, "/cdns/web-cdn/invalidations")
    assert len(recs) == n + 1 and recs[0]["paths"] == ["/x", "/y/*"]
    listed = aws(g, "cloudfront", "list-invalidations", "--distribution-id",
                 did)["InvalidationList"]
    assert [i["Id"] for i in listed["Items"]] == [r["id"] for r in recs]
    page = aws(g, "cloudfront", "list-invalidations", "--distribution-id", did, "--max-items",
               "1")
    assert len(page["InvalidationList"]["Items"]) == 1 and page.get("NextToken")
    code, _ = aws_error(g, "cloudfront", "get-invalidation", "--distribution-id", did, "--id",
                        "I0000000000000")
    assert code == "NoSuchInvalidation"


# ---- keys ----


def test_another_teams_key_or_a_bad_one_reaches_nothing(game, tmp_path):
    g = game
    arn = tg_arn(g, "api-tg")
    did = dist_id(g)
    before_spec = rest(g, "/resources/api-tg")["spec"]
    before_invs = rest(g, "/cdns/web-cdn/invalidations")
    before_audit = len(audit(g))
    api2 = api_instance(g, team=2)

    code, _ = aws_error(g, "elbv2", "describe-target-groups", "--target-group-arns", arn,
                        profile="team-2")
    assert code == "TargetGroupNotFound"
    code, _ = aws_error(g, "elbv2", "register-targets", "--target-group-arn", arn, "--targets",
                        f"Id={api2['id']}", profile="team-2")
    assert code == "TargetGroupNotFound"
    code, _ = aws_error(g, "elbv2", "describe-listeners", "--load-balancer-arn", alb_arn(g),
                        profile="team-2")
    assert code == "LoadBalancerNotFound"
    code, _ = aws_error(g, "cloudfront", "create-invalidation", "--distribution-id", did,
                        "--paths", "/", profile="team-2")
    assert code == "NoSuchDistribution"

    c = configparser.ConfigParser()
    c.read(g.out / "aws" / "credentials")
    bad = configparser.ConfigParser()
    bad["team-1"] = {"aws_access_key_id": c["team-1"]["aws_access_key_id"],
                     "aws_secret_access_key": "x" * 40}
    bad["stranger"] = {"aws_access_key_id": "AKIAAAAAAAAAAAAAAAAA",
                       "aws_secret_access_key": c["team-1"]["aws_secret_access_key"]}
    with open(tmp_path / "bad", "w") as f:
        bad.write(f)
    code, _ = aws_error(g, "elbv2", "deregister-targets", "--target-group-arn", arn,
                        "--targets", f"Id={api_instance(g)['id']}", credentials=tmp_path / "bad")
    assert code == "SignatureDoesNotMatch"
    code, _ = aws_error(g, "elbv2", "describe-load-balancers", profile="stranger",
                        credentials=tmp_path / "bad")
    assert code == "InvalidClientTokenId"
    code, _ = aws_error(g, "cloudfront", "create-invalidation", "--distribution-id", did,
                        "--paths", "/", credentials=tmp_path / "bad")
    assert code == "SignatureDoesNotMatch"
    code, _ = aws_error(g, "cloudfront", "list-distributions", profile="stranger",
                        credentials=tmp_path / "bad")
    assert code == "InvalidClientTokenId"

    assert rest(g, "/resources/api-tg")["spec"] == before_spec
    assert rest(g, "/cdns/web-cdn/invalidations") == before_invs
    assert len(audit(g)) == before_audit, "nothing was done to team 1"
    assert rest(g, "/cdns/web-cdn/invalidations", team=2) == []


# ---- malformed requests, signed here (the CLI only sends well-formed ones) ----


def sigv4(g, method, path, service, body=b"", query="", team_profile="team-1"):
    """(status, body) of a SigV4-signed request of our own to the game's /aws."""
    import datetime
    import hashlib
    import hmac
    import urllib.parse
    import urllib.request
    c = configparser.ConfigParser()
    c.read(g.out / "aws" / "credentials")
    key_id = c[team_profile]["aws_access_key_id"]
    secret = c[team_profile]["aws_secret_access_key"]
    u = urllib.parse.urlsplit(g.api)
    amz = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    h = {"host": u.netloc, "x-amz-date": amz}
    if service != "cloudfront":
        h["content-type"] = "application/x-www-form-urlencoded; charset=utf-8"
    names = sorted(h)
    cq = "&".join(sorted(query.split("&"))) if query else ""
    creq = "\n".join([method, path, cq, "".join(f"{n}:{h[n]}\n" for n in names),
                      ";".join(names), hashlib.sha256(body).hexdigest()])
    scope = f"{amz[:8]}/us-east-1/{service}/aws4_request"
    sts = "\n".join(["AWS4-HMAC-SHA256", amz, scope, hashlib.sha256(creq.encode()).hexdigest()])
    k = ("AWS4" + secret).encode()
    for part in (amz[:8], "us-east-1", service, "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    h["authorization"] = (f"AWS4-HMAC-SHA256 Credential={key_id}/{scope}, "
                          f"SignedHeaders={';'.join(names)}, Signature={sig}")
    url = g.api + path + ("?" + query if query else "")
    req = urllib.request.Request(url, data=body if body or method == "POST" else None,
                                 method=method, headers={k: v for k, v in h.items() if k != "host"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def code_of(text):
    m = re.search(r"<Code>([^<]+)</Code>", text)
    return m.group(1) if m else None


def test_malformed_requests_get_aws_errors_and_change_nothing(game):
    g = game
    did = dist_id(g)
    base = f"/aws/2020-05-31/distribution/{did}"
    before = len(rest(g, "/cdns/web-cdn/invalidations"))
    batch = ("<InvalidationBatch xmlns=\"http://cloudfront.amazonaws.com/doc/2020-05-31/\">"
             "<Paths><Quantity>{q}</Quantity><Items>{items}</Items></Paths>"
             "<CallerReference>{ref}</CallerReference></InvalidationBatch>")
    cases = [
        ("GET", base + "/nope", b"", 404, "InvalidAction"),
        ("DELETE", base, b"", 405, "InvalidAction"),
        ("POST", base + "/invalidation", b"", 400, "MissingBody"),
        ("POST", base + "/invalidation", b"<Other/>", 400, "MalformedInput"),
        ("POST", base + "/invalidation",
         batch.format(q=2, items="<Path>/a</Path>", ref="r1").encode(), 400,
         "InconsistentQuantities"),
        ("POST", base + "/invalidation",
         batch.format(q=1, items="<Path>&bogus;</Path>", ref="r2").encode(), 400,
         "MalformedInput"),
        ("POST", base + "/invalidation",
         batch.format(q=1, items="<Path>/a&#99999999999999;</Path>", ref="r3").encode(), 400,
         "MalformedInput"),
        ("POST", base + "/invalidation", b"<InvalidationBatch><Paths><Path>/a", 400,
         "MalformedInput"),
        ("POST", base + "/invalidation", batch.format(q=1, items="<Path>/a</Path>",
                                                      ref="").encode(), 400, "InvalidArgument"),
        ("POST", "/aws/2020-05-31/distribution/E0000000000000/invalidation",
         batch.format(q=1, items="<Path>/a</Path>", ref="r4").encode(), 404,
         "NoSuchDistribution"),
    ]
    for method, path, body, status, code in cases:
        st, text = sigv4(g, method, path, "cloudfront", body)
        assert (st, code_of(text)) == (status, code), (method, path, body, text)
        assert "<ErrorResponse" in text and "<RequestId>" in text, text
    assert len(rest(g, "/cdns/web-cdn/invalidations")) == before, "refusals change nothing"
    # Entities are decoded: /a&b is the path.
    st, text = sigv4(g, "POST", base + "/invalidation", "cloudfront",
                     batch.format(q=1, items="<Path>/a&amp;b&#33;</Path>", ref="r5").encode())
    assert st == 201 and "<Path>/a&amp;b!</Path>" in text, text
    assert rest(g, "/cdns/web-cdn/invalidations")[0]["paths"] == ["/a&b!"]

    # The query protocol's refusals of ELBv2.
    rules = rest(g, "/resources/web-alb")["spec"]["rules"]
    for form, code in [
        ("Action=CreateRule&Version=2015-12-01&ListenerArn=x&Priority=abc", "ListenerNotFound"),
        ("Action=DescribeTargetHealth&Version=2015-12-01", "ValidationError"),
        ("Action=DescribeLoadBalancers&Version=2015-12-01&Foo=1", "UnknownParameter"),
        ("Action=DeleteListener&Version=2015-12-01", "InvalidAction"),
        ("Action=DescribeListeners&Version=2015-12-01", "ValidationError"),
        ("Action=DescribeLoadBalancers&Version=2015-12-01&Marker=zz", "ValidationError"),
        ("Action=DescribeRules&Version=2015-12-01&RuleArns.member.1=arn%3Ax", "RuleNotFound"),
        ("Action=CreateTargetGroup&Version=2015-12-01&Name=Bad_Name", "ValidationError"),
    ]:
        st, text = sigv4(g, "POST", "/aws/", "elasticloadbalancing", form.encode())
        assert st == 400 and code_of(text) == code, (form, text)
    assert rest(g, "/resources/web-alb")["spec"]["rules"] == rules
    assert g.running(), "the game is alive"
    assert aws(g, "elbv2", "describe-load-balancers")["LoadBalancers"], "and answers"
