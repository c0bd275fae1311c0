"""A malformed scenario gives file:line errors and starts nothing: no process, no
state.db. The broken files are made from a valid test scenario by changing marked
lines, so the expected line numbers are computed, not hard-coded."""

import re
import subprocess

import pytest

from conftest import (ROOT, connect_refused, free_port, game_processes, gameday_bin, listeners_in,
                      scenario_path)

BASE = scenario_path("steady.yaml").read_text().splitlines()


def edit(lines, old, new):
    """Replaces the one line equal to `old` (stripped) by `new` lines; returns the
    1-based number of the first new line."""
    idx = [i for i, l in enumerate(lines) if l.strip() == old.strip()]
    assert len(idx) == 1, f"{old!r} in the base scenario: {idx}"
    i = idx[0]
    lines[i:i + 1] = new
    return i + 1


def syntax_error():
    lines = list(BASE)
    # an extra closing brace: a YAML syntax error
    n = edit(lines, "- {at: 0m, rps: 1}", ["    - {at: 0m, rps: 1}}"])
    return lines, [(n, r"")]


def nested_mapping_error():
    lines = list(BASE)
    # "key: a: b" is not YAML either
    n = edit(lines, "seed: 3", ["seed: a: b"])
    return lines, [(n, r"")]


def semantic_errors():
    lines = list(BASE)
    want = []
    n = edit(lines, "- {type: subnet, name: private-a, vpc: main, cidr: 127.T.1.0/24, az: a}",
             ["    - {type: subnet, name: private-a, vpc: main, cidr: 127.T.1.0/33, az: a}"])
    want.append((n, r"cidr"))
    n = edit(lines, "queue: 32", ["      queue: 32", "      colour: blue"]) + 1
    want.append((n, r"colour.*unknown field|unknown field.*colour"))
    n = edit(lines, "desired: 3", ["      desired: 12"])
    want.append((n, r"desired"))
    return lines, want


CASES = {
    "syntax": syntax_error,
    "nested-mapping": nested_mapping_error,
    "semantic": semantic_errors,
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_malformed_scenario_reports_file_line_and_starts_nothing(case, tmp_path):
    lines, want = CASES[case]()
    bad = tmp_path / f"bad-{case}.yaml"
    bad.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    out.mkdir()
    port = free_port()
    r = subprocess.run([gameday_bin(), "play", str(bad), "--out", str(out), "--headless",
                        "--port", str(port), "--speed", "60"],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0, r
    located = [l for l in r.stderr.splitlines() if l.startswith(f"{bad}:")]
    assert located, f"no {bad}:LINE: error in:\n{r.stderr}"
    for l in located:
        assert re.match(rf"^{re.escape(str(bad))}:\d+:\d+: \S", l), l
    for line, pattern in want:
        hits = [l for l in located if l.startswith(f"{bad}:{line}:")]
        assert hits, f"no error at line {line} ({lines[line - 1].strip()!r}):\n{r.stderr}"
        assert any(re.search(pattern, l) for l in hits), f"line {line}: {hits}"
    if case == "semantic":
        assert len(located) == len(want), f"one error per defect:\n{r.stderr}"
    assert "nothing was started" in r.stderr, r.stderr
    assert not (out / "state.db").exists(), "no state.db is created"
    assert sorted(p.name for p in out.iterdir()) == [], "the out folder stays empty"
    assert not game_processes(-1, out), "no process of the game runs"
    assert not [p for p in game_processes(-1, bad)], "no process runs the bad scenario"
    assert not listeners_in("127.1."), "no load balancer or instance listens"
    assert connect_refused("127.0.0.1", port), "no server listens"
