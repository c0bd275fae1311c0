"""Shared helpers of the end-to-end tests: they run the real `gameday` binary.

The binary is $GAMEDAY_BIN (scripts/run-tests.sh points it at the ASan build),
else build/gameday. Tests run with the project root as working directory.

Every game's team 1 lives on 127.1.0.0/16, so two games must never overlap: the
`play` fixture stops its games (SIGINT, then SIGKILL of the process group as a last
resort) and waits until none of their processes is left before the test returns; a
game holds an flock on /tmp/gameday-e2e-127.1.lock while it runs, so that two runs of
the suite on one machine take turns, and starts only when nothing listens on 127.1.*.
Nothing here sleeps to synchronise: `wait_until` polls for the awaited event.
"""

import contextlib
import fcntl
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
E2E = Path(__file__).resolve().parent
SCENARIOS = E2E / "scenarios"
DEFAULT_SCENARIO = "scenarios/unicorn-rentals.yaml"

STATUS_LINE = re.compile(
    r"^\d+:\d{2}:\d{2} team-\d+ +rps -?[\d.]+ +p50 -?\d+ ms +p99 -?\d+ ms +errors \d+ +"
    r"score -?\d+ +spent \$-?[\d.]+ +instances \d+$"
)
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


# ---------------------------------------------------------------------------- basics


def gameday_bin():
    b = os.environ.get("GAMEDAY_BIN")
    path = Path(b) if b else ROOT / "build" / "gameday"
    if not path.is_absolute():
        path = ROOT / path
    return str(path.resolve())


@pytest.fixture(scope="session", autouse=True)
def _binary_exists():
    b = gameday_bin()
    if not os.access(b, os.X_OK):
        pytest.fail(f"no gameday binary at {b}: build it (ninja -C build-asan) or set GAMEDAY_BIN")
    yield


@contextlib.contextmanager
def daemon(args, health_url, log_path, env=None):
    """Runs the real binary with args (a daemon: dns, an instance...) until the block
    ends, once health_url answers 200; then stops it and fails on a sanitizer report
    in its stderr (kept at log_path)."""
    err = open(log_path, "w+")
    p = subprocess.Popen([gameday_bin(), *args], stdout=subprocess.DEVNULL, stderr=err,
                         env=dict(os.environ, **(env or {})))

    def alive(what):
        assert p.poll() is None, f"{args[0]} exited ({p.returncode}) before {what}"

    try:
        wait_until(lambda: http("GET", health_url).status == 200, 10, f"{args[0]} up",
                   alive=alive)
        yield p
    finally:
        p.terminate()
        p.wait(10)
        err.seek(0)
        text = err.read()
        for mark in SANITIZER_MARKS:
            assert mark not in text, text


def dig(host, port, *args):
    """The real dig (bind9-dnsutils) against a gameday dns at host:port; its stdout."""
    out = subprocess.run(["dig", f"@{host}", "-p", str(port), "+time=2", "+tries=1", *args],
                         capture_output=True, text=True, timeout=10)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def dig_answers(text):
    """(name, ttl, type, value) of every answer line of dig's output."""
    rows = []
    for line in text.splitlines():
        f = line.split()
        if len(f) >= 5 and not line.startswith(";"):
            rows.append((f[0], int(f[1]), f[3], f[4]))
    return rows


class Timeout(AssertionError):
    pass


def wait_until(pred, timeout, what, interval=0.02, alive=None):
    """Polls pred() until it returns a truthy value, which is returned. Exceptions of
    pred (a refused connection, a missing key...) count as "not yet". Fails with a
    message naming `what` after `timeout` seconds. `alive`, when given, is called on
    every round and may fail early (e.g. when the game died)."""
    deadline = time.monotonic() + timeout
    last, err = None, None
    while True:
        try:
            last = pred()
            if last:
                return last
            err = None
        except (OSError, ValueError, KeyError, IndexError, TypeError, AttributeError) as e:
            err = e
        if alive is not None:
            alive(what)
        if time.monotonic() >= deadline:
            msg = f"timed out after {timeout:.1f} s waiting for {what}"
            if err is not None:
                msg += f"; last error: {err!r}"
            else:
                msg += f"; last value: {last!r}"
            raise Timeout(msg)
        time.sleep(interval)


# ---------------------------------------------------------------------------- HTTP

_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Resp:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name):
        return self.headers.get(name) if self.headers is not None else None

    def json(self):
        return json.loads(self.body.decode())

    def __repr__(self):
        return f"<Resp {self.status} {self.body[:200]!r}>"


def http(method, url, body=None, token=None, timeout=10):
    """One HTTP exchange (no proxy). Returns Resp for any status; raises OSError when
    nothing answers. A bytes body is sent as it is (for malformed bodies)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode() if body is not None \
        else None
    req = urllib.request.Request(url, data=data, method=method)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with _opener.open(req, timeout=timeout) as r:
            return Resp(r.status, r.headers, r.read())
    except urllib.error.HTTPError as e:
        return Resp(e.code, e.headers, e.read())
    except urllib.error.URLError as e:
        if isinstance(e.reason, OSError):
            raise e.reason
        raise OSError(str(e.reason))


def get_json(url, token=None, timeout=10):
    r = http("GET", url, token=token, timeout=timeout)
    if r.status != 200:
        raise ValueError(f"GET {url}: {r.status} {r.body[:300]!r}")
    return r.json()


def connect_refused(host, port, timeout=1.0):
    """True when nothing accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return False
    except ConnectionRefusedError:
        return True
    except OSError:
        return False


def hostport(endpoint):
    """'http://127.1.0.4:8080/' or '127.1.0.4:8080' -> ('127.1.0.4', 8080)."""
    m = re.match(r"^(?:http://)?(\d+\.\d+\.\d+\.\d+):(\d+)/?$", endpoint)
    assert m, f"not an IP:PORT endpoint: {endpoint!r}"
    return m.group(1), int(m.group(2))


def gameday_hash(key, scenario=DEFAULT_SCENARIO):
    r = subprocess.run([gameday_bin(), "hash", key, "--scenario", str(scenario)], cwd=ROOT,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, f"gameday hash {key}: rc {r.returncode}: {r.stderr}"
    h = r.stdout.strip()
    assert re.fullmatch(r"[0-9a-f]{64}", h), f"gameday hash printed {r.stdout!r}"
    return h


# ---------------------------------------------------------------------------- processes


class Proc:
    __slots__ = ("pid", "pgid", "state", "cmdline")

    def __init__(self, pid, pgid, state, cmdline):
        self.pid, self.pgid, self.state, self.cmdline = pid, pgid, state, cmdline

    def __repr__(self):
        return f"{self.pid}[pgid {self.pgid} {self.state}] {self.cmdline}"


def proc_info(pid):
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode(errors="replace")
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return None
    rest = stat[stat.rindex(")") + 2:].split()
    return Proc(pid, int(rest[2]), rest[0], cmd)


def processes():
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            p = proc_info(int(d))
            if p is not None:
                out.append(p)
    return out


def live(p):
    return p is not None and p.state not in ("Z", "X")


def game_processes(pgid, out_dir, pids=()):
    """Live processes of a game: its process group, any process naming its folder
    (the server has --dir DIR), and any of `pids` still running a gameday command."""
    out_dir = str(out_dir)
    res = []
    procs = [p for p in processes() if live(p) and p.pid != os.getpid()]
    # play runs each server (and all it starts) in a process group of its own, so
    # that Ctrl-C reaches play alone: those groups are the game's too.
    groups = {pgid} | {p.pgid for p in procs if out_dir and out_dir in p.cmdline}
    for p in procs:
        if p.pgid in groups or (out_dir and out_dir in p.cmdline):
            res.append(p)
    known = {p.pid for p in res}
    for pid in pids:
        p = proc_info(pid)
        if pid not in known and live(p) and gameday_bin() in p.cmdline:
            res.append(p)
    return res


def listeners_in(prefix):
    """(ip, port) of listening TCP sockets whose IPv4 address starts with prefix
    (e.g. '127.1.')."""
    res = []
    try:
        with open("/proc/net/tcp") as f:
            next(f)
            for line in f:
                parts = line.split()
                local, st = parts[1], parts[3]
                if st != "0A":
                    continue
                iphex, porthex = local.split(":")
                ip = ".".join(str(b) for b in bytes.fromhex(iphex)[::-1])
                if ip.startswith(prefix):
                    res.append((ip, int(porthex, 16)))
    except OSError:
        pass
    return res


_used_ports = set()


def free_port(start=18080):
    """A port on 127.0.0.1 no earlier game of this session used and nobody listens on."""
    port = start
    while True:
        if port not in _used_ports:
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    port += 1
                    continue
            _used_ports.add(port)
            return port
        port += 1


# ---------------------------------------------------------------------------- a game


class Game:
    """One `gameday play` process and what it printed."""

    def __init__(self, scenario, out, *, port=None, speed=None, duration=None, extra=(),
                 net=1, command="play"):
        self.scenario = str(scenario)
        self.net = net  # team 1 lives on 127.<net>.0.0/16
        self.out = Path(out)
        self.port = port or free_port()
        self.api = f"http://127.0.0.1:{self.port}"
        self.args = [gameday_bin(), command, self.scenario]  # play, or host
        if speed is not None:
            self.args += ["--speed", str(speed)]
        if duration is not None:
            self.args += ["--duration", str(duration)]
        self.args += ["--headless", "--out", str(self.out), "--port", str(self.port), *extra]
        if net != 1:
            self.args += ["--net", str(net)]
        self.proc = None
        self.lines = []  # (monotonic time, line) of stdout
        self.err_lines = []
        self.started_at = None
        self.ended_at = None
        self.token = None
        self.endpoint = None
        self.info = None  # game.json
        self.seen_pids = set()
        self._threads = []
        self._lock = None

    # -- life

    def start(self):
        self._lock = net_lock(net=self.net)
        wait_for_quiet_network(net=self.net)
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen(self.args, cwd=ROOT, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     start_new_session=True)
        for stream, sink in ((self.proc.stdout, self.lines), (self.proc.stderr, self.err_lines)):
            t = threading.Thread(target=self._read, args=(stream, sink), daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def _read(self, stream, sink):
        for raw in iter(stream.readline, b""):
            sink.append((time.monotonic(), raw.decode(errors="replace").rstrip("\n")))
        stream.close()

    @property
    def pgid(self):
        return self.proc.pid

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def check_alive(self, what=""):
        if not self.running():
            self.join_output()
            raise AssertionError(f"gameday play exited (rc {self.proc.returncode}) while waiting "
                                 f"for {what}\n{self.diagnostics()}")

    def wait_until(self, pred, timeout, what, interval=0.02):
        """wait_until that fails at once, with the game's output, if play died."""
        try:
            return wait_until(pred, timeout, what, interval, alive=self.check_alive)
        except Timeout as e:
            raise Timeout(f"{e}\n{self.diagnostics()}") from None

    def join_output(self, timeout=10):
        for t in self._threads:
            t.join(timeout)

    def wait_exit(self, timeout):
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"gameday play did not exit within {timeout} s\n"
                                 f"{self.diagnostics()}") from None
        if self.ended_at is None:
            self.ended_at = time.monotonic()
        self.join_output()
        return rc

    def wait_ready(self, timeout=30):
        """Until play printed its header (token, endpoint) and game.json exists."""
        self.wait_until(lambda: self.line_value("endpoint: "), timeout, "the 'endpoint:' line")
        self.token = self.line_value("token: ")
        self.endpoint = self.line_value("endpoint: ")
        self.info = json.loads((self.out / "game.json").read_text())
        return self

    def stop(self, sig=signal.SIGINT, timeout=20):
        """Ends the game (SIGINT, as Ctrl-C), SIGKILLs the group as a last resort, and
        returns only when no process of the game is left. Returns the stragglers that
        had to be killed (empty when play cleaned up after itself)."""
        try:
            return self._stop(sig, timeout) if self.proc is not None else []
        finally:
            if self._lock is not None:
                self._lock.close()  # releases the flock
                self._lock = None

    def _stop(self, sig, timeout):
        if self.running():
            try:
                os.kill(self.proc.pid, signal.SIGCONT)
                os.kill(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.pgid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(10)
        if self.ended_at is None:
            self.ended_at = time.monotonic()
        self.join_output()
        stragglers = []
        try:
            wait_until(lambda: not game_processes(self.pgid, self.out, self.seen_pids), 5,
                       "the game's processes to exit")
        except Timeout:
            stragglers = game_processes(self.pgid, self.out, self.seen_pids)
            for p in stragglers:
                try:
                    os.kill(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            wait_until(lambda: not game_processes(self.pgid, self.out, self.seen_pids), 10,
                       "the game's processes to die after SIGKILL")
        return stragglers

    # -- output

    def stdout_lines(self):
        return [l for _, l in self.lines]

    def stderr_text(self):
        return "\n".join(l for _, l in self.err_lines)

    def line_value(self, prefix):
        for _, l in list(self.lines):
            if l.startswith(prefix):
                return l[len(prefix):].strip()
        return None

    def status_lines(self):
        return [l for l in self.stdout_lines() if STATUS_LINE.match(l)]

    def diagnostics(self, n=15):
        out = ["--- play stdout (tail):"] + self.stdout_lines()[-n:]
        out += ["--- play stderr (tail):"] + [l for _, l in self.err_lines][-n:]
        logs = self.out / "logs"
        if logs.is_dir():
            for log in sorted(logs.glob("*.log"), key=lambda p: p.name != "server.log"):
                text = log.read_text(errors="replace").splitlines()
                out += [f"--- {log.name} (tail):"] + text[-(n if log.name == "server.log" else 4):]
        return "\n".join(out)

    def sanitizer_reports(self):
        """Sanitizer error lines in play's stderr and in the game's logs."""
        found = []
        texts = [("play stderr", self.stderr_text())]
        logs = self.out / "logs"
        if logs.is_dir():
            texts += [(p.name, p.read_text(errors="replace")) for p in sorted(logs.glob("*.log"))]
        for name, text in texts:
            for line in text.splitlines():
                if any(m in line for m in SANITIZER_MARKS):
                    found.append(f"{name}: {line.strip()}")
        return found

    # -- the game's API and endpoint

    def url(self, path):
        return self.api + "/api/v1" + path

    def get(self, path, token=None, auth=True):
        return get_json(self.url(path), token=(token or self.token) if auth else None)

    def call(self, method, path, body=None, token=None):
        return http(method, self.url(path), body=body, token=token or self.token)

    def status(self):
        return get_json(self.url("/status"))

    def team(self):
        return self.status()["teams"][0]

    def instances(self):
        return self.get("/instances")

    def audit(self):
        return self.get("/audit?limit=0")

    def ctl(self, *args, token=None, check=True):
        cmd = [gameday_bin(), "ctl", "--api", self.api, "--token", token or self.token, *args]
        r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=30)
        if check:
            assert r.returncode == 0, f"{' '.join(args)}: rc {r.returncode}\n{r.stdout}\n{r.stderr}"
        return r

    def request(self, key, timeout=10):
        return http("GET", f"{self.endpoint.rstrip('/')}/?key={key}", timeout=timeout)

    @property
    def lb_ip(self):
        return hostport(self.endpoint)[0]

    def edge_stats(self):
        return get_json(f"http://{self.lb_ip}:9901/stats")

    def snapshot_pids(self):
        """Remembers the game's current processes; returns them."""
        ps = game_processes(self.pgid, self.out)
        self.seen_pids.update(p.pid for p in ps)
        return ps

    def wait_customers(self, timeout=30):
        """Until the server counted the customers' first correct answers."""
        return self.wait_until(lambda: (lambda t: t if t["ok"] > 0 else None)(self.team()),
                               timeout, "the customers' first correct answers")

    def result(self):
        return json.loads((self.out / "result.json").read_text())


_all_games = []

def lock_file(net=1):
    return f"/tmp/gameday-e2e-127.{net}.lock"


def net_lock(timeout=300, net=1):
    """An exclusive flock on lock_file(net), held while a game of ours uses
    127.<net>.0.0/16: two runs of this suite on one machine (several engineers) take
    turns instead of fighting over the addresses. Returns the open file; closing it
    releases."""
    path = lock_file(net)
    f = open(path, "a")
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return f
        except BlockingIOError:
            if time.monotonic() > deadline:
                f.close()
                raise Timeout(f"another run of the e2e tests held {path} for {timeout} s")
            time.sleep(0.1)


def wait_for_quiet_network(timeout=30, net=1):
    """Games share 127.<net>.0.0/16: wait until every earlier game of ours is gone and
    nothing listens there any more."""
    for g in _all_games:
        if g.proc is not None and not g.running():
            wait_until(lambda: not game_processes(g.pgid, g.out, g.seen_pids), timeout,
                       f"the processes of the earlier game in {g.out} to exit")
    wait_until(lambda: not listeners_in(f"127.{net}."), timeout,
               f"no listener left on 127.{net}.0.0/16 (another game is running: games must "
               "not overlap)")


def _finish(games):
    problems = []
    for g in games:
        left = g.stop()
        if left:
            problems.append(f"{g.out}: processes left after play exited (killed): {left}")
        problems += g.sanitizer_reports()
    if problems:
        pytest.fail("\n".join(problems))


@pytest.fixture
def play(tmp_path):
    """play(scenario, speed=..., duration=..., out=...) starts a game; every game is
    stopped, and all of its processes gone, when the test ends."""
    games = []

    def start(scenario, *, out=None, **kw):
        g = Game(scenario, out or tmp_path / f"game{len(games) + 1}", **kw)
        games.append(g)
        _all_games.append(g)
        return g.start()

    yield start
    _finish(games)


@pytest.fixture(scope="module")
def module_play(tmp_path_factory):
    """The same as play, for a game shared by the tests of a module."""
    games = []

    def start(scenario, *, out=None, **kw):
        g = Game(scenario, out or tmp_path_factory.mktemp("game"), **kw)
        games.append(g)
        _all_games.append(g)
        return g.start()

    yield start
    _finish(games)


def pg_folder(name):
    """A folder of /tmp of its own (0711), that the user postgres can enter."""
    top = tempfile.mkdtemp(prefix=f"gameday-e2e-{name}-", dir="/tmp")
    os.chmod(top, 0o711)
    return Path(top)


def shared_game(tmp_path_factory, scenario, name, *, port, speed, net, customers=True,
                postgres=False, command="play", extra=()):
    """For a module's `game` fixture (`yield from shared_game(...)`): one game of the
    scenario on its own network, ready (and with customers answered), stopped with all
    its processes when the module is done. With postgres (the scenario has a db): as
    root, postgres runs as the user postgres, which must be able to enter the game's
    folder, and pytest's own (/tmp/pytest-of-root, 0700) is not: the game then lives in
    a folder of /tmp of its own (0711), removed afterwards."""
    top = None
    if postgres:
        top = pg_folder(name)
        where = top / "game"
    else:
        where = tmp_path_factory.mktemp(name) / "game"
    g = Game(scenario, where, port=free_port(port), speed=speed, net=net, command=command,
             extra=extra)
    try:
        g.start()
        g.wait_ready()
        if customers:
            g.wait_customers()
        yield g
    finally:
        try:
            _finish([g])
        finally:
            if top and not os.environ.get("GAMEDAY_KEEP"):
                shutil.rmtree(top, ignore_errors=True)


@pytest.fixture
def pg_tmp():
    """tmp_path for a game with a db: a folder of /tmp of its own (0711), that the user
    postgres can enter when the tests run as root (pytest's own, /tmp/pytest-of-root, is
    0700); removed afterwards unless GAMEDAY_KEEP is set."""
    top = pg_folder("pg")
    yield top
    if not os.environ.get("GAMEDAY_KEEP"):
        shutil.rmtree(top, ignore_errors=True)


def customer_counts(g):
    """The customers' ok, errors, timeouts and wrong answers so far (team 1)."""
    t = g.team()
    return {k: t[k] for k in ("ok", "errors", "timeouts", "wrong")}


def elb_5xx(g, t0, t1, lb="web-alb"):
    """The 5XX the load balancer answered itself between game times t0 and t1."""
    m = g.get(f"/metrics?resource={lb}&metric=HTTPCode_ELB_5XX_Count&statistic=Sum"
              f"&period=10&start={t0:.0f}&end={t1:.0f}")
    return sum(d["Sum"] for d in m["Datapoints"])


def scenario_path(name):
    return SCENARIOS / name


# ---------------------------------------------------------------------------- browser

BROWSER_DIR = ROOT / "tests" / "browser"


def browser_run(script, timeout=180, **args):
    """Runs tests/browser/SCRIPT.mjs (playwright-core driving Debian's chromium headless)
    with --name value arguments; fails the test with the script's output unless every
    check of the script held. Returns its stdout."""
    cmd = ["node", str(BROWSER_DIR / f"{script}.mjs")]
    for k, v in args.items():
        cmd += [f"--{k}", str(v)]
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        pytest.fail(f"browser script {script} failed (exit {r.returncode}):\n"
                    f"{r.stdout[-4000:]}\n{r.stderr[-6000:]}")
    return r.stdout
