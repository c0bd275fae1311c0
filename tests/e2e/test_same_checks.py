"""The scenario loader and the API apply the same checks to an architecture, from the
model's one registry: every case below is a resource added to the steady scenario's
architecture, once in a scenario file (checked by `gameday play`, which then starts
nothing) and once as POST /api/v1/resources in a game of that same scenario. Both must
reject it with the same messages; only the place differs (file:line:col in a file,
the field path spec.x in the API)."""

import json
import re
import subprocess

import pytest

from conftest import ROOT, free_port, gameday_bin, scenario_path

BASE = scenario_path("steady.yaml").read_text()

# Each case is JSON, which is also a YAML flow mapping: one text for both sides.
CASES = {
    "subnet-overlap": {"type": "subnet", "name": "dup", "vpc": "main",
                       "cidr": "127.T.1.0/25", "az": "a"},
    "subnet-reserved": {"type": "subnet", "name": "gd", "vpc": "main",
                        "cidr": "127.T.250.0/24"},
    "missing-refs": {"type": "asg", "name": "other", "launch_template": "nope",
                     "subnets": ["nowhere", "private-a"], "load_balancers": ["web"]},
    "fields": {"type": "launch_template", "name": "t2", "slots": 0, "colour": "red",
               "service_time": "forever"},
    "asg-min-max": {"type": "asg", "name": "y", "launch_template": "web-template",
                    "subnets": ["private-a"], "min": 5, "max": 2},
    "alb-forward-nowhere": {"type": "alb", "name": "a2", "subnets": ["public-a"],
                            "rules": [{"priority": 1, "conditions": {"path": "/x"},
                                       "action": {"type": "forward",
                                                  "target_group": "ghost"}}]},
    "alb-rule-grammar": {"type": "alb", "name": "a3", "subnets": ["public-a"],
                         "rules": [{"priority": 3, "conditions": {"path": "/x"},
                                    "action": {"type": "fixed_response"}},
                                   {"priority": 3, "conditions": {"path": "/y"},
                                    "action": {"type": "fixed_response"}}]},
    "cdn-origin-not-lb": {"type": "cdn", "name": "c", "origin": "web"},
    "clb-health": {"type": "clb", "name": "lb2", "subnets": ["public-a"],
                   "health_check": {"interval": "10s", "timeout": "20s"}},
    "tg-reserved-name": {"type": "target_group", "name": "default"},
    "deny-undeniable": {"type": "deny_policy", "name": "d1", "principals": ["admin", "ceo"],
                        "actions": ["Explode"]},
    "deny-not-deniable": {"type": "deny_policy", "name": "d2", "principals": ["intern"]},
}

# "file:12:34: msg" and "spec.field: msg" both become "msg".
FILE_PLACE = re.compile(r"^.*?:\d+:\d+: ")
API_PLACE = re.compile(r"^spec(\.[^:]*)?: ")


def scenario_errors(case, tmp_path):
    text = BASE.rstrip("\n") + "\n    - " + json.dumps(CASES[case]) + "\n"
    bad = tmp_path / f"{case}.yaml"
    bad.write_text(text)
    out = tmp_path / f"out-{case}"
    out.mkdir()
    r = subprocess.run([gameday_bin(), "play", str(bad), "--out", str(out), "--headless",
                        "--port", str(free_port())],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0, f"{case}: the scenario was accepted\n{r.stdout}\n{r.stderr}"
    lines = [l for l in r.stderr.splitlines() if l.startswith(f"{bad}:")]
    assert lines, r.stderr
    return sorted(FILE_PLACE.sub("", l, count=1) for l in lines)


def api_errors(g, case):
    c = dict(CASES[case])
    body = {"type": c.pop("type"), "name": c.pop("name"), "spec": c}
    r = g.call("POST", "/resources", body)
    assert r.status == 400, f"{case}: {r}"
    err = r.json()["error"]
    assert err["code"] == "ValidationError", err
    for m in err["errors"]:
        assert API_PLACE.match(m), f"an API error names the field path: {m}"
    return sorted(API_PLACE.sub("", m, count=1) for m in err["errors"])


@pytest.fixture(scope="module")
def game(module_play):
    g = module_play(scenario_path("steady.yaml"), speed=30)
    g.wait_ready()
    return g


@pytest.mark.parametrize("case", sorted(CASES))
def test_loader_and_api_reject_alike(case, game, tmp_path):
    from_file = scenario_errors(case, tmp_path)
    from_api = api_errors(game, case)
    assert from_file == from_api, f"{case}:\n file: {from_file}\n  api: {from_api}"
    names = {r["name"] for r in game.get("/resources")}
    assert CASES[case]["name"] not in names or CASES[case]["name"] == "web", \
        "a rejected resource is not created"
