"""An availability zone outage as a scenario event (tests/e2e/scenarios/az_outage.yaml),
with the real binaries: every instance in the zone is lost, launches there fail with
InsufficientInstanceCapacity until it recovers, and a load balancer whose subnets are
all in it goes down with it. Only the stack whose group and load balancer span two
zones keeps serving. Of the two real PostgreSQL dbs, the one in zone a only is down
with it, and the Multi-AZ one fails over to its standby in zone b."""

import urllib.error
import urllib.request

import pytest

from conftest import scenario_path, shared_game

NET = 222  # team 1 lives at 127.222.0.0/16: no other test uses it


@pytest.fixture(scope="module")
def game(tmp_path_factory):
    yield from shared_game(tmp_path_factory, scenario_path("az_outage.yaml"), "az", port=18500,
                           speed=60, net=NET, postgres=True)


def clock(g):
    return g.status()["clock"]


def serves(g, lb):
    st = g.get(f"/resources/{lb}")["status"]
    try:
        with urllib.request.urlopen(f"http://{st['ip']}:{st.get('port', 8080)}/?key=k1",
                                    timeout=5) as r:
            return r.status == 200
    except (urllib.error.URLError, OSError):
        return False


def members(g, asg):
    return [i for i in g.instances() if i["status"].get("asg") == asg
            and i["status"]["state"] in ("pending", "running")]


def test_an_instance_dying_behind_a_load_balancer_costs_no_customer(game):
    """The customers use two-lb (health checks every 5 s): one of its two instances is
    killed, and the customers see no error: its requests in flight are retried on the
    other, and the checks take it out of service; the group replaces it."""
    game.wait_until(lambda: len([i for i in members(game, "two")
                                 if i["status"]["state"] == "running"]) == 2, 20,
                    "two's instances running")
    game.wait_until(lambda: game.team()["ok"] > 50, 20, "customers answered")
    errors = game.team()["errors"] + game.team()["timeouts"]
    victim = members(game, "two")[0]["id"]
    game.ctl("terminate", victim, "--force")
    t0 = clock(game)
    game.wait_until(lambda: clock(game) > t0 + 90, 10, "90 s of game time")
    assert game.team()["errors"] + game.team()["timeouts"] == errors, game.team()
    assert victim not in [i["id"] for i in members(game, "two")]
    assert len(members(game, "two")) == 2, "replaced"


def db_node(g, name, role):
    d = g.get(f"/resources/{name}")
    return next((n for n in d["status"].get("nodes", []) if n["role"] == role), None), d


def test_only_the_stack_over_two_zones_survives_the_outage(game):
    game.wait_until(lambda: serves(game, "one-lb") and serves(game, "two-lb"), 30,
                    "both stacks serving")
    game.wait_until(lambda: all(game.get(f"/resources/{d}")["status"].get("state") ==
                                "available" for d in ("one-db", "two-db")), 30,
                    "both dbs available before the outage")
    assert clock(game) < 10 * 60, "the dbs were up before the outage"
    primary, _ = db_node(game, "two-db", "primary")
    standby, _ = db_node(game, "two-db", "standby")
    assert (primary["az"], standby["az"]) == ("a", "b")
    assert {i["status"]["az"] for i in members(game, "two")} == {"a", "b"}
    game.wait_until(lambda: clock(game) > 10 * 60 + 5, 20, "the outage")
    # zone a is gone: its instances, its launches, and the clb that lives only there
    assert all(i["status"]["az"] == "b" for i in members(game, "one") + members(game, "two"))
    game.wait_until(lambda: game.get("/resources/one-lb")["status"]["state"] == "impaired", 10,
                    "one-lb down with its zone")
    assert not serves(game, "one-lb")
    assert serves(game, "two-lb"), "the clb over two zones answers from b"
    game.wait_until(lambda: len([i for i in members(game, "two")
                                 if i["status"]["state"] == "running"]) == 2, 20,
                    "two's group back at 2, in zone b")
    one = game.get("/resources/one")["status"]
    assert "InsufficientInstanceCapacity" in one.get("last_error", "") or \
        "impaired" in one.get("last_error", ""), one
    audit = game.audit()
    assert any(a.get("errorCode") == "InsufficientInstanceCapacity" for a in audit), audit[-5:]
    events = game.get("/teams/1/score/events?limit=100000")
    assert any("availability zone a is down" in e["reason"] for e in events), \
        "the outage is in the team's events"
    # the Multi-AZ db failed over to its standby in b; the single-AZ one is down
    game.wait_until(lambda: (lambda d: d["status"].get("last_failover") and
                             d["status"].get("state") == "available")(
                                 game.get("/resources/two-db")), 20, "two-db failed over")
    now, d = db_node(game, "two-db", "primary")
    assert now["id"] == standby["id"] and now["az"] == "b", d["status"]
    assert d["status"]["last_failover"]["from"] == primary["id"], d["status"]["last_failover"]
    one, d = db_node(game, "one-db", "primary")
    assert one["state"] != "available" and "availability zone" in one.get("reason", ""), one
    assert d["status"]["state"] != "available", d["status"]
    assert clock(game) < 20 * 60, "still inside the outage"
    # the zone recovers at 20m: one launches there again and its clb comes back
    game.wait_until(lambda: clock(game) > 20 * 60 + 5, 20, "the recovery")
    game.wait_until(lambda: serves(game, "one-lb"), 30, "one-lb serving again")
    assert game.get("/resources/one-lb")["status"]["state"] == "active"
    game.wait_until(lambda: game.get("/resources/one-db")["status"].get("state") ==
                    "available", 30, "one-db back with its zone")
