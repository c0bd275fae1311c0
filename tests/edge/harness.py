"""Edge behaviour tests as data: a harness that runs one case file.

A case (tests/edge/cases/*.json, format in tests/edge/README.md) names an edge config,
scripted origins and the steps of a client. The harness

  1. gives the case its own /24 on loopback (127.<net>.<k>.0, k from the sorted list of
     case names) so that no two cases ever share an address,
  2. starts the scripted origins (one thread per listener and per connection, blocking
     sockets with short timeouts so everything stops promptly),
  3. starts the real `gameday edge --config FILE --admin IP:PORT` with a fast game clock
     (GAMEDAY_SPEED, GAMEDAY_EPOCH_NS) and an admin token,
  4. runs the steps (requests, admin calls, waits on /stats, origin kills...),
  5. checks what the origins saw, that the edge is still alive and printed no sanitizer
     report, and stops everything, also when a step failed.

Nothing sleeps to synchronise: waits poll an observable state (/stats, the origins'
request logs, a held request having arrived). The one deliberate passing of time is the
"advance" step, for behaviours that are about time (cache TTLs): it waits until the game
clock has moved on by the given game seconds.

Standard library only.
"""

import json
import os
import re
import select
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
CASES_DIR = HERE / "cases"
NET = int(os.environ.get("GAMEDAY_EDGE_NET", "253"))  # second octet of every address
TOKEN = "edge-test-token"
HEALTH_UA = "gameday-health-check"
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")
IO_TIMEOUT = float(os.environ.get("GAMEDAY_EDGE_IO_TIMEOUT", "5"))  # wall s per socket op
DEFAULT_SPEED = 60


class CaseError(AssertionError):
    """A case's expectation did not hold (the message says which step and why)."""


def gameday_bin():
    b = os.environ.get("GAMEDAY_BIN", "build/gameday")
    p = Path(b)
    if not p.is_absolute():
        p = ROOT / p
    return str(p)


# ------------------------------------------------------------------------- case files


def load_cases():
    """Every case of tests/edge/cases: a file holds one case object, a list of cases,
    or {"cases": [...]}. Returns them sorted by name, each with "_file" and "_index"."""
    cases = []
    for f in sorted(CASES_DIR.glob("*.json")):
        try:
            doc = json.loads(f.read_text())
        except ValueError as e:
            raise ValueError(f"{f}: not JSON: {e}") from None
        items = doc.get("cases") if isinstance(doc, dict) and "cases" in doc else doc
        if isinstance(items, dict):
            items = [items]
        for c in items:
            for k in ("name", "description", "steps"):
                if k not in c:
                    raise ValueError(f"{f}: a case lacks '{k}'")
            c["_file"] = f.name
            cases.append(c)
    cases.sort(key=lambda c: c["name"])
    names = [c["name"] for c in cases]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise ValueError(f"case names used twice: {sorted(dup)}")
    if len(cases) > 250:
        raise ValueError("more than 250 cases: widen the address plan in harness.py")
    for i, c in enumerate(cases):
        c["_index"] = i + 1
    return cases


# ------------------------------------------------------------------------- helpers

_VAR = re.compile(r"\$\{([A-Za-z0-9_.\-]+)\}")


def subst(obj, env):
    """Replaces ${name} in every string of obj (recursively) by env[name]."""
    if isinstance(obj, str):
        def rep(m):
            k = m.group(1)
            if k not in env:
                raise CaseError(f"unknown placeholder ${{{k}}} (known: {sorted(env)})")
            return str(env[k])

        return _VAR.sub(rep, obj)
    if isinstance(obj, list):
        return [subst(x, env) for x in obj]
    if isinstance(obj, dict):
        return {subst(k, env): subst(v, env) for k, v in obj.items()}
    return obj


def header_pairs(h):
    """Headers given as {name: value} or [[name, value], ...] -> list of pairs."""
    if h is None:
        return []
    if isinstance(h, dict):
        return [(k, str(v)) for k, v in h.items()]
    return [(k, str(v)) for k, v in h]


def header_values(pairs, name):
    n = name.lower()
    return [v for k, v in pairs if k.lower() == n]


def joined(pairs, name):
    vs = header_values(pairs, name)
    return ", ".join(vs) if vs else None


def subset(expected, actual, path="$"):
    """None when `expected` is contained in `actual`, else a message. Objects match on
    the keys given; a list matches when each expected item matches some actual item."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return f"{path}: expected an object, got {actual!r}"
        for k, v in expected.items():
            if k not in actual:
                return f"{path}.{k}: missing (have {sorted(actual)})"
            m = subset(v, actual[k], f"{path}.{k}")
            if m:
                return m
        return None
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return f"{path}: expected a list, got {actual!r}"
        for i, e in enumerate(expected):
            if all(subset(e, a) for a in actual):
                return f"{path}[{i}]: no item matches {e!r} in {actual!r}"
        return None
    if expected != actual:
        return f"{path}: expected {expected!r}, got {actual!r}"
    return None


def check_headers(spec, pairs, what):
    """The header expectations shared by client responses and origin requests."""
    errs = []
    for k, v in (spec.get("headers") or {}).items():
        got = joined(pairs, k)
        if got != v:
            errs.append(f"{what} header {k}: expected {v!r}, got {got!r}")
    for k, rx in (spec.get("headers_regex") or {}).items():
        got = joined(pairs, k)
        if got is None or not re.search(rx, got):
            errs.append(f"{what} header {k}: expected to match /{rx}/, got {got!r}")
    for k in spec.get("headers_absent") or []:
        got = header_values(pairs, k)
        if got:
            errs.append(f"{what} header {k}: expected absent, got {got!r}")
    for k, (lo, hi) in (spec.get("headers_range") or {}).items():
        got = joined(pairs, k)
        try:
            v = float(got)
        except (TypeError, ValueError):
            errs.append(f"{what} header {k}: expected a number in {lo}..{hi}, got {got!r}")
            continue
        if not lo <= v <= hi:
            errs.append(f"{what} header {k}: expected a number in {lo}..{hi}, got {got!r}")
    for k, n in (spec.get("header_count") or {}).items():
        got = len(header_values(pairs, k))
        if got != n:
            errs.append(f"{what} header {k}: expected {n} field line(s), got {got}: "
                        f"{header_values(pairs, k)!r}")
    return errs


def check_body(spec, body, what):
    errs = []
    text = body.decode("latin-1")
    if "body" in spec and text != spec["body"]:
        errs.append(f"{what} body: expected {spec['body']!r}, got {text[:300]!r}")
    if "body_regex" in spec and not re.search(spec["body_regex"], text, re.S):
        errs.append(f"{what} body: expected to match /{spec['body_regex']}/, got {text[:300]!r}")
    if "body_contains" in spec and spec["body_contains"] not in text:
        errs.append(f"{what} body: expected to contain {spec['body_contains']!r}, "
                    f"got {text[:300]!r}")
    if "body_size" in spec and len(body) != spec["body_size"]:
        errs.append(f"{what} body: expected {spec['body_size']} bytes, got {len(body)}")
    if "json" in spec:
        try:
            doc = json.loads(text)
        except ValueError:
            errs.append(f"{what} body: expected JSON, got {text[:300]!r}")
        else:
            m = subset(spec["json"], doc)
            if m:
                errs.append(f"{what} JSON {m}")
    return errs


def poll(pred, timeout, what, interval=0.02):
    """Polls pred() until truthy (returned); exceptions count as "not yet"."""
    deadline = time.monotonic() + timeout
    last = err = None
    while True:
        try:
            last = pred()
            if last:
                return last
            err = None
        except (OSError, ValueError, KeyError, IndexError, TypeError) as e:
            err = e
        if time.monotonic() >= deadline:
            msg = f"timed out after {timeout:g} s waiting for {what}"
            msg += f"; last error: {err!r}" if err is not None else f"; last value: {last!r}"
            raise CaseError(msg)
        time.sleep(interval)


# ------------------------------------------------------------------------- HTTP wire


class Reader:
    """A socket with a read buffer: enough HTTP/1.1 framing for both sides."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.eof = False
        self.first_at = None  # monotonic time of the first byte since mark()

    def mark(self):
        self.first_at = None

    def _more(self):
        d = self.sock.recv(65536)
        if not d:
            self.eof = True
            return False
        if self.first_at is None:
            self.first_at = time.monotonic()
        self.buf += d
        return True

    def until(self, sep, limit=1 << 20):
        while sep not in self.buf:
            if len(self.buf) > limit or not self._more():
                return None
        i = self.buf.index(sep) + len(sep)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def exact(self, n):
        while len(self.buf) < n:
            if not self._more():
                return None
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def rest(self):
        while self._more():
            pass
        out, self.buf = self.buf, b""
        return out

    def chunked(self):
        body = b""
        while True:
            line = self.until(b"\r\n")
            if line is None:
                return None
            size = int(line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while True:  # trailers
                    t = self.until(b"\r\n")
                    if t is None or t == b"\r\n":
                        return body
            data = self.exact(size + 2)
            if data is None:
                return None
            body += data[:-2]


def parse_head(raw):
    lines = raw.decode("latin-1").split("\r\n")
    first = lines[0]
    pairs = []
    for ln in lines[1:]:
        if not ln:
            continue
        if ln[0] in " \t" and pairs:  # obs-fold, kept visible as one value
            pairs[-1] = (pairs[-1][0], pairs[-1][1] + " " + ln.strip())
            continue
        k, _, v = ln.partition(":")
        pairs.append((k.strip(), v.strip()))
    return first, pairs


class Response:
    def __init__(self, status, reason, headers, body, raw_head):
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
        self.raw_head = raw_head
        self.closed = None  # filled when the expectation asks

    def header(self, name):
        return joined(self.headers, name)

    def __repr__(self):
        return (f"<{self.status} {self.reason} headers={self.headers!r} "
                f"body={self.body[:200]!r}>")


def read_response(rd, method="GET"):
    """Reads one response; None when the peer closed before a whole head."""
    head = rd.until(b"\r\n\r\n", limit=256 * 1024)
    if head is None:
        return None
    first, pairs = parse_head(head[:-4])
    m = re.match(r"HTTP/1\.[01] (\d{3}) ?(.*)$", first)
    if not m:
        raise CaseError(f"not an HTTP response: {first!r}")
    status = int(m.group(1))
    te = (joined(pairs, "transfer-encoding") or "").lower()
    cl = joined(pairs, "content-length")
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        body = b""
    elif "chunked" in te:
        body = rd.chunked()
    elif cl is not None:
        try:
            n = int(cl)
        except ValueError:
            raise CaseError(f"bad Content-Length {cl!r} in {first!r}") from None
        body = rd.exact(n)
        if body is None:
            raise CaseError(f"response cut short: {first!r} promised {n} body bytes")
    else:
        body = rd.rest()
    if body is None:
        raise CaseError(f"response cut short: {first!r}")
    return Response(status, m.group(2), pairs, body, head)


def build_request(spec, default_host):
    """A request step -> raw bytes (and its method, for framing the answer)."""
    if "raw" in spec:
        return spec["raw"].encode("latin-1"), spec.get("method", "GET")
    method = spec.get("method", "GET")
    target = spec.get("path", "/")
    if spec.get("query") is not None:
        target += "?" + spec["query"]
    pairs = header_pairs(spec.get("headers"))
    names = {k.lower() for k, _ in pairs}
    if "host" not in names and spec.get("host", True) is not None:
        pairs.insert(0, ("Host", spec.get("host") if isinstance(spec.get("host"), str)
                         else default_host))
    body = spec.get("body")
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
    data = body.encode() if body is not None else b""
    if spec.get("chunked"):
        pairs.append(("Transfer-Encoding", "chunked"))
        data = (b"%x\r\n" % len(data) + data + b"\r\n" if data else b"") + b"0\r\n\r\n"
    elif body is not None and "content-length" not in names:
        pairs.append(("Content-Length", str(len(data))))
    head = f"{method} {target} {spec.get('version', 'HTTP/1.1')}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in pairs) + "\r\n"
    return head.encode("latin-1") + data, method


# ------------------------------------------------------------------------- origins


class Origin:
    """A scripted HTTP/1.1 origin on ip:port.

    Health checks (User-Agent: gameday-health-check) get `health` and are only counted.
    Other requests are logged, then answered by the first matching route, else by the
    next script entry (whose "expect" is checked), else by `default`, else they are an
    error of the case (answered 500)."""

    def __init__(self, name, ip, port, spec, case):
        self.name, self.ip, self.port, self.case = name, ip, port, case
        self.lock = threading.Lock()
        self.requests = []  # dicts: conn, method, path, query, headers, body
        self.conns = set()  # ids of connections that carried traffic (not health checks)
        self.all_conns = 0
        self.health_checks = 0
        self.errors = []
        self.holds = {}  # name -> threading.Event (released)
        self.held = {}  # name -> count of requests waiting on it
        self.health_paths = set()
        self.close_waits = []  # ms the edge took to close after a "close": "await" answer
        self.stop_ev = threading.Event()
        self.listener = None
        self.threads = []
        self.socks = set()
        self.configure(spec, initial=True)

    def configure(self, spec, initial=False):
        with self.lock:
            if initial or "health" in spec:
                self.health = spec.get("health", 200)
            if initial or "script" in spec:
                self.script = list(spec.get("script", []))
                self.script_pos = 0
            if initial or "default" in spec:
                self.default = spec.get("default", None if spec.get("script") else {})
            if initial or "routes" in spec:
                self.routes = list(spec.get("routes", []))

    # -- lifecycle

    def start(self):
        if self.listener is not None:
            return
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((self.ip, self.port))
        s.listen(128)
        s.settimeout(0.2)
        self.listener = s
        t = threading.Thread(target=self._accept, args=(s,), daemon=True,
                             name=f"origin-{self.name}")
        t.start()
        self.threads.append(t)

    def kill(self):
        """Stops listening (new connections are refused) and drops open connections."""
        s, self.listener = self.listener, None
        if s is not None:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        with self.lock:
            socks = list(self.socks)
        for c in socks:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def stop(self):
        self.stop_ev.set()
        for ev in list(self.holds.values()):
            ev.set()
        self.kill()
        for t in self.threads:
            t.join(timeout=2)

    def _accept(self, ls):
        while not self.stop_ev.is_set() and self.listener is ls:
            try:
                c, _ = ls.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.all_conns += 1
                cid = self.all_conns
                self.socks.add(c)
            t = threading.Thread(target=self._serve, args=(c, cid), daemon=True)
            t.start()
            self.threads.append(t)

    # -- one connection

    def _serve(self, c, cid):
        c.settimeout(0.2)
        rd = Reader(c)
        try:
            while not self.stop_ev.is_set():
                try:
                    head = rd.until(b"\r\n\r\n", limit=1 << 20)
                except socket.timeout:
                    continue
                if head is None:
                    return
                req = self._read_request(rd, head, cid)
                if req is None:
                    return
                if not self._answer(c, req):
                    return
        except OSError:
            return
        finally:
            with self.lock:
                self.socks.discard(c)
            try:
                c.close()
            except OSError:
                pass

    def _read_request(self, rd, head, cid):
        first, pairs = parse_head(head[:-4])
        parts = first.split(" ")
        if len(parts) != 3:
            self.error(f"malformed request line {first!r}")
            return None
        method, target, version = parts
        path, _, query = target.partition("?")
        te = (joined(pairs, "transfer-encoding") or "").lower()
        cl = joined(pairs, "content-length")
        rd.sock.settimeout(IO_TIMEOUT)
        try:
            if "chunked" in te:
                body = rd.chunked()
            elif cl:
                body = rd.exact(int(cl))
            else:
                body = b""
        finally:
            rd.sock.settimeout(0.2)
        if body is None:
            self.error(f"request body cut short: {first!r}")
            return None
        return {"conn": cid, "method": method, "target": target, "path": path,
                "query": query if "?" in target else None, "version": version,
                "headers": pairs, "body": body,
                "health": joined(pairs, "user-agent") == HEALTH_UA}

    def error(self, msg):
        with self.lock:
            self.errors.append(f"origin {self.name}: {msg}")

    def _choose(self, req):
        with self.lock:
            if req["health"]:
                self.health_checks += 1
                self.health_paths.add(req["target"])
                h = self.health
                return {"status": h} if isinstance(h, int) else (
                    {"close": "before"} if h == "close" else h)
            self.requests.append(req)
            self.conns.add(req["conn"])
            for r in self.routes:
                if not match_errors(r.get("match", {}), req):
                    return r.get("respond", {})
            if self.script_pos < len(self.script):
                entry = self.script[self.script_pos]
                self.script_pos += 1
                errs = match_errors(entry.get("expect", {}), req)
                for e in errs:
                    self.errors.append(f"origin {self.name}: request #{len(self.requests)} "
                                       f"(script entry {self.script_pos}): {e}")
                return entry.get("respond", {})
            if self.default is not None:
                return self.default
            self.errors.append(f"origin {self.name}: unexpected request #{len(self.requests)}: "
                               f"{req['method']} {req['target']}")
            return {"status": 500, "body": "harness: unexpected request"}

    def _answer(self, c, req):
        """Sends the scripted answer; False when the connection is to be closed."""
        r = self._choose(req)
        if r.get("hold"):
            name = r["hold"]
            with self.lock:
                ev = self.holds.setdefault(name, threading.Event())
                self.held[name] = self.held.get(name, 0) + 1
            while not ev.wait(0.05):
                if self.stop_ev.is_set():
                    return False
        if r.get("delay_ms"):
            if self.stop_ev.wait(r["delay_ms"] / 1000.0):
                return False
        if r.get("delay_game_s"):
            if self.stop_ev.wait(r["delay_game_s"] / self.case.speed):
                return False
        if r.get("hang"):
            while not self.stop_ev.wait(0.05):
                try:  # until the edge gives up on the connection
                    r_, _, _ = select.select([c], [], [], 0)
                    if r_ and not c.recv(1, socket.MSG_PEEK):
                        return False
                except OSError:
                    return False
            return False
        if r.get("reset"):
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return False
        if r.get("close") == "before":
            c.shutdown(socket.SHUT_RDWR)
            return False
        if "partial" in r:
            c.sendall(r["partial"].encode("latin-1"))
            c.shutdown(socket.SHUT_RDWR)
            return False
        if "raw" in r:
            c.sendall(r["raw"].encode("latin-1"))
            if r.get("close") == "after":
                c.shutdown(socket.SHUT_RDWR)
                return False
            return True
        status = r.get("status", 200)
        body = r.get("body")
        if body is None and "body_size" in r:
            body = "x" * r["body_size"]
        if body is None:
            body = "" if req["health"] else f"{self.name} {req['method']} {req['target']}"
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        data = body.encode("latin-1")
        pairs = header_pairs(r.get("headers"))
        names = {k.lower() for k, _ in pairs}
        if not r.get("no_origin_header"):
            pairs.append(("X-Origin", self.name))
        close = r.get("close") in ("after", "await") or (
            joined(req["headers"], "connection") or "").lower() == "close" or r.get("no_length")
        if r.get("chunked"):
            pairs.append(("Transfer-Encoding", "chunked"))
            payload = b""
            for i in range(0, len(data), 7):
                piece = data[i:i + 7]
                payload += b"%x\r\n" % len(piece) + piece + b"\r\n"
            payload += b"0\r\n\r\n"
        else:
            if not r.get("no_length") and "content-length" not in names and status not in (
                    204, 304):
                pairs.append(("Content-Length", str(len(data))))
            payload = data
        if req["method"] == "HEAD" or status in (204, 304):
            payload = b""
        if close and "connection" not in names:
            pairs.append(("Connection", "close"))
        reason = r.get("reason", REASONS.get(status, "Whatever"))
        head = f"HTTP/1.1 {status} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in pairs)
        c.sendall(head.encode("latin-1") + b"\r\n" + payload)
        if r.get("close") == "await":  # the edge is to close: how long does it take?
            t0 = time.monotonic()
            while not self.stop_ev.is_set() and time.monotonic() - t0 < 2 * IO_TIMEOUT:
                try:
                    if not c.recv(1):
                        break
                except socket.timeout:
                    continue
                except OSError:
                    break
            with self.lock:
                self.close_waits.append((time.monotonic() - t0) * 1000)
            return False
        if close:
            c.shutdown(socket.SHUT_WR)
            return False
        return True

    # -- for steps

    def release(self, name):
        with self.lock:
            self.holds.setdefault(name, threading.Event()).set()

    def traffic(self):
        with self.lock:
            return list(self.requests)


REASONS = {200: "OK", 201: "Created", 204: "No Content", 206: "Partial Content",
           301: "Moved Permanently", 302: "Found", 304: "Not Modified", 400: "Bad Request",
           403: "Forbidden", 404: "Not Found", 500: "Internal Server Error",
           502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}


def match_errors(spec, req):
    """What in an origin request differs from an "expect"/"match" spec."""
    errs = []
    what = f"{req['method']} {req['target']}"
    if "method" in spec and req["method"] != spec["method"]:
        errs.append(f"{what}: method expected {spec['method']}")
    if "path" in spec and req["path"] != spec["path"]:
        errs.append(f"{what}: path expected {spec['path']!r}")
    if "path_regex" in spec and not re.search(spec["path_regex"], req["path"]):
        errs.append(f"{what}: path expected to match /{spec['path_regex']}/")
    if "query" in spec and req["query"] != spec["query"]:
        errs.append(f"{what}: query expected {spec['query']!r}, got {req['query']!r}")
    if "target" in spec and req["target"] != spec["target"]:
        errs.append(f"{what}: request target expected {spec['target']!r}")
    if "version" in spec and req["version"] != spec["version"]:
        errs.append(f"{what}: version expected {spec['version']}, got {req['version']}")
    errs += check_headers(spec, req["headers"], what + ":")
    errs += check_body(spec, req["body"], what + ":")
    return errs


# ------------------------------------------------------------------------- client side


class Conn:
    def __init__(self, case, addr):
        self.case = case
        self.sock = socket.create_connection(addr, timeout=IO_TIMEOUT,
                                             source_address=(case.client_ip, 0))
        self.sock.settimeout(IO_TIMEOUT)
        self.rd = Reader(self.sock)
        self.was_reset = False  # the last read ended in a TCP RST
        self.sent_at = None  # monotonic time the last request went out
        self.elapsed_ms = None  # from sent_at to the whole answer (or the close)
        self.first_byte_ms = None  # from sent_at to the answer's first byte

    def send(self, data):
        self.rd.mark()
        self.sent_at = time.monotonic()
        self.sock.sendall(data)

    def response(self, method="GET"):
        try:
            r = read_response(self.rd, method)
        except socket.timeout:
            raise CaseError(f"no answer within {IO_TIMEOUT:g} s") from None
        except ConnectionResetError:
            self.was_reset = True
            r = None
        finally:
            if self.sent_at is not None:
                now = time.monotonic()
                self.elapsed_ms = (now - self.sent_at) * 1000
                if self.rd.first_at is not None:
                    self.first_byte_ms = (self.rd.first_at - self.sent_at) * 1000
        return r

    def silent_for(self, ms):
        """True when nothing arrives and the peer does not close for ms."""
        if self.rd.buf:
            return False
        self.sock.settimeout(ms / 1000)
        try:
            d = self.sock.recv(1)
            self.rd.buf += d
            return False  # bytes, or the close (b"")
        except socket.timeout:
            return True
        except OSError:
            return False
        finally:
            self.sock.settimeout(IO_TIMEOUT)

    def close_within_ms(self, ms):
        """Milliseconds until the peer closes (EOF or reset) with nothing more to read;
        None when it is still open after ms, or sent more bytes."""
        if self.rd.buf:
            return None
        t0 = time.monotonic()
        self.sock.settimeout(ms / 1000)
        try:
            d = self.sock.recv(1)
            if d:
                self.rd.buf += d
                return None
        except socket.timeout:
            return None
        except OSError:
            pass
        finally:
            self.sock.settimeout(IO_TIMEOUT)
        return (time.monotonic() - t0) * 1000

    def closed_within(self, timeout):
        """True when the peer closed (EOF or reset) within timeout with nothing more
        to read; False when the connection stays open."""
        if self.rd.buf:
            return False
        self.sock.settimeout(timeout)
        try:
            d = self.sock.recv(1)
            if d:
                self.rd.buf += d
                return False
            return True
        except socket.timeout:
            return False
        except OSError:
            return True
        finally:
            self.sock.settimeout(IO_TIMEOUT)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def check_response(spec, resp, conn, what):
    """Checks one response against an "expect" spec; returns error strings."""
    errs = timing_errors(spec, conn, what)
    if resp is None:
        if "reset" in spec and conn is not None and conn.was_reset != spec["reset"]:
            errs.append(f"{what}: the connection closed {'with' if conn.was_reset else 'without'}"
                        f" a TCP reset, expected {'a' if spec['reset'] else 'no'} reset")
        if spec.get("no_response"):
            return errs
        return errs + [f"{what}: the connection closed without an answer"]
    if spec.get("no_response"):
        return errs + [f"{what}: expected no answer, got {resp!r}"]
    st = spec.get("status")
    if st is not None:
        ok = resp.status in st if isinstance(st, list) else resp.status == st
        if not ok:
            errs.append(f"{what}: status expected {st}, got {resp.status} "
                        f"(headers {resp.headers!r}, body {resp.body[:300]!r})")
    errs += check_headers(spec, resp.headers, what + ":")
    errs += check_body(spec, resp.body, what + ":")
    if "closed" in spec and conn is not None:
        closed = conn.closed_within(2.0 if spec["closed"] else 0.15)
        if closed != spec["closed"]:
            errs.append(f"{what}: connection expected {'closed' if spec['closed'] else 'open'}"
                        f" after the answer, was {'closed' if closed else 'open'}")
    if "close_ms" in spec and conn is not None:
        lo, hi = spec["close_ms"]
        ms = conn.close_within_ms(hi + 1000)
        if ms is None or not lo <= ms <= hi:
            errs.append(f"{what}: the edge was expected to close the connection {lo}..{hi} ms "
                        f"after the answer, " + ("it did not within "
                                                 f"{hi + 1000} ms" if ms is None else
                                                 f"it did after {ms:.0f} ms"))
    return errs


def timing_errors(spec, conn, what):
    """"elapsed_ms": [lo, hi] (request sent -> whole answer, or the close) and
    "first_byte_ms": [lo, hi] (request sent -> the answer's first byte)."""
    errs = []
    for key, attr in (("elapsed_ms", "elapsed_ms"), ("first_byte_ms", "first_byte_ms")):
        if key not in spec:
            continue
        lo, hi = spec[key]
        got = getattr(conn, attr, None) if conn is not None else None
        if got is None:
            errs.append(f"{what}: {key} expected {lo}..{hi}, but it was not measured")
        elif not lo <= got <= hi:
            errs.append(f"{what}: {key} expected {lo}..{hi}, got {got:.0f}")
    return errs


# ------------------------------------------------------------------------- a case run


class Run:
    """One case being run: addresses, origins, the edge process, variables."""

    def __init__(self, case, workdir):
        self.case = case
        self.dir = Path(workdir)
        k = case["_index"]
        self.base = f"127.{NET}.{k}"
        self.speed = float(case.get("speed", DEFAULT_SPEED))
        self.listen = (f"{self.base}.1", 8080)
        self.admin = (f"{self.base}.2", 9000)
        self.client_ip = f"{self.base}.3"
        self.env = {
            "listen": f"{self.listen[0]}:{self.listen[1]}", "listen.ip": self.listen[0],
            "listen.port": self.listen[1], "admin": f"{self.admin[0]}:{self.admin[1]}",
            "client_ip": self.client_ip, "token": TOKEN,
        }
        self.origins = {}
        for i, (name, spec) in enumerate((case.get("origins") or {}).items()):
            ip = f"{self.base}.{10 + i}"
            port = int(spec.get("port", 8000))
            self.env[name] = f"{ip}:{port}"
            self.env[name + ".ip"] = ip
            self.env[name + ".port"] = port
        self.conns = {}
        self.asyncs = {}
        self.loads = {}
        self.edge = None
        self.epoch_ns = None
        self.log = []

    # -- game time

    def game_now(self):
        return (time.monotonic_ns() - self.epoch_ns) / 1e9 * self.speed

    # -- lifecycle

    def start(self):
        self.epoch_ns = time.monotonic_ns()
        for i, (name, spec) in enumerate((self.case.get("origins") or {}).items()):
            spec = subst(spec, self.env)
            o = Origin(name, self.env[name + ".ip"], self.env[name + ".port"], spec, self)
            self.origins[name] = o
            if not spec.get("refuse"):
                o.start()
        cfg = self.case.get("config")
        args = [gameday_bin(), "edge", "--admin", self.env["admin"]]
        if cfg is not None:
            path = self.dir / "edge.json"
            path.write_text(json.dumps(subst(cfg, self.env), indent=1))
            args += ["--config", str(path)]
        env = dict(os.environ)
        env.update({"GAMEDAY_SPEED": str(self.speed), "GAMEDAY_EPOCH_NS": str(self.epoch_ns),
                    "GAMEDAY_ADMIN_TOKEN": TOKEN})
        env.update({k: str(v) for k, v in (self.case.get("env") or {}).items()})
        self.stderr_path = self.dir / "edge.stderr"
        self.files = [open(self.dir / "edge.stdout", "wb"), open(self.stderr_path, "wb")]
        self.edge = subprocess.Popen(args, cwd=str(ROOT), env=env, stdin=subprocess.DEVNULL,
                                     stdout=self.files[0], stderr=self.files[1])
        fail = self.case.get("expect_start_failure")
        if fail:
            try:
                rc = self.edge.wait(timeout=10)
            except subprocess.TimeoutExpired:
                raise CaseError("the edge was expected to refuse its config and exit, "
                                "but it kept running") from None
            errs = []
            if "exit_code" in fail and rc != fail["exit_code"]:
                errs.append(f"edge exit code: expected {fail['exit_code']}, got {rc}")
            text = self.stderr()
            if "stderr_regex" in fail and not re.search(fail["stderr_regex"], text):
                errs.append(f"edge stderr: expected to match /{fail['stderr_regex']}/, "
                            f"got {text[-800:]!r}")
            if errs:
                raise CaseError("; ".join(errs))
            return False

        def ready():
            self.alive("startup")
            r = self.admin_call({"method": "GET", "path": "/health"})
            return r is not None and r.status == 200

        poll(ready, 15, "the edge's admin /health")
        return True

    def stderr(self):
        try:
            return self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""

    def alive(self, what):
        if self.edge is not None and self.edge.poll() is not None:
            raise CaseError(f"the edge exited (code {self.edge.returncode}) during {what}; "
                            f"stderr tail:\n{self.stderr()[-3000:]}")

    def stop(self):
        """Stops everything; returns problems found on the way (sanitizer reports...)."""
        problems = []
        if self.edge is not None and self.edge.poll() is not None and not self.case.get(
                "expect_start_failure"):
            rc = self.edge.returncode
            how = f"signal {-rc} ({signal.Signals(-rc).name})" if rc < 0 else f"exit code {rc}"
            problems.append(f"the edge died during the case: {how}")
        for ld in self.loads.values():
            ld["stop"].set()
        for ld in self.loads.values():
            ld["thread"].join(timeout=5)
        for c in self.conns.values():
            c.close()
        if self.edge is not None and self.edge.poll() is None:
            self.edge.send_signal(signal.SIGTERM)
            try:
                self.edge.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.edge.kill()
                self.edge.wait()
                problems.append("the edge ignored SIGTERM for 10 s (killed)")
        for f in getattr(self, "files", []):
            f.close()
        for o in self.origins.values():
            o.stop()
        for t in self.asyncs.values():
            for th in t["parallel"][0] if "parallel" in t else [t["thread"]]:
                th.join(timeout=5)
        text = self.stderr()
        for m in SANITIZER_MARKS:
            if m in text:
                i = text.index(m)
                problems.append(f"sanitizer report in the edge's stderr:\n{text[max(0, i - 200):i + 4000]}")
                break
        return problems

    # -- talking to the edge

    def connect(self, to="front"):
        addr = self.listen if to == "front" else self.admin
        return Conn(self, addr)

    def exchange(self, spec, conn_name=None, to="front"):
        """Sends one request; returns (response, connection)."""
        data, method = build_request(spec, self.env["listen"] if to == "front"
                                     else self.env["admin"])
        if conn_name:
            c = self.conns.get(conn_name)
            if c is None:
                c = self.conns[conn_name] = self.connect(to)
        else:
            c = self.connect(to)
        try:
            c.send(data)
        except OSError as e:
            if conn_name:
                self.conns.pop(conn_name, None)
            raise CaseError(f"sending {method} {spec.get('path', '/')} failed: {e!r}") from None
        resp = c.response(method)
        return resp, c

    def admin_call(self, spec):
        s = dict(spec)
        hdrs = header_pairs(s.get("headers"))
        tok = s.pop("token", TOKEN)
        if tok:
            hdrs.append(("Authorization", "Bearer " + tok))
        if "json" in s:
            s["body"] = json.dumps(s.pop("json"))
            hdrs.append(("Content-Type", "application/json"))
        s["headers"] = hdrs
        s.setdefault("method", "GET")
        resp, c = self.exchange(s, to="admin")
        c.close()
        return resp

    def stats(self):
        r = self.admin_call({"method": "GET", "path": "/stats"})
        if r is None or r.status != 200:
            raise ValueError(f"/stats answered {r!r}")
        return json.loads(r.body)


# ------------------------------------------------------------------------- steps


def run_case(case, workdir):
    run = Run(case, workdir)
    failure = None
    try:
        if run.start():
            for i, step in enumerate(case["steps"]):
                try:
                    do_step(run, step)
                except CaseError as e:
                    raise CaseError(f"step {i + 1} {json.dumps(step)[:300]}:\n  {e}") from None
                run.alive(f"step {i + 1}")
            end_checks(run)
    except CaseError as e:
        failure = str(e)
    finally:
        problems = run.stop()
    origin_errs = [e for o in run.origins.values() for e in o.errors]
    msgs = []
    if failure:
        msgs.append(failure)
    if origin_errs:
        msgs.append("what the origins saw differs from the script:\n  " + "\n  ".join(origin_errs))
    msgs += problems
    if msgs:
        tail = run.stderr()[-2500:]
        raise CaseError(f"case {case['name']} ({case['_file']}): " + "\n".join(msgs) +
                        f"\n--- edge stderr (tail) ---\n{tail}")


def end_checks(run):
    expect = subst(run.case.get("origins_expect") or {}, run.env)
    errs = []
    for name, o in run.origins.items():
        with o.lock:
            left = len(o.script) - o.script_pos
        if left and expect.get(name, {}).get("script_done", True):
            errs.append(f"origin {name}: {left} scripted request(s) never came "
                        f"(next: {json.dumps(o.script[o.script_pos].get('expect', {}))})")
    errs += origin_count_errors(run, expect)
    if errs:
        raise CaseError("at the end:\n  " + "\n  ".join(errs))


def origin_count_errors(run, expect):
    errs = []
    for name, spec in expect.items():
        if name not in run.origins:
            errs.append(f"origins_expect names an unknown origin {name!r}")
            continue
        o = run.origins[name]
        with o.lock:
            n, nconn, nh = len(o.requests), len(o.conns), o.health_checks
            waits = list(o.close_waits)
        if "close_wait_ms" in spec:
            lo, hi = spec["close_wait_ms"]
            if not waits or not all(lo <= w <= hi for w in waits):
                errs.append(f"origin {name}: expected the edge to close each \"close\": \"await\" "
                            f"connection {lo}..{hi} ms after the answer, saw "
                            f"{[round(w) for w in waits]}")
        if "requests" in spec and n != spec["requests"]:
            errs.append(f"origin {name}: expected {spec['requests']} request(s), saw {n}: "
                        f"{[r['method'] + ' ' + r['target'] for r in o.traffic()]}")
        if "min_requests" in spec and n < spec["min_requests"]:
            errs.append(f"origin {name}: expected at least {spec['min_requests']} request(s), saw {n}")
        if "max_requests" in spec and n > spec["max_requests"]:
            errs.append(f"origin {name}: expected at most {spec['max_requests']} request(s), saw {n}")
        if "connections" in spec and nconn != spec["connections"]:
            errs.append(f"origin {name}: expected the traffic on {spec['connections']} "
                        f"connection(s), saw {nconn}")
        if "max_connections" in spec and nconn > spec["max_connections"]:
            errs.append(f"origin {name}: expected at most {spec['max_connections']} "
                        f"connection(s), saw {nconn}")
        if "health_path" in spec and o.health_paths != {spec["health_path"]}:
            errs.append(f"origin {name}: expected health checks on {spec['health_path']!r}, "
                        f"saw {sorted(o.health_paths)}")
        if "min_health_checks" in spec and nh < spec["min_health_checks"]:
            errs.append(f"origin {name}: expected at least {spec['min_health_checks']} "
                        f"health checks, saw {nh}")
    return errs


def do_step(run, step):
    if "repeat" in step:  # nested steps are substituted when each one runs
        for _ in range(step["repeat"]):
            for s in step["steps"]:
                do_step(run, s)
        return
    step = subst(step, run.env)
    if "note" in step and len(step) == 1:
        return
    if "request" in step:
        return step_request(run, step)
    if "send_raw" in step or "pipeline" in step:
        return step_raw(run, step)
    if "await" in step:
        t = run.asyncs.pop(step["await"], None)
        if t is None:
            raise CaseError(f"no async request named {step['await']!r}")
        if "parallel" in t:
            ts, out, pstep = t["parallel"]
            return finish_parallel(ts, out, dict(pstep, expect=step.get("expect", pstep.get("expect", {}))))
        t["thread"].join(timeout=step.get("timeout_s", 15))
        if t["thread"].is_alive():
            raise CaseError(f"async request {step['await']!r} still unanswered")
        if "error" in t:
            raise CaseError(f"async request {step['await']!r}: {t['error']}")
        errs = check_response(step.get("expect", {}), t["resp"], t["conn"], step["await"])
        t["conn"].close()
        if errs:
            raise CaseError("\n  ".join(errs))
        save_vars(run, step.get("save"), t["resp"])
        return
    if "parallel" in step:
        return step_parallel(run, step)
    if "repeat" in step:
        for _ in range(step["repeat"]):
            for s in step["steps"]:
                do_step(run, s)
        return
    if "wait_health" in step:
        w = step["wait_health"]
        states = w["state"] if isinstance(w.get("state"), list) else [w.get("state")]

        def ok():
            st = run.stats()
            ts = [t for t in st["targets"] if t["id"] == w["target"]]
            if w.get("absent"):
                return not ts
            if not ts:
                return False
            t = ts[0]
            return ((w.get("state") is None or t["state"] in states) and
                    ("ejected" not in w or t.get("ejected") == w["ejected"]))

        want = "gone" if w.get("absent") else {k: w[k] for k in ("state", "ejected") if k in w}
        poll(ok, w.get("timeout_s", 10), f"target {w['target']} to be {want}")
        return
    if "wait_stats" in step:
        w = step["wait_stats"]
        poll(lambda: subset(w["json"], run.stats()) is None, w.get("timeout_s", 10),
             f"/stats to contain {json.dumps(w['json'])}")
        return
    if "wait_origin" in step:
        w = step["wait_origin"]
        o = run.origins[w["origin"]]
        if "min_requests" in w:
            poll(lambda: len(o.traffic()) >= w["min_requests"], w.get("timeout_s", 10),
                 f"origin {w['origin']} to see {w['min_requests']} request(s)")
        if "min_health_checks" in w:
            poll(lambda: o.health_checks >= w["min_health_checks"], w.get("timeout_s", 10),
                 f"origin {w['origin']} to see {w['min_health_checks']} health check(s)")
        if "min_closes" in w:  # "close": "await" answers whose connection the edge closed
            poll(lambda: len(o.close_waits) >= w["min_closes"], w.get("timeout_s", 10),
                 f"origin {w['origin']} to see the edge close {w['min_closes']} connection(s)")
        return
    if "wait_held" in step:
        w = step["wait_held"]
        name, n = (w, 1) if isinstance(w, str) else (w["name"], w.get("count", 1))
        poll(lambda: sum(o.held.get(name, 0) for o in run.origins.values()) >= n, 10,
             f"{n} request(s) held at {name!r}")
        if isinstance(w, dict) and w.get("save_origin"):
            run.env[w["save_origin"]] = next(o.name for o in run.origins.values()
                                             if o.held.get(name))
        return
    if "wait_closed" in step:
        w = step["wait_closed"]
        c = run.conns.pop(w["conn"], None)
        if c is None:
            raise CaseError(f"no open connection named {w['conn']!r}")
        closed = c.closed_within(w.get("timeout_s", 5))
        c.close()
        if not closed:
            raise CaseError(f"connection {w['conn']!r} still open after {w.get('timeout_s', 5)} s")
        return
    if "release" in step:
        for o in run.origins.values():
            o.release(step["release"])
        return
    if "check_origins" in step:
        errs = origin_count_errors(run, step["check_origins"])
        if errs:
            raise CaseError("\n  ".join(errs))
        return
    if "admin" in step:
        spec = step["admin"]
        resp = run.admin_call(spec)
        errs = check_response(step.get("expect", {"status": 200}), resp, None, "admin")
        if errs:
            raise CaseError("\n  ".join(errs))
        return
    if "metrics" in step:
        m = step["metrics"]

        def ok():
            r = run.admin_call({"method": "GET", "path": "/metrics"})
            text = r.body.decode()
            miss = [rx for rx in m.get("lines", []) if not re.search(rx, text, re.M)]
            bad = [rx for rx in m.get("absent", []) if re.search(rx, text, re.M)]
            run.last_metrics = text
            return (not miss and not bad) or None

        try:
            poll(ok, m.get("timeout_s", 3), "metrics")
        except CaseError:
            text = getattr(run, "last_metrics", "")
            miss = [rx for rx in m.get("lines", []) if not re.search(rx, text, re.M)]
            bad = [rx for rx in m.get("absent", []) if re.search(rx, text, re.M)]
            raise CaseError(f"/metrics: lines not found {miss}, lines present though "
                            f"absent expected {bad}; /metrics was:\n{text}") from None
        return
    if "kill_origin" in step:
        run.origins[step["kill_origin"]].kill()
        return
    if "restart_origin" in step:
        run.origins[step["restart_origin"]].start()
        return
    if "set_origin" in step:
        s = dict(step["set_origin"])
        run.origins[s.pop("origin")].configure(s)
        return
    if "advance" in step:
        a = step["advance"]
        until = run.game_now() + a["game_s"]
        while run.game_now() < until:
            time.sleep(min(0.02, max(0.001, (until - run.game_now()) / run.speed)))
        return
    if "load_start" in step:
        return load_start(run, step["load_start"])
    if "load_stop" in step:
        return load_stop(run, step["load_stop"])
    if "close" in step:
        c = run.conns.pop(step["close"], None)
        if c:
            c.close()
        return
    raise CaseError(f"unknown step {json.dumps(step)[:200]}")


def save_vars(run, save, resp):
    """"save": {"var": {"header": "Set-Cookie", "regex": "GDALB=([^;]+)"}} keeps group 1
    (or the whole match / value) for ${var} in later steps."""
    for var, how in (save or {}).items():
        src = resp.header(how["header"]) if "header" in how else resp.body.decode("latin-1")
        if src is None:
            raise CaseError(f"save {var}: no {how.get('header', 'body')} in {resp!r}")
        if "regex" in how:
            m = re.search(how["regex"], src)
            if not m:
                raise CaseError(f"save {var}: /{how['regex']}/ not found in {src!r}")
            src = m.group(1) if m.groups() else m.group(0)
        run.env[var] = src


def step_request(run, step):
    spec = step["request"]
    if "async" in step:
        slot = {}

        def go():
            try:
                slot["resp"], slot["conn"] = run.exchange(spec)
            except (CaseError, OSError) as e:
                slot["error"] = str(e)

        t = threading.Thread(target=go, daemon=True)
        slot["thread"] = t
        run.asyncs[step["async"]] = slot
        t.start()
        return
    if "silent_ms" in step.get("expect", {}):
        return step_silent(run, step)
    deadline = time.monotonic() + step.get("poll_s", 0)
    while True:
        try:
            resp, c = run.exchange(spec, step.get("conn"))
        except OSError as e:
            raise CaseError(f"request failed: {e!r}") from None
        errs = check_response(step.get("expect", {}), resp, c, "response")
        if not errs or time.monotonic() >= deadline:
            break
        if not step.get("conn"):
            c.close()
        time.sleep(0.02)
    if not step.get("conn"):
        c.close()
    elif resp is None or "closed" in step.get("expect", {}) and step["expect"]["closed"]:
        run.conns.pop(step["conn"], None)
        c.close()
    if errs:
        raise CaseError("\n  ".join(errs))
    save_vars(run, step.get("save"), resp)


def step_silent(run, step):
    """"expect": {"silent_ms": N}: the request gets no answer, and the connection stays
    open, for N ms (a blackhole). With "conn" the connection is kept for later steps."""
    name = step.get("conn")
    c = run.conns.get(name) if name else None
    if c is None:
        c = run.connect()
        if name:
            run.conns[name] = c
    data, _ = build_request(step["request"], run.env["listen"])
    try:
        c.send(data)
    except OSError as e:
        raise CaseError(f"sending failed: {e!r}") from None
    ms = step["expect"]["silent_ms"]
    quiet = c.silent_for(ms)
    if not name:
        c.close()
    if not quiet:
        got = c.rd.buf[:200]
        raise CaseError(f"expected no answer and an open connection for {ms} ms, got "
                        + (f"bytes {got!r}" if got else "the connection closed"))


def step_raw(run, step):
    """Raw bytes (or several requests pipelined in one write) on one connection; one
    expectation per answer awaited."""
    name = step.get("conn")
    c = run.conns.get(name) if name else None
    if c is None:
        c = run.connect()
        if name:
            run.conns[name] = c
    methods = []
    if "pipeline" in step:
        data = b""
        for r in step["pipeline"]:
            d, m = build_request(r, run.env["listen"])
            data += d
            methods.append(m)
    else:
        data = step["send_raw"].encode("latin-1")
    exps = step.get("expect", [])
    if isinstance(exps, dict):
        exps = [exps]
    try:
        if step.get("split_ms"):  # bytes in pieces, a pause between them
            for i in range(0, len(data), step.get("split_size", 1)):
                c.send(data[i:i + step.get("split_size", 1)])
                time.sleep(step["split_ms"] / 1000)
        else:
            c.send(data)
    except OSError as e:
        raise CaseError(f"sending failed: {e!r}") from None
    errs = []
    for i, e in enumerate(exps):
        resp = c.response(methods[i] if i < len(methods) else "GET")
        errs += check_response(e, resp, c, f"answer {i + 1}")
        if resp is None:
            break
    if not name:
        c.close()
    if errs:
        raise CaseError("\n  ".join(errs))


def step_parallel(run, step):
    p = step["parallel"]
    n = p.get("count", 2)
    barrier = threading.Barrier(n)
    out = [None] * n

    def go(i):
        try:
            c = run.connect()
            data, m = build_request(p["request"], run.env["listen"])
            barrier.wait(timeout=10)
            c.send(data)
            out[i] = (c.response(m), c)
        except (CaseError, OSError, threading.BrokenBarrierError) as e:
            out[i] = e

    ts = [threading.Thread(target=go, args=(i,), daemon=True) for i in range(n)]
    for t in ts:
        t.start()
    if step.get("async"):
        run.asyncs[step["async"]] = {"parallel": (ts, out, step)}
        return
    finish_parallel(ts, out, step)


def finish_parallel(ts, out, step):
    for t in ts:
        t.join(timeout=20)
    errs = []
    for i, r in enumerate(out):
        if r is None or isinstance(r, Exception):
            errs.append(f"parallel request {i + 1}: {r!r}")
            continue
        errs += check_response(step.get("expect", {}), r[0], None, f"parallel answer {i + 1}")
        r[1].close()
    if errs:
        raise CaseError("\n  ".join(errs[:5]) + (f"\n  ... {len(errs)} in all" if len(errs) > 5 else ""))


def load_start(run, spec):
    """Requests one after another (each on a new connection unless keep_alive) until
    load_stop; statuses are recorded."""
    ld = {"stop": threading.Event(), "statuses": [], "errors": []}

    def go():
        conn = None
        while not ld["stop"].is_set():
            try:
                if conn is None:
                    conn = run.connect()
                data, m = build_request(spec["request"], run.env["listen"])
                conn.send(data)
                r = conn.response(m)
                ld["statuses"].append(r.status if r else "closed")
                if not spec.get("keep_alive") or r is None or (
                        r.header("connection") or "").lower() == "close":
                    conn.close()
                    conn = None
            except (CaseError, OSError) as e:
                ld["errors"].append(repr(e))
                if conn:
                    conn.close()
                conn = None
        if conn:
            conn.close()

    ld["thread"] = threading.Thread(target=go, daemon=True)
    run.loads[spec["id"]] = ld
    ld["thread"].start()


def load_stop(run, spec):
    ld = run.loads.pop(spec["id"])
    ld["stop"].set()
    ld["thread"].join(timeout=10)
    st = ld["statuses"]
    errs = []
    if ld["errors"]:
        errs.append(f"load {spec['id']}: {len(ld['errors'])} failed exchange(s): {ld['errors'][:3]}")
    want = spec.get("expect_status", [200])
    bad = [s for s in st if s not in want]
    if bad:
        errs.append(f"load {spec['id']}: {len(bad)} of {len(st)} answers not in {want}: "
                    f"{sorted(set(map(str, bad)))}")
    if len(st) < spec.get("min_requests", 1):
        errs.append(f"load {spec['id']}: only {len(st)} request(s) made")
    for code, (lo, hi) in (spec.get("share") or {}).items():
        n = sum(1 for s_ in st if str(s_) == code)
        share = n / len(st) if st else 0
        if not lo <= share <= hi:
            errs.append(f"load {spec['id']}: {code} was {n} of {len(st)} answers ({share:.2f}), "
                        f"expected a share in {lo}..{hi}")
    if errs:
        raise CaseError("\n  ".join(errs))
