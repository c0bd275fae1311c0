"""The audit trail as a team investigates with it (CloudTrail): in a real two-team game
(tests/e2e/scenarios/audit_trail.yaml) Chaos Monkey terminates an instance of every
team at 1m, the player of team 1 terminates another one through the API and makes two
calls that are refused. Then:

- each record carries CloudTrail's fields and the resources it touched;
- GET /api/v1/audit's filters (principal, event, resource, from/to, errors) return
  exactly the records of the whole trail that match, and bad values are refused;
- a team's token sees its own team's records only;
- `gameday ctl trail --who ID` names chaos-monkey for the instance it terminated and
  team-1 for the player's, and `ctl audit` prints the filtered table;
- after the server is SIGKILLed and play restarts it, the records and the filters'
  answers are the same.

Team 1 lives on 127.224.0.0/16 (net 224). Team 2 spills onto 127.225.0.0/16: its
subnets are 127.225.200-201.x, and the test holds that /16's e2e lock too."""

import json
import os
import re
import signal
import urllib.parse

import pytest

from conftest import (Game, _finish, free_port, http, listeners_in, live, net_lock, proc_info,
                      scenario_path, wait_until)

SCENARIO = scenario_path("audit_trail.yaml")
NET = 224  # team 1 lives at 127.224.0.0/16: no other test uses it
SPEED = 30  # 60 game minutes: 2 wall minutes, time for every test of the module
CHAOS_AT = 60  # the scenario's terminate_random, game seconds


def hms(t):
    s = int(t)
    return f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}"


def query(g, token, **params):
    """GET /audit with params (percent-encoded); the Resp, whatever its status."""
    return g.call("GET", "/audit?" + urllib.parse.urlencode(params), token=token)


def listing(g, token, **params):
    r = query(g, token, **params)
    assert r.status == 200, f"{params}: {r}"
    return r.json()


def chaos_kills(recs):
    return [a for a in recs if a["principal"] == "chaos-monkey"
            and a["eventName"] == "TerminateInstances" and a["errorCode"] is None]


@pytest.fixture(scope="module")
def game(tmp_path_factory):
    """The game, once Chaos Monkey struck both teams and team 1's player acted."""
    lock2 = net_lock(net=NET + 1)  # team 2's /16: other games of the suite take turns
    g = Game(SCENARIO, tmp_path_factory.mktemp("audit") / "game", port=free_port(18924),
             speed=SPEED, net=NET)
    try:
        wait_until(lambda: not [a for a in listeners_in(f"127.{NET + 1}.")
                                if a[0].split(".")[2] in ("200", "201", "255")], 30,
                   f"team 2's addresses (127.{NET + 1}.200-201.x, .255.x) to be free")
        g.start()
        g.wait_ready()
        admin = g.info["admin_token"]
        tokens = {t["id"]: t["token"] for t in g.info["teams"]}
        assert tokens[1] == g.token and len(tokens) == 2, g.info["teams"]
        # Chaos strikes every team at 1m: wait for both records.
        kills = {t: g.wait_until(lambda t=t: chaos_kills(g.get(f"/audit?limit=0&team={t}",
                                                               token=admin)),
                                 20, f"chaos-monkey's termination in team {t}")[0]
                 for t in (1, 2)}
        chaos_victim = kills[1]["requestParameters"]["instanceId"]
        # The player terminates another running instance, by API.
        running = g.wait_until(lambda: [i for i in g.instances()
                                        if i["status"]["state"] == "running"
                                        and i["id"] != chaos_victim], 20,
                               "a running instance that chaos did not take")
        victim = running[0]
        r = g.call("POST", f"/instances/{victim['id']}/terminate", {"force": False})
        assert r.status == 200 and r.json()["status"]["state"] == "terminated", r
        # Two refused calls: an instance that does not exist, and a stop of a group member.
        nope = g.call("POST", "/instances/i-00000000/terminate")
        assert nope.status == 404, nope
        stop = g.call("POST", f"/instances/{victim['id']}/stop")
        assert stop.status == 400 and stop.json()["error"]["code"] == "UnsupportedOperation", stop
        yield {"g": g, "admin": admin, "tokens": tokens, "kills": kills,
               "chaos_victim": chaos_victim, "victim": victim,
               "stop_message": stop.json()["error"]["message"]}
    finally:
        _finish([g])
        lock2.close()


def whole_trail(ctx, team):
    """Every record of the team, oldest first (the ground truth the filters are checked
    against): the admin's unfiltered listing."""
    recs = ctx["g"].get(f"/audit?limit=0&team={team}", token=ctx["admin"])
    assert 0 < len(recs) < 1000, len(recs)
    return recs


def same_records(got, want):
    """got (a filtered listing made after `want`'s whole trail) holds exactly the
    records of want, up to want's last seq (later ones appeared meanwhile)."""
    last = want[-1]["seq"] if want else 0
    return [a["seq"] for a in got if a["seq"] <= last] == [a["seq"] for a in want]


def test_records_carry_cloudtrail_fields_and_the_resources_they_touched(game):
    g, victim = game["g"], game["victim"]
    recs = whole_trail(game, 1)
    mine = [a for a in recs if a["eventName"] == "TerminateInstances"
            and a["principal"] == "team-1" and a["errorCode"] is None]
    assert len(mine) == 1, mine
    a = mine[0]
    assert a["sourceIPAddress"] == a["sourceIP"] == "127.0.0.1", a
    assert a["readOnly"] is False
    assert a["gameTime"] == hms(a["eventTime"]), a
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", a["eventTimeWall"]), a
    assert a["eventWall"].startswith(a["eventTimeWall"][:19]), a
    assert a["errorCode"] is None and a["errorMessage"] is None, a
    assert a["resources"] == [{"id": victim["id"], "name": victim["name"], "type": "instance"}], a
    for rec in recs:  # every record has every field
        assert {"eventTime", "eventTimeWall", "gameTime", "eventName", "principal",
                "sourceIPAddress", "requestParameters", "responseElements", "errorCode",
                "errorMessage", "readOnly", "resources"} <= rec.keys(), rec
    stop = [a for a in recs if a["eventName"] == "StopInstances"]
    assert len(stop) == 1 and stop[0]["errorCode"] == "UnsupportedOperation", stop
    assert stop[0]["errorMessage"] == game["stop_message"], stop[0]
    assert stop[0]["resources"][0]["id"] == victim["id"], stop[0]
    nope = [a for a in recs if a["errorCode"] == "InvalidInstanceID.NotFound"]
    assert len(nope) == 1 and nope[0]["resources"] == [{"id": "i-00000000"}], nope
    chaos = chaos_kills(recs)
    assert len(chaos) == 1 and chaos[0]["sourceIPAddress"] == "internal", chaos
    assert chaos[0]["eventTime"] >= CHAOS_AT, chaos


def test_filters_return_exactly_the_matching_records(game):
    g, tok = game["g"], game["tokens"][1]
    victim, chaos_victim = game["victim"], game["chaos_victim"]
    recs = whole_trail(game, 1)
    principals = {a["principal"] for a in recs}
    assert {"gameday", "autoscaling", "chaos-monkey", "team-1"} <= principals, principals
    for p in principals:
        assert same_records(listing(g, tok, principal=p, limit=0),
                            [a for a in recs if a["principal"] == p]), p
    for ev in ("TerminateInstances", "RunInstances", "StopInstances", "CreateResource"):
        assert same_records(listing(g, tok, event=ev, limit=0),
                            [a for a in recs if a["eventName"] == ev]), ev
    for res in (victim["id"], victim["name"], chaos_victim, "web"):
        want = [a for a in recs if any(res in (r.get("id"), r.get("name"))
                                       for r in a["resources"])]
        assert want, res
        assert same_records(listing(g, tok, resource=res, limit=0), want), res
    assert same_records(listing(g, tok, errors="only", limit=0),
                        [a for a in recs if a["errorCode"] is not None])
    assert same_records(listing(g, tok, errors="none", limit=0),
                        [a for a in recs if a["errorCode"] is None])
    # from/to in game seconds (both inclusive), from the chaos strike to the player's kill
    t0 = chaos_kills(recs)[0]["eventTime"]
    t1 = [a for a in recs if a["principal"] == "team-1"][0]["eventTime"]
    assert t0 < t1
    window = [a for a in recs if t0 <= a["eventTime"] <= t1]
    assert len(window) >= 2 and len(window) < len(recs), window
    assert same_records(listing(g, tok, **{"from": t0, "to": t1, "limit": 0}), window)
    # ... and as the game clock: to=HH:MM:SS takes the whole second
    clock = [a for a in recs if int(t0) <= a["eventTime"] < int(t1) + 1]
    assert same_records(listing(g, tok, **{"from": hms(t0), "to": hms(t1), "limit": 0}), clock)
    # AND of several conditions
    assert same_records(
        listing(g, tok, principal="team-1", event="TerminateInstances", errors="none", limit=0),
        [a for a in recs if a["principal"] == "team-1"
         and a["eventName"] == "TerminateInstances" and a["errorCode"] is None])
    newest = listing(g, tok, limit=-3)
    assert len(newest) == 3 and [a["seq"] for a in newest] == sorted(a["seq"] for a in newest)
    assert newest[-1]["seq"] >= recs[-1]["seq"]


def test_bad_filter_values_are_refused_with_what_is_allowed(game):
    g, tok = game["g"], game["tokens"][1]
    for params, msg in (
            ({"from": "x"}, "from: expected game seconds or HH:MM:SS, got 'x'"),
            ({"to": "25:61:00"}, "to: expected game seconds or HH:MM:SS, got '25:61:00'"),
            ({"errors": "maybe"}, "errors: expected only or none, got 'maybe'"),
            ({"limit": "5000"}, "limit: expected an integer from -1000 to 1000 (0: 1000; "
                                "negative: the newest), got '5000'"),
            ({"principle": "team-1"}, "unknown parameter 'principle' (allowed: principal, "
                                      "event, resource, from, to, errors, since, limit, team)")):
        r = query(g, tok, **params)
        assert r.status == 400, (params, r)
        assert r.json()["error"] == {"code": "InvalidParameterValue", "message": msg}, params
    m = http("GET", g.api + "/metrics").body.decode()
    refused = re.search(r'^gameday_audit_queries_total\{outcome="refused"\} (\d+)', m, re.M)
    assert refused and int(refused.group(1)) >= 5, m[-600:]


def test_a_team_token_sees_only_its_own_team(game):
    g, admin, tokens = game["g"], game["admin"], game["tokens"]
    mine = listing(g, tokens[1], limit=0)
    assert mine and {a["team"] for a in mine} == {1}
    r = query(g, tokens[1], team=2)
    assert r.status == 403 and r.json()["error"]["code"] == "AccessDenied", r
    other = game["kills"][2]["requestParameters"]["instanceId"]
    assert listing(g, tokens[1], resource=other, limit=0) == [], "team 2's instance"
    theirs = listing(g, tokens[2], resource=other, limit=0)
    assert [a["seq"] for a in chaos_kills(theirs)] == [game["kills"][2]["seq"]], theirs
    both = listing(g, admin, principal="chaos-monkey", event="TerminateInstances", limit=0)
    assert {a["team"] for a in both} == {1, 2}, both
    assert {a["team"] for a in listing(g, admin, team=2, limit=0)} == {2}
    r = g.ctl("trail", "--who", other, check=False)
    assert r.returncode == 1 and "no audit record names" in r.stderr, r


def trail(g, who, **kw):
    r = g.ctl("trail", "--who", who, **kw)
    return r.stdout.splitlines()


def test_ctl_trail_names_who_terminated_each_instance(game):
    g = game["g"]
    recs = whole_trail(game, 1)
    chaos = chaos_kills(recs)[0]
    cid = game["chaos_victim"]
    lines = trail(g, cid)
    assert lines[0] == (f"{cid} was terminated by chaos-monkey at {chaos['gameTime']} game time "
                        f"({chaos['eventTimeWall']}) from internal: TerminateInstances"), lines
    hist = [a for a in recs if any(r.get("id") == cid for r in a["resources"])]
    rows = lines[lines.index(next(l for l in lines if l.startswith("TIME "))) + 1:]
    assert len(rows) == len(hist) and rows[-1].split()[1:3] == ["chaos-monkey",
                                                               "TerminateInstances"], lines

    victim = game["victim"]
    mine = [a for a in recs if a["principal"] == "team-1"
            and a["eventName"] == "TerminateInstances" and a["errorCode"] is None][0]
    for who in (victim["id"], victim["name"]):  # by id or by name
        lines = trail(g, who)
        assert lines[0] == (f"{victim['id']} was terminated by team-1 at {mine['gameTime']} "
                            f"game time ({mine['eventTimeWall']}) from 127.0.0.1: "
                            "TerminateInstances"), lines
        assert "refused: team-1 StopInstances UnsupportedOperation" in lines, lines
        assert any(l.startswith(f"history of {victim['id']} ({victim['name']}): ") for l in lines)

    lines = trail(g, "i-00000000")
    assert lines[0] == "i-00000000 was never changed: every call that named it was refused"
    assert lines[1] == "refused: team-1 TerminateInstances InvalidInstanceID.NotFound", lines
    j = json.loads(g.ctl("--json", "trail", "--who", cid).stdout)
    assert j["resource"] == cid and j["answer"][0] == trail(g, cid)[0], j
    r = g.ctl("trail", "--who", "no-such-thing", check=False)
    assert r.returncode == 1 and r.stdout == "", r
    assert r.stderr.startswith("gameday ctl trail: no audit record names 'no-such-thing'"), r


def test_ctl_audit_prints_the_filtered_table_and_refuses_unknown_options(game):
    g = game["g"]
    r = g.ctl("audit", "--principal", "chaos-monkey", "--event", "TerminateInstances")
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["TIME", "PRINCIPAL", "EVENT", "RESOURCES", "OUTCOME"], lines
    chaos = game["kills"][1]
    assert len(lines) == 2, lines
    assert lines[1].split()[:3] == [chaos["gameTime"], "chaos-monkey", "TerminateInstances"]
    assert lines[1].split()[3] == game["chaos_victim"] and lines[1].split()[-1] == "ok", lines
    rows = g.ctl("audit", "--errors", "only", "--limit", "0").stdout.splitlines()[1:]
    codes = sorted(l.split()[-1] for l in rows)
    assert codes == ["InvalidInstanceID.NotFound", "UnsupportedOperation"], rows
    r = g.ctl("audit", "--bogus", "1", check=False)
    assert r.returncode == 2, r
    assert r.stderr.startswith("gameday ctl audit: unknown option '--bogus' (usage: gameday ctl "
                               "audit [--principal P]"), r.stderr
    r = g.ctl("audit", "--from", check=False)
    assert r.returncode == 2 and "--from needs a value" in r.stderr, r.stderr
    r = g.ctl("audit", "--from", "soon", check=False)
    assert r.returncode == 1, r
    assert "from: expected game seconds or HH:MM:SS, got 'soon'" in r.stderr, r.stderr
    r = g.ctl("trail", check=False)
    assert r.returncode == 2 and "missing --who ID|NAME" in r.stderr, r.stderr


def test_a_server_restart_keeps_the_records_and_the_filters(game):
    g, tok = game["g"], game["tokens"][1]
    victim = game["victim"]
    before = whole_trail(game, 1)
    filters = [{"principal": "chaos-monkey"}, {"resource": victim["name"]},
               {"errors": "only"}, {"event": "RunInstances"},
               {"from": before[0]["eventTime"], "to": game["kills"][1]["eventTime"]}]
    answers = [listing(g, tok, limit=0, **f) for f in filters]
    trail_before = trail(g, victim["id"])

    spid = g.info["server_pid"]
    assert live(proc_info(spid)), spid
    os.kill(spid, signal.SIGKILL)
    g.wait_until(lambda: json.loads((g.out / "game.json").read_text())["server_pid"] != spid, 20,
                 "play to restart the server")
    g.wait_until(lambda: "restarting" in g.stderr_text(), 5, "play to say it restarted the server")
    assert not live(proc_info(spid)), "the old server is gone"
    after = g.wait_until(lambda: whole_trail(game, 1), 30, "the restarted server's audit trail")
    last = before[-1]["seq"]
    assert [a for a in after if a["seq"] <= last] == before, "every record, unchanged"
    for f, want in zip(filters, answers):
        got = listing(g, tok, limit=0, **f)
        assert same_records(got, [a for a in want if a["seq"] <= last]), f
    assert trail(g, victim["id"])[:2] == trail_before[:2]
