"""A kiosk's screen cannot answer its own calls: the attack with real broker logins on the provisioned broker.

The store broker of tests/test_broker_acl.py (``edge-agent broker provision``'s files, run unchanged by a real
Mosquitto), the edge agent of ``kiosk-1`` in process with its own login, and Anna's staff record pushed by
central's login. A call is made at the kiosk; the kiosk app's login (``kiosk-1-screen``) then sends the console's
answers itself, "coming" and "handled" in Anna's name: the broker drops them, the call stays open, nothing is
audited, its kiosk hears nothing. The console's login sends the same answer and it is applied, which also shows
the screen's earlier publishes had been dealt with (the broker handles one client's packets in order, the agent
its messages in order).
"""

from __future__ import annotations

import json
import os
import time

from edge_agent.agent import Agent
from edge_agent.config import parse_config
from edge_agent.contract import COMMANDS, EVENTS, PUSHES, RESPONSES, STAFF_CALL, StaffAssistRequest, encode
from edge_agent.credentials import MQTT_PASSWORD, MQTT_USERNAME, Credentials, env_name
from edge_agent.nfc.emulator import CardEmulator, free_udp_port
from edge_agent.staff.pin import hash_pin
from tests.support.agent import config_text
from tests.test_broker_acl import DEVICE, HARNESS, SCREEN, STORE, broker, connect_as  # noqa: F401  (broker: its fixture)

WAIT = 30


def _until(predicate, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def test_a_kiosk_screen_login_cannot_answer_its_own_call_and_the_console_login_can(broker, tmp_path):  # noqa: F811
    nfc = f"udp:127.0.0.1:{free_udp_port()}"
    emulator = CardEmulator(nfc)
    config = parse_config(config_text(broker.port, tmp_path / "agent.db", STORE, DEVICE,
                                      extra=f'[nfc]\ndevice = "{nfc}"\npoll_interval_s = 0.05\n'), "<test>")
    agent = Agent(config, Credentials({"CS_STORE_HMAC_KEY": os.urandom(32).hex(), env_name(MQTT_USERNAME): DEVICE,
                                       env_name(MQTT_PASSWORD): broker.logins[DEVICE]}))
    agent.start()
    screen = connect_as(broker, SCREEN, [(STAFF_CALL.topic_for(STORE, DEVICE), 1)])
    console = connect_as(broker, "console", [(RESPONSES["console-call-answer"].topic_for(STORE, DEVICE), 1)])
    central = connect_as(broker, "central-bridge")
    harness = connect_as(broker, HARNESS, [("cs/#", 1)])
    try:
        assert agent.link.wait_connected(10)
        for client in (screen, console, central, harness):
            client.wait_connected()
        _, anna = encode(PUSHES["staff"], {"staff": "s-anna", "version": 1, "display_name": "Anna", "role": "staff",
                                           "pin_verifier": hash_pin("2468")})
        central.publish(PUSHES["staff"].topic_for(STORE), anna, qos=1)
        _until(lambda: agent.inbox.applied >= 1, "the agent never applied Anna's record")
        handler = agent.commands.handler("staff-assist")
        assert handler is not None and agent.staff is not None
        call = handler(StaffAssistRequest(phase="continue")).event
        answer_topic = COMMANDS["console-call-answer"].topic_for(STORE, DEVICE)

        for answer in ("coming", "handled"):  # the attack: the kiosk's own screen answers in Anna's name
            _, forged = encode(COMMANDS["console-call-answer"], {"call": call, "answer": answer, "staff": "s-anna"},
                               transaction=f"forged-{answer}")
            screen.publish(answer_topic, forged, qos=1)
        screen.flush()

        _, real = encode(COMMANDS["console-call-answer"], {"call": call, "answer": "coming", "staff": "s-anna"},
                         transaction="from-the-console")
        console.publish(answer_topic, real, qos=1)
        _until(lambda: any(b"from-the-console" in payload for _, payload in console.received),
               "the console's answer was not answered")
        _until(lambda: screen.received, "the kiosk never heard the console's answer")

        assert agent.staff.calls.is_open(call) is True, "the screen's 'handled' never reached the agent"
        told = [json.loads(payload)["data"] for _, payload in screen.received]
        assert told == [{"call": call, "state": "coming", "display_name": "Anna"}], "only the console's answer"
        assert not any(b"forged" in payload for _, payload in console.received)
        audit_topic = EVENTS["staff-audit"].topic_for(STORE, DEVICE)
        _until(lambda: any(t == audit_topic for t, _ in harness.received), "no audit reached the broker")
        harness.flush()
        audited = [json.loads(payload)["data"] for t, payload in harness.received if t == audit_topic]
        assert [(a["action"], a["result"]) for a in audited if a["target"] == call] == [("call-coming", "ok")]
    finally:
        for client in (screen, console, central, harness):
            client.close()
        agent.stop()
        emulator.close()
