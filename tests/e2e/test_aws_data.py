"""RDS, ElastiCache and CloudWatch's alarms and GetMetricData through the real aws CLI
(Debian's awscli 2.9, /usr/bin/aws) against a running game
(tests/e2e/scenarios/aws_data.yaml, one team on --net 239: 127.239.0.0/16). Its dbs are
real postgres processes and its cache cluster real redis-servers: every answer of the
CLI is compared with the game's REST API, every write is awaited in the game's state
(a failover's new primary, a standby, a replica, a new redis-server) and found in the
audit trail, and bad input and a wrong key are refused with AWS's codes and change
nothing."""

import configparser
import os
import subprocess

import pytest

from conftest import dig, dig_answers, scenario_path, shared_game
from test_aws_cli import AWS, aws, aws_error, keys

SCENARIO = scenario_path("aws_data.yaml")
NET = 239
DNS = f"127.{NET}.255.53"


@pytest.fixture(scope="module")
def game(tmp_path_factory):
    if not os.access(AWS, os.X_OK):
        pytest.fail(f"{AWS} is missing: scripts/install-deps.sh installs Debian's awscli")
    yield from shared_game(tmp_path_factory, SCENARIO, "aws-data", port=18239, speed=30,
                           net=NET, customers=False, postgres=True)


# ---------------------------------------------------------------------------- helpers


def res(g, name):
    return g.get(f"/resources/{name}")


def state_is(g, name, want="available", timeout=60):
    return g.wait_until(lambda: (lambda r: r if r["status"].get("state") == want else None)(
        res(g, name)), timeout, f"{name} {want}")


def node(r, role):
    return next(n for n in r["status"]["nodes"] if n["role"] == role)


def az(zone):
    return f"us-east-1{zone}"


def audit(g):
    return g.get("/audit?limit=0")


def about(rec, type_):
    """Whether an audit record is about a resource of type_."""
    return (rec["requestParameters"] or {}).get("type") == type_ or any(
        r.get("type") == type_ for r in rec.get("resources") or [])


def db_of_cli(g, name):
    out = aws(g, "rds", "describe-db-instances", "--db-instance-identifier", name)
    assert [d["DBInstanceIdentifier"] for d in out["DBInstances"]] == [name], out
    return out["DBInstances"][0]


def group_of_cli(g, name):
    out = aws(g, "elasticache", "describe-replication-groups", "--replication-group-id", name)
    assert [r["ReplicationGroupId"] for r in out["ReplicationGroups"]] == [name], out
    return out["ReplicationGroups"][0]


def names_of(g, type_):
    return sorted(r["name"] for r in g.get("/resources") if r["type"] == type_)


# ---------------------------------------------------------------------------- RDS


def test_describe_db_instances_shows_the_real_endpoint(game):
    d = state_is(game, "orders")
    cli = db_of_cli(game, "orders")
    st, spec = d["status"], d["spec"]
    p, sb = node(d, "primary"), node(d, "standby")
    assert cli["Endpoint"]["Address"] == st["address"] == "orders.db.team1.gameday.test"
    assert cli["Endpoint"]["Port"] == spec["port"] == 5432
    assert cli["DBInstanceStatus"] == st["state"]
    assert cli["Engine"] == "postgres" and cli["DBInstanceClass"] == spec["instance_class"]
    assert cli["MultiAZ"] is True and cli["AllocatedStorage"] == spec["storage_gb"]
    assert cli["AvailabilityZone"] == az(p["az"]) and cli["SecondaryAvailabilityZone"] == az(
        sb["az"]) and p["az"] != sb["az"]
    subnets = {s["id"]: s["name"] for s in game.get("/resources") if s["type"] == "subnet"}
    assert [subnets[s["SubnetIdentifier"]] for s in cli["DBSubnetGroup"]["Subnets"]] == \
        spec["subnets"]
    # the name resolves (the game's DNS) to the primary, where a real postgres answers
    port = 53 if os.geteuid() == 0 else 5353
    ans = dig_answers(dig(DNS, port, cli["Endpoint"]["Address"], "A"))
    assert [a[3] for a in ans] == [p["ip"]], ans
    r = subprocess.run(["pg_isready", "-h", p["ip"], "-p", str(cli["Endpoint"]["Port"]), "-t",
                        "5"], capture_output=True, text=True, timeout=20)
    assert r.returncode == 0 and "accepting connections" in r.stdout, r.stdout + r.stderr
    # every db of the team, and the subnet groups they were made in
    every = aws(game, "rds", "describe-db-instances")["DBInstances"]
    assert sorted(x["DBInstanceIdentifier"] for x in every) == names_of(game, "db")
    groups = aws(game, "rds", "describe-db-subnet-groups")["DBSubnetGroups"]
    assert [x["DBSubnetGroupName"] for x in groups][0] == "default"
    assert {x["DBSubnetGroupName"] for x in groups[1:]} == set(names_of(game, "db"))


def test_reboot_with_force_failover_moves_the_primary(game):
    before = state_is(game, "orders")
    old, standby = node(before, "primary"), node(before, "standby")
    out = aws(game, "rds", "reboot-db-instance", "--db-instance-identifier", "orders",
              "--force-failover")
    assert out["DBInstance"]["DBInstanceIdentifier"] == "orders"
    after = game.wait_until(lambda: (lambda r: r if r["status"].get("state") == "available" and
                                     r["status"].get("last_failover", {}).get("from") ==
                                     old["id"] else None)(res(game, "orders")), 60,
                            "the failover of orders")
    assert after["status"]["last_failover"]["to"] == standby["id"]
    assert node(after, "primary")["id"] == standby["id"], after["status"]["nodes"]
    assert any(a["eventName"] == "FailoverDBCluster" and a["principal"] == "team-1" and
               not a["errorCode"] for a in audit(game))
    cli = db_of_cli(game, "orders")
    assert cli["AvailabilityZone"] == az(node(after, "primary")["az"]) == az(standby["az"])
    # a plain reboot restarts the primary where it is
    out = aws(game, "rds", "reboot-db-instance", "--db-instance-identifier", "orders")
    assert out["DBInstance"]["DBInstanceStatus"] in ("rebooting", "available")
    assert any(a["eventName"] == "RebootDBInstance" and a["principal"] == "team-1"
               for a in audit(game))
    state_is(game, "orders")


def test_modify_db_instance_multi_az_adds_a_standby_and_a_read_replica(game):
    state_is(game, "reports")
    assert db_of_cli(game, "reports")["MultiAZ"] is False
    out = aws(game, "rds", "modify-db-instance", "--db-instance-identifier", "reports",
              "--multi-az", "--apply-immediately")
    assert out["DBInstance"]["MultiAZ"] is True
    assert res(game, "reports")["spec"]["multi_az"] is True
    d = game.wait_until(lambda: (lambda r: r if r["status"].get("state") == "available" and any(
        n["role"] == "standby" and n["state"] == "available" for n in r["status"]["nodes"])
        else None)(res(game, "reports")), 90, "a standby of reports")
    cli = db_of_cli(game, "reports")
    assert cli["SecondaryAvailabilityZone"] == az(node(d, "standby")["az"])
    # a read replica is a node of the db: read_replicas + 1
    out = aws(game, "rds", "create-db-instance-read-replica", "--db-instance-identifier",
              "reports-ro", "--source-db-instance-identifier", "reports")
    assert out["DBInstance"]["ReadReplicaSourceDBInstanceIdentifier"] == "reports"
    assert res(game, "reports")["spec"]["read_replicas"] == 1
    d = game.wait_until(lambda: (lambda r: r if any(
        n["role"] == "replica" and n["state"] == "available" for n in r["status"]["nodes"])
        else None)(res(game, "reports")), 90, "a replica of reports")
    replicas = [n["id"] for n in d["status"]["nodes"] if n["role"] == "replica"]
    assert db_of_cli(game, "reports")["ReadReplicaDBInstanceIdentifiers"] == replicas
    assert [a["eventName"] for a in audit(game) if a["principal"] == "team-1" and
            about(a, "db") and not a["errorCode"]
            ][-2:] == ["UpdateResource", "UpdateResource"]


def test_create_and_delete_db_instance(game):
    out = aws(game, "rds", "create-db-instance", "--db-instance-identifier", "scratch",
              "--db-instance-class", "db.t3.small", "--engine", "postgres",
              "--allocated-storage", "30", "--db-subnet-group-name", "orders")
    assert out["DBInstance"]["DBInstanceIdentifier"] == "scratch"
    r = res(game, "scratch")
    assert r["type"] == "db" and r["spec"]["instance_class"] == "db.t3.small"
    assert r["spec"]["storage_gb"] == 30 and r["spec"]["subnets"] == ["data-a", "data-b"]
    # not multi-AZ: no standby to fail over to
    code, msg = aws_error(game, "rds", "reboot-db-instance", "--db-instance-identifier",
                          "scratch", "--force-failover")
    assert code in ("InvalidParameterCombination", "InvalidDBInstanceState"), msg
    code, msg = aws_error(game, "rds", "delete-db-instance", "--db-instance-identifier", "scratch")
    assert code == "InvalidParameterCombination" and "SkipFinalSnapshot" in msg
    assert "scratch" in names_of(game, "db")
    out = aws(game, "rds", "delete-db-instance", "--db-instance-identifier", "scratch",
              "--skip-final-snapshot")
    assert out["DBInstance"]["DBInstanceStatus"] == "deleting"
    assert "scratch" not in names_of(game, "db")
    recs = [a for a in audit(game) if a["principal"] == "team-1" and
            about(a, "db")]
    assert any(a["eventName"] == "CreateResource" for a in recs)


def test_rds_errors_change_nothing(game):
    before, n_audit = names_of(game, "db"), len(audit(game))
    assert aws_error(game, "rds", "describe-db-instances", "--db-instance-identifier",
                     "nosuch")[0] == "DBInstanceNotFound"
    code, msg = aws_error(game, "rds", "create-db-instance", "--db-instance-identifier", "x1",
                          "--db-instance-class", "db.t3.micro", "--engine", "mysql")
    assert code == "InvalidParameterValue" and "postgres" in msg
    assert aws_error(game, "rds", "create-db-instance", "--db-instance-identifier", "orders",
                     "--db-instance-class", "db.t3.micro",
                     "--engine", "postgres")[0] == "DBInstanceAlreadyExists"
    assert aws_error(game, "rds", "create-db-instance", "--db-instance-identifier", "x2",
                     "--db-instance-class", "db.t3.micro", "--engine", "postgres",
                     "--db-subnet-group-name", "nosuch")[0] == "DBSubnetGroupNotFoundFault"
    assert aws_error(game, "rds", "modify-db-instance", "--db-instance-identifier", "orders",
                     "--db-instance-class", "db.x9.huge")[0] == "InvalidParameterValue"
    assert names_of(game, "db") == before
    assert res(game, "orders")["spec"]["instance_class"] == "db.t3.micro"
    # what the operations refused is audited as the REST API's refusals are; the reads
    # and the CLI-side refusals are not
    recs = [a for a in audit(game)[n_audit:] if a["principal"] == "team-1"]
    assert recs and all(a["errorCode"] for a in recs), recs
    assert aws_error(game, "rds", "reboot-db-instance", "--db-instance-identifier",
                     "nosuch")[0] == "DBInstanceNotFound"


# ---------------------------------------------------------------------------- ElastiCache


def test_describe_replication_groups_and_cache_clusters(game):
    c = state_is(game, "sessions")
    st = c["status"]
    cli = group_of_cli(game, "sessions")
    assert cli["Status"] == st["state"] and cli["MultiAZ"] == "enabled"
    assert cli["AutomaticFailover"] == "enabled"
    ng = cli["NodeGroups"][0]
    assert f"{ng['PrimaryEndpoint']['Address']}:{ng['PrimaryEndpoint']['Port']}" == \
        st["primary_endpoint"]
    assert f"{ng['ReaderEndpoint']['Address']}:{ng['ReaderEndpoint']['Port']}" == \
        st["reader_endpoint"]
    assert [(m["CacheClusterId"], m["CurrentRole"], m["PreferredAvailabilityZone"],
             m["ReadEndpoint"]["Address"]) for m in ng["NodeGroupMembers"]] == \
        [(n["id"], n["role"], az(n["az"]), n["ip"]) for n in st["nodes"]]
    assert cli["MemberClusters"] == [n["id"] for n in st["nodes"]]
    ccs = aws(game, "elasticache", "describe-cache-clusters", "--show-cache-node-info")
    assert [(x["CacheClusterId"], x["ReplicationGroupId"], x["CacheNodes"][0]["Endpoint"]
             ["Address"]) for x in ccs["CacheClusters"]] == \
        [(n["id"], "sessions", n["ip"]) for n in st["nodes"]]


def test_test_failover_promotes_the_replica(game):
    c = state_is(game, "sessions")
    prim, rep = node(c, "primary"), node(c, "replica")
    out = aws(game, "elasticache", "test-failover", "--replication-group-id", "sessions",
              "--node-group-id", "0001")
    assert out["ReplicationGroup"]["ReplicationGroupId"] == "sessions"
    st = game.wait_until(lambda: (lambda s: s if s.get("last_failover", {}).get("from") ==
                                  prim["id"] and s.get("state") == "available" else None)(
        res(game, "sessions")["status"]), 30, "the test failover")
    assert st["last_failover"]["to"] == rep["id"]
    roles = {m["CacheClusterId"]: m["CurrentRole"]
             for m in group_of_cli(game, "sessions")["NodeGroups"][0]["NodeGroupMembers"]}
    assert roles[rep["id"]] == "primary", roles
    assert any(a["eventName"] == "TestFailover" and a["principal"] == "team-1" and
               not a["errorCode"] for a in audit(game))


def test_increase_and_decrease_replica_count(game):
    state_is(game, "sessions")
    out = aws(game, "elasticache", "increase-replica-count", "--replication-group-id",
              "sessions", "--new-replica-count", "2", "--apply-immediately")
    assert out["ReplicationGroup"]["ReplicationGroupId"] == "sessions"
    assert res(game, "sessions")["spec"]["replicas"] == 2
    c = game.wait_until(lambda: (lambda r: r if len(r["status"]["nodes"]) == 3 and all(
        n["state"] == "available" for n in r["status"]["nodes"]) else None)(
        res(game, "sessions")), 30, "a third node")
    new = c["status"]["nodes"][-1]
    cmd = open(f"/proc/{new['pid']}/cmdline", "rb").read().replace(b"\0", b" ").decode()
    assert "redis-server" in cmd and new["ip"] in cmd, cmd
    assert len(group_of_cli(game, "sessions")["MemberClusters"]) == 3
    code, _ = aws_error(game, "elasticache", "increase-replica-count", "--replication-group-id",
                        "sessions", "--new-replica-count", "9", "--apply-immediately")
    assert code == "InvalidParameterValue"
    aws(game, "elasticache", "decrease-replica-count", "--replication-group-id", "sessions",
        "--new-replica-count", "1", "--apply-immediately")
    game.wait_until(lambda: len(res(game, "sessions")["status"]["nodes"]) == 2, 30,
                    "back to two nodes")
    assert res(game, "sessions")["spec"]["replicas"] == 1


def test_create_modify_and_delete_replication_group(game):
    out = aws(game, "elasticache", "create-replication-group", "--replication-group-id",
              "carts", "--replication-group-description", "carts", "--engine", "redis",
              "--cache-node-type", "cache.t3.small", "--num-cache-clusters", "1",
              "--cache-subnet-group-name", "sessions")
    assert out["ReplicationGroup"]["ReplicationGroupId"] == "carts"
    r = res(game, "carts")
    assert r["spec"]["replicas"] == 0 and r["spec"]["node_type"] == "cache.t3.small"
    state_is(game, "carts", timeout=30)
    # Multi-AZ needs a replica: refused, nothing changed
    code, _ = aws_error(game, "elasticache", "modify-replication-group",
                        "--replication-group-id", "carts", "--multi-az-enabled",
                        "--apply-immediately")
    assert code == "InvalidParameterCombination"
    assert res(game, "carts")["spec"].get("multi_az") is False
    aws(game, "elasticache", "increase-replica-count", "--replication-group-id", "carts",
        "--new-replica-count", "1", "--apply-immediately")
    out = aws(game, "elasticache", "modify-replication-group", "--replication-group-id",
              "carts", "--automatic-failover-enabled", "--apply-immediately")
    assert out["ReplicationGroup"]["AutomaticFailover"] == "enabled"
    assert res(game, "carts")["spec"]["automatic_failover"] is True
    out = aws(game, "elasticache", "delete-replication-group", "--replication-group-id", "carts")
    assert out["ReplicationGroup"]["Status"] == "deleting"
    assert "carts" not in names_of(game, "cache_cluster")


def test_elasticache_errors_change_nothing(game):
    before = res(game, "sessions")["spec"]
    assert aws_error(game, "elasticache", "describe-replication-groups",
                     "--replication-group-id", "nosuch")[0] == "ReplicationGroupNotFoundFault"
    assert aws_error(game, "elasticache", "test-failover", "--replication-group-id", "nosuch",
                     "--node-group-id", "0001")[0] == "ReplicationGroupNotFoundFault"
    assert aws_error(game, "elasticache", "create-replication-group", "--replication-group-id",
                     "sessions", "--replication-group-description",
                     "x")[0] == "ReplicationGroupAlreadyExists"
    assert aws_error(game, "elasticache", "describe-cache-clusters", "--cache-cluster-id",
                     "nosuch-001")[0] == "CacheClusterNotFound"
    assert res(game, "sessions")["spec"] == before
    assert names_of(game, "cache_cluster") == ["sessions"]


# ---------------------------------------------------------------------------- CloudWatch


def window(minutes=3):
    import datetime
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    return (now - datetime.timedelta(minutes=minutes)).strftime(fmt), now.strftime(fmt)


def test_get_metric_data_for_rds_and_elasticache(game):
    q = ('[{"Id":"conns","MetricStat":{"Metric":{"Namespace":"AWS/RDS","MetricName":'
         '"DatabaseConnections","Dimensions":[{"Name":"DBInstanceIdentifier","Value":"orders"}]},'
         '"Period":60,"Stat":"Maximum"}},'
         '{"Id":"hits","MetricStat":{"Metric":{"Namespace":"AWS/ElastiCache","MetricName":'
         '"CurrConnections","Dimensions":[{"Name":"ReplicationGroupId","Value":"sessions"}]},'
         '"Period":60,"Stat":"Average"}}]')
    def both_have_points():
        t0, t1 = window()
        out = aws(game, "cloudwatch", "get-metric-data", "--metric-data-queries", q,
                  "--start-time", t0, "--end-time", t1, "--scan-by", "TimestampAscending")
        r = {x["Id"]: x for x in out["MetricDataResults"]}
        return (t0, t1, r) if all(x["Values"] for x in r.values()) else None
    # the samplers write a datapoint a metric period: wait for both series' first
    t0, t1, res_ = game.wait_until(both_have_points, 30, "datapoints of both series")
    assert set(res_) == {"conns", "hits"}
    for r in res_.values():
        assert r["StatusCode"] == "Complete" and len(r["Timestamps"]) == len(r["Values"]) > 0
        assert r["Timestamps"] == sorted(r["Timestamps"])
    # the same statistics as GetMetricStatistics of the same window answers
    st = aws(game, "cloudwatch", "get-metric-statistics", "--namespace", "AWS/RDS",
             "--metric-name", "DatabaseConnections", "--dimensions",
             "Name=DBInstanceIdentifier,Value=orders", "--statistics", "Maximum", "--period", "60",
             "--start-time", t0, "--end-time", t1)
    pts = sorted((p["Timestamp"], p["Maximum"]) for p in st["Datapoints"])
    assert list(zip(res_["conns"]["Timestamps"], res_["conns"]["Values"])) == pts
    # the store has the series, under AWS's names
    listed = aws(game, "cloudwatch", "list-metrics", "--namespace", "AWS/RDS")["Metrics"]
    assert {"CPUUtilization", "DatabaseConnections", "DBLoad"} <= {
        m["MetricName"] for m in listed if m["Dimensions"][0]["Value"] == "orders"}
    code, msg = aws_error(game, "cloudwatch", "get-metric-data", "--metric-data-queries",
                          '[{"Id":"e1","Expression":"SUM(METRICS())"}]', "--start-time", t0,
                          "--end-time", t1)
    assert code == "ValidationError" and "metric math" in msg


def test_put_metric_alarm_goes_to_alarm_and_delete_alarms_removes_it(game):
    aws(game, "cloudwatch", "put-metric-alarm", "--alarm-name", "orders-cpu", "--namespace",
        "AWS/RDS", "--metric-name", "CPUUtilization", "--dimensions",
        "Name=DBInstanceIdentifier,Value=orders", "--statistic", "Maximum", "--period", "10",
        "--evaluation-periods", "2", "--datapoints-to-alarm", "1", "--threshold", "0",
        "--comparison-operator", "GreaterThanOrEqualToThreshold")
    a = res(game, "orders-cpu")
    assert a["type"] == "alarm"
    assert {k: a["spec"][k] for k in ("resource", "metric", "statistic", "evaluation_periods",
                                      "datapoints_to_alarm", "threshold", "comparison")} == {
        "resource": "orders", "metric": "CPUUtilization", "statistic": "Maximum",
        "evaluation_periods": 2, "datapoints_to_alarm": 1, "threshold": 0,
        "comparison": "GreaterThanOrEqualToThreshold"}
    game.wait_until(lambda: res(game, "orders-cpu")["status"].get("state") == "ALARM", 30,
                    "the alarm in ALARM")

    def alarm_seen_by_the_cli():
        # its periods are a third of a wall second: a period without a datapoint yet may
        # take it back to INSUFFICIENT_DATA for a moment, so read until the CLI sees it
        m = aws(game, "cloudwatch", "describe-alarms", "--alarm-names", "orders-cpu")
        return m["MetricAlarms"][0] if m["MetricAlarms"][0]["StateValue"] == "ALARM" else None
    m = game.wait_until(alarm_seen_by_the_cli, 30, "describe-alarms showing ALARM")
    assert (m["StateValue"], m["Namespace"], m["Dimensions"]) == (
        "ALARM", "AWS/RDS", [{"Name": "DBInstanceIdentifier", "Value": "orders"}])
    # PutMetricAlarm again replaces it
    aws(game, "cloudwatch", "put-metric-alarm", "--alarm-name", "orders-cpu", "--namespace",
        "AWS/RDS", "--metric-name", "CPUUtilization", "--dimensions",
        "Name=DBInstanceIdentifier,Value=orders", "--statistic", "Average", "--period", "20",
        "--evaluation-periods", "1", "--threshold", "1000", "--comparison-operator",
        "GreaterThanThreshold")
    a = res(game, "orders-cpu")
    assert (a["spec"]["statistic"], a["spec"]["period"], a["spec"]["threshold"],
            a["spec"]["datapoints_to_alarm"]) == ("Average", 20, 1000, 1)
    game.wait_until(lambda: res(game, "orders-cpu")["status"].get("state") == "OK", 30,
                    "the alarm back to OK")
    recs = [r for r in audit(game) if r["principal"] == "team-1" and
            about(r, "alarm")]
    assert [r["eventName"] for r in recs][-2:] == ["CreateResource", "UpdateResource"]
    # an alarm on something the team does not have, an SNS action: refused, nothing made
    code, msg = aws_error(game, "cloudwatch", "put-metric-alarm", "--alarm-name", "bad",
                          "--namespace", "AWS/RDS", "--metric-name", "CPUUtilization",
                          "--dimensions", "Name=DBInstanceIdentifier,Value=nosuch",
                          "--statistic", "Average", "--period", "60", "--evaluation-periods",
                          "1", "--threshold", "1", "--comparison-operator",
                          "GreaterThanThreshold")
    assert code == "ValidationError" and "nosuch" not in names_of(game, "alarm")
    code, msg = aws_error(game, "cloudwatch", "put-metric-alarm", "--alarm-name", "bad",
                          "--namespace", "AWS/RDS", "--metric-name", "CPUUtilization",
                          "--dimensions", "Name=DBInstanceIdentifier,Value=orders",
                          "--statistic", "Average", "--period", "60", "--evaluation-periods",
                          "1", "--threshold", "1", "--comparison-operator",
                          "GreaterThanThreshold", "--alarm-actions",
                          "arn:aws:sns:us-east-1:000000000001:ops")
    assert code == "ValidationError" and "scaling polic" in msg
    assert "bad" not in names_of(game, "alarm")
    # DeleteAlarms: an unknown name deletes nothing; then the alarm goes
    assert aws_error(game, "cloudwatch", "delete-alarms", "--alarm-names", "orders-cpu",
                     "nosuch")[0] == "ResourceNotFound"
    assert "orders-cpu" in names_of(game, "alarm")
    aws(game, "cloudwatch", "delete-alarms", "--alarm-names", "orders-cpu")
    assert "orders-cpu" not in names_of(game, "alarm")
    assert aws(game, "cloudwatch", "describe-alarms", "--alarm-names",
               "orders-cpu")["MetricAlarms"] == []


# ---------------------------------------------------------------------------- keys


def test_a_wrong_key_is_refused_and_changes_nothing(game, tmp_path):
    c = keys(game)
    bad = configparser.ConfigParser()
    bad["team-1"] = {"aws_access_key_id": c["team-1"]["aws_access_key_id"],
                     "aws_secret_access_key": "x" * 40}
    bad["nobody"] = {"aws_access_key_id": "AKIAAAAAAAAAAAAAAAAA",
                     "aws_secret_access_key": "x" * 40}
    path = tmp_path / "bad-credentials"
    with open(path, "w") as f:
        bad.write(f)
    n = len(audit(game))
    before = res(game, "orders")["status"].get("last_failover")
    code, _ = aws_error(game, "rds", "reboot-db-instance", "--db-instance-identifier", "orders",
                        "--force-failover", credentials=path)
    assert code == "SignatureDoesNotMatch"
    code, _ = aws_error(game, "elasticache", "describe-replication-groups", profile="nobody",
                        credentials=path)
    assert code == "InvalidClientTokenId"
    code, _ = aws_error(game, "cloudwatch", "delete-alarms", "--alarm-names", "x",
                        credentials=path)
    assert code == "SignatureDoesNotMatch"
    assert res(game, "orders")["status"].get("last_failover") == before
    assert len(audit(game)) == n, "a refused request leaves no audit record"
