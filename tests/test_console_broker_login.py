"""The console on the store broker the project ships (config/mosquitto/store.conf and its generated ACL), with
its own ``console`` login from the credentials: it gets central's staff records, its login's audit reaches
central's side, and a kiosk's status shows; a kiosk's own login cannot publish the console's requests.

The shipped ACL is for the example store (store-0042: kiosk-1, kiosk-2, shelf-1), so this test is that store.
"""

from __future__ import annotations

import json
import re
import time

import httpx
import pytest

from edge_agent.contract import COMMANDS, EVENTS, PUSHES, STATE, encode
from tests.support.console import ConsoleProcess, staff_push, write_console_config
from tests.support.mosquitto import LoginClient, Mosquitto

STORE = "store-0042"
PASSWORDS = {"console": "console-pw-7f3a", "central-bridge": "central-pw-91c2", "kiosk-1": "kiosk-pw-5d10",
             "kiosk-1-screen": "screen-pw-a2b8"}
WAIT = 60


@pytest.fixture
def store_broker(tmp_path):
    broker = Mosquitto.store(tmp_path / "broker", PASSWORDS)
    broker.start()
    yield broker
    broker.close()


def test_console_with_its_own_login_reads_staff_records_audits_upstream_and_shows_a_kiosk(store_broker, tmp_path):
    central = LoginClient(store_broker.port, "central-bridge", PASSWORDS["central-bridge"],
                          [(EVENTS["staff-audit"].topic_for(STORE, "console"), 1)])
    kiosk = LoginClient(store_broker.port, "kiosk-1", PASSWORDS["kiosk-1"])
    central.wait_connected()
    kiosk.wait_connected()
    config, port = write_console_config(tmp_path / "console", store_broker.port, STORE)
    console = ConsoleProcess(config, port, tmp_path / "console.log",
                             env={"CS_MQTT_USERNAME": "console", "CS_MQTT_PASSWORD": PASSWORDS["console"]}).start()
    try:
        central.publish(PUSHES["staff"].topic_for(STORE), staff_push("s-anna", "2468"), qos=1)
        kiosk.publish(STATE.topic_for(STORE, "kiosk-1"), encode(STATE, STATE.example)[1], qos=1, retain=True)
        client = httpx.Client(base_url=console.url, verify=False, headers={"Accept": "text/html"}, timeout=30)
        deadline = time.monotonic() + WAIT
        while True:
            token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
            if client.post("/login", data={"staff": "s-anna", "pin": "2468", "csrf": token}).status_code == 303:
                break
            assert time.monotonic() < deadline, f"no login with the pushed record:\n{console.log()}"
            time.sleep(0.5)
        while "kiosk-1" not in client.get("/devices").text:
            assert time.monotonic() < deadline, "the console never showed kiosk-1"
            time.sleep(0.3)
        while {json.loads(payload)["data"]["action"] for _, payload in list(central.received)} < {"pin-attempt",
                                                                                                 "console-login"}:
            assert time.monotonic() < deadline, f"the console's audit never reached central's side: {central.received}"
            time.sleep(0.2)
        client.close()
    finally:
        console.stop()
        central.close()
        kiosk.close()


def test_a_kiosk_screens_login_may_not_send_the_consoles_content_requests(store_broker):
    screen = LoginClient(store_broker.port, "kiosk-1-screen", PASSWORDS["kiosk-1-screen"],
                         protocol=5)
    screen.wait_connected()
    try:
        command = COMMANDS["console-content-control"]
        _, raw = encode(command, {"session": "01a20735-b502-769a-a830-637530718552", "staff": "s-anna",
                                  "action": "disable", "section": "attract", "item": "lente"}, transaction="t-1")
        assert screen.publish_all([(command.topic_for(STORE, "kiosk-1"), raw)]) == [0x87]  # not authorised
    finally:
        screen.close()
