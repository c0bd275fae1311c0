"""`gameday instance time` (WhatsTheTime.com's service) on its own: the real binary
answering the time in a zone of the system's tz database, as JSON or text, holding one
of its slots for its service time like every built-in service. Addresses:
127.242.0.0/16."""

import datetime
import threading
import time
from zoneinfo import ZoneInfo

import pytest

from conftest import daemon, http, wait_until

ADDR = ("127.242.0.10", 8080)
BASE = f"http://{ADDR[0]}:{ADDR[1]}"


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    env = {"GAMEDAY_SPEED": "60", "GAMEDAY_EPOCH_NS": str(time.monotonic_ns()),
           "GAMEDAY_SLOTS": "2", "GAMEDAY_QUEUE": "0", "GAMEDAY_SERVICE_MS": "30000",
           "GAMEDAY_INSTANCE_ID": "i-time"}
    with daemon(["instance", "time", "--addr", f"{ADDR[0]}:{ADDR[1]}"], f"{BASE}/health",
                tmp_path_factory.mktemp("time") / "err", env=env) as p:
        yield p


def test_the_time_in_a_zone(service):
    for tz in ("Europe/Paris", "Asia/Kolkata", "America/New_York", "UTC"):
        before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        r = http("GET", f"{BASE}/time?tz={tz}", timeout=10)
        after = datetime.datetime.now(datetime.timezone.utc)
        assert r.status == 200, r
        assert r.header("X-Instance-Id") == "i-time"
        j = r.json()
        assert j["tz"] == tz
        local = datetime.datetime.fromisoformat(j["time"])
        utc = datetime.datetime.fromisoformat(j["utc"].replace("Z", "+00:00"))
        assert local == utc, "the same instant"
        assert before - datetime.timedelta(seconds=1) <= utc <= after
        want = utc.astimezone(ZoneInfo(tz)).utcoffset().total_seconds()
        assert j["utc_offset_s"] == want and local.utcoffset().total_seconds() == want
    text = http("GET", f"{BASE}/time?tz=Asia/Tokyo&format=text", timeout=10)
    assert text.status == 200 and text.header("Content-Type").startswith("text/plain")
    assert text.body.decode().endswith(" JST (Asia/Tokyo)\n"), text.body
    assert http("GET", f"{BASE}/time", timeout=10).json()["tz"] == "UTC", "UTC by default"


def test_a_zone_that_is_not_one_is_refused(service):
    for tz in ("Mars/Olympus", "../../etc/passwd", "/etc/localtime", "Europe/../UTC", "Europe"):
        r = http("GET", f"{BASE}/time?tz={tz}", timeout=10)
        assert r.status == 400 and b"UnknownTimeZone" in r.body, (tz, r)
    assert http("GET", f"{BASE}/other", timeout=10).status == 404


def test_each_request_holds_a_slot_for_its_service_time(service):
    # 2 slots, no queue, 30 s of game time (0.5 s wall) each: a third concurrent request
    # is refused while two are being served
    results = []

    def call():
        results.append(http("GET", f"{BASE}/time?tz=UTC", timeout=10).status)

    ts = [threading.Thread(target=call) for _ in range(2)]
    for t in ts:
        t.start()
    wait_until(lambda: "gameday_instance_busy_slots{instance=\"i-time\"} 2" in
               http("GET", f"{BASE}/metrics").body.decode(), 5, "both slots busy")
    assert http("GET", f"{BASE}/time?tz=UTC", timeout=10).status == 503
    for t in ts:
        t.join()
    assert results == [200, 200]
