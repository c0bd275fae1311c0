"""Runs every edge behaviour case of tests/edge/cases (one pytest test per case).

    /usr/bin/python3 -m pytest tests/edge -q            # all cases
    /usr/bin/python3 -m pytest tests/edge -q -k sticky  # the ones whose name has "sticky"

The binary is $GAMEDAY_BIN (default build/gameday). See tests/edge/README.md."""

import os

import pytest

import harness

CASES = harness.load_cases()


@pytest.fixture(scope="session", autouse=True)
def _binary_exists():
    b = harness.gameday_bin()
    if not os.access(b, os.X_OK):
        pytest.fail(f"no gameday binary at {b}: build it or set GAMEDAY_BIN")


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_edge_case(case, tmp_path):
    if case.get("skip"):
        pytest.skip(case["skip"])
    failure = None
    try:
        harness.run_case(case, tmp_path)
    except harness.CaseError as e:
        failure = str(e)
    if failure:
        pytest.fail(failure, pytrace=False)
