"""`gameday ctl` and `gameday` say what was wrong with a command line before the usage:
an unknown command (with the nearest known one), a missing or extra argument (with the
command's own usage), exit status 2; --help lists every command, exit status 0. None of
these needs a game: the command line is checked before any game is looked for."""

import os
import subprocess

import pytest

from conftest import ROOT, gameday_bin

# Every command `gameday ctl` runs; --help must list each with a description.
CTL_COMMANDS = ["status", "instances", "resources", "get", "scale", "failover", "terminate",
                "create", "update", "delete", "metrics", "endpoint", "score", "events", "audit",
                "trail", "invalidate"]


def run(*args, cwd=None):
    return subprocess.run([gameday_bin(), *args], cwd=cwd or ROOT, capture_output=True,
                          text=True, timeout=30)


@pytest.mark.parametrize("flag", ["--help", "-h", "help"])
def test_ctl_help_lists_every_command_with_a_description(flag, tmp_path):
    r = run("ctl", flag, cwd=tmp_path)  # no var/ here: no game is needed
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    lines = r.stdout.splitlines()
    assert lines[0].startswith("usage: gameday ctl ")
    for cmd in CTL_COMMANDS:
        line = next((l for l in lines if l.split()[:1] == [cmd]), None)
        assert line is not None, f"--help does not list '{cmd}':\n{r.stdout}"
        words = line.split()
        assert len(words) >= 3, f"'{cmd}' has no description: {line!r}"


def test_ctl_unknown_command_says_so_and_suggests_the_nearest(tmp_path):
    r = run("ctl", "instnaces", cwd=tmp_path)
    assert r.returncode == 2
    first = r.stderr.splitlines()[0]
    assert first == "gameday ctl: unknown command 'instnaces'; did you mean 'instances'?", r.stderr
    assert "usage: gameday ctl" in r.stderr
    assert r.stdout == ""
    r = run("ctl", "frobnicate", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.splitlines()[0] == "gameday ctl: unknown command 'frobnicate'", r.stderr


def test_ctl_missing_or_extra_argument_names_it(tmp_path):
    r = run("ctl", "scale", "web-asg", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.strip() == ("gameday ctl scale: missing argument COUNT "
                                "(usage: gameday ctl scale NAME COUNT)"), r.stderr
    r = run("ctl", "scale", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.strip().startswith("gameday ctl scale: missing argument NAME "), r.stderr
    r = run("ctl", "metrics", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.strip() == ("gameday ctl metrics: missing argument NAME "
                                "(usage: gameday ctl metrics NAME [METRIC])"), r.stderr
    r = run("ctl", "get", "a", "b", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.strip() == ("gameday ctl get: unexpected argument 'b' "
                                "(usage: gameday ctl get NAME|ID)"), r.stderr
    r = run("ctl", "scale", "web-asg", "many", cwd=tmp_path)
    assert r.returncode == 2
    assert "'many' is not a count" in r.stderr


def test_ctl_bad_options_and_no_command(tmp_path):
    r = run("ctl", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.splitlines()[0] == "gameday ctl: missing COMMAND", r.stderr
    r = run("ctl", "--bogus", "status", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.splitlines()[0] == "gameday ctl: unknown option '--bogus'", r.stderr
    r = run("ctl", "--api", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.splitlines()[0] == "gameday ctl: option --api needs a value", r.stderr


def test_ctl_without_a_game_says_how_to_start_one(tmp_path):
    r = run("ctl", "status", cwd=tmp_path)
    assert r.returncode == 1
    assert "no game found" in r.stderr


def test_gameday_unknown_role_suggests_the_nearest(tmp_path):
    r = run("pley", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.splitlines()[0] == "gameday: unknown command 'pley'; did you mean 'play'?"
    assert "usage: gameday <command>" in r.stderr
    r = run("--help", cwd=tmp_path)
    assert r.returncode == 0
    assert "ctl" in r.stdout


def test_the_root_wrapper_runs_the_build_or_says_to_make_it(tmp_path):
    wrapper = tmp_path / "gameday"
    wrapper.write_text((ROOT / "gameday").read_text())
    wrapper.chmod(0o755)
    r = subprocess.run([str(wrapper), "ctl", "--help"], cwd=tmp_path, capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 127
    assert "is not built yet: run 'make'" in r.stderr, r.stderr
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "gameday").symlink_to(gameday_bin())
    r = subprocess.run(["./gameday", "ctl", "--help"], cwd=tmp_path, capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("usage: gameday ctl ")
    r = subprocess.run(["./gameday", "ctl", "instnaces"], cwd=tmp_path, capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 2
    assert os.access(ROOT / "gameday", os.X_OK), "the repo's ./gameday is executable"
