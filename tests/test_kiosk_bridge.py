"""The kiosk's MQTT bridge against a real Mosquitto: what it subscribes to, how it decodes, that it
hands everything to the UI thread, matches responses by transaction, and shrugs off malformed messages."""

from __future__ import annotations

import json
import queue
import socket
import threading
import time
from pathlib import Path

import pytest

from edge_agent.contract import (
    BIRTH,
    COMMANDS,
    HEALTH,
    PRESENCE,
    SCAN,
    SESSION,
    SHELF,
    STATE,
    MyDataResult,
    Topics,
    encode,
    encode_response,
    new_id,
)
from kiosk.bridge import Bridge
from kiosk.content_control import CONTENT_COMMANDS
from tests.test_contract import topic_literals

ROOT = Path(__file__).resolve().parent.parent


class UiThread:
    """Stands in for Kivy's main thread: ``post`` queues, :meth:`run_until` runs the queue here."""

    def __init__(self):
        self.queue: queue.Queue = queue.Queue()
        self.thread = threading.current_thread()
        self.calls: list[tuple] = []

    def post(self, function, *args) -> None:
        self.queue.put((function, args))

    def run_until(self, predicate, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"not reached; calls: {[c[0] for c in self.calls]}")
            try:
                function, args = self.queue.get(timeout=min(remaining, 0.1))
            except queue.Empty:
                continue
            function(*args)


class RecordingSink:
    def __init__(self, ui: UiThread):
        self.ui = ui

    def _record(self, name, *args):
        assert threading.current_thread() is self.ui.thread, f"{name} called off the UI thread"
        self.ui.calls.append((name, *args))

    def on_session(self, payload):
        self._record("session", payload)

    def on_device_state(self, payload):
        self._record("state", payload)

    def on_birth(self, payload):
        self._record("birth", payload)

    def on_health(self, payload):
        self._record("health", payload)

    def on_response(self, command, session, ok, data, error):
        self._record("response", command, session, ok, data, error)

    def on_presence(self, payload):
        self._record("presence", payload)

    def on_scan(self, payload):
        self._record("scan", payload)

    def on_shelf(self, payload):
        self._record("shelf", payload)

    def on_connection(self, connected):
        self._record("connection", connected)

    def on_malformed(self, topic, reason):
        self._record("malformed", topic, reason)


def names(ui: UiThread, name: str) -> list[tuple]:
    return [call for call in ui.calls if call[0] == name]


@pytest.fixture
def bridge_setup(mosquitto, publisher, capture):
    store, device = f"store-{new_id()[-8:]}", "kiosk-1"
    topics = Topics(store, device)
    pub = publisher(mosquitto)
    _, state = encode(STATE, {"state": "online", "reason": "connected"})
    pub.publish(topics.state, state, retain=True)
    ui = UiThread()
    bridge = Bridge("127.0.0.1", mosquitto.port, store, device, RecordingSink(ui), post=ui.post,
                    request_timeout_s=0.5)
    bridge.start()
    ui.run_until(lambda: names(ui, "connection") and names(ui, "state"))
    yield bridge, ui, pub, topics, capture(mosquitto, [COMMANDS[name].topic_for(store, device)
                                                       for name in bridge.commands])
    bridge.stop()
    pub.publish(topics.state, b"", retain=True)


def test_subscribes_to_session_health_state_birth_and_its_responses_only(bridge_setup):
    bridge, *_ = bridge_setup
    topics = bridge.topics
    subscribed = dict(bridge.subscriptions())
    assert subscribed[topics.session] == SESSION.qos and subscribed[topics.health] == HEALTH.qos
    assert subscribed[topics.state] == STATE.qos and subscribed[topics.birth] == BIRTH.qos
    assert {topic for topic in subscribed if "/local/response/" in topic} == {
        topics.response(name) for name in ("my-data", "withdraw-consent", "end-session", "enrol", "product", "account",
                                           "offers", "activate-offer", "check-promo-code", "feedback", "staff-assist",
                                           "staff-pin", "staff-status", "staff-audit-log", "staff-calls",
                                           "staff-call-handled", "staff-call-share", "staff-console-code",
                                           "device-checks", "reader-test", "test-event", "restart-kiosk",
                                           *CONTENT_COMMANDS, "report-screen", "report-play", "content-loaded",
                                           "touch")}
    assert subscribed[topics.presence] == PRESENCE.qos
    assert subscribed[topics.scan] == SCAN.qos and subscribed[topics.shelf] == SHELF.qos


def test_messages_are_decoded_and_handed_to_the_ui_thread(bridge_setup):
    _, ui, pub, topics, _ = bridge_setup
    sid = new_id()
    _, raw = encode(SESSION, {"session": sid, "state": "started", "outcome": "recognised", "assurance": "uid",
                              "may_show": ["first_name"], "customer": {"first_name": "Sanne"}})
    pub.publish(topics.session, raw)
    _, raw = encode(HEALTH, {"uptime_s": 1, "connected": True, "outbox_depth": 2, "outbox_critical": 1,
                             "reconnects": 0, "dropped_telemetry": 0, "rejected_messages": 0})
    pub.publish(topics.health, raw, qos=0)
    ui.run_until(lambda: names(ui, "session") and names(ui, "health"))
    assert names(ui, "session")[0][1].customer.first_name == "Sanne"
    assert names(ui, "health")[0][1].outbox_depth == 2


@pytest.mark.parametrize("payload", [
    b"not json",
    b"[1, 2]",
    json.dumps({"id": new_id(), "ts": "2026-04-01T09:30:00Z", "schema": "health/1", "data": {}}).encode(),
    json.dumps({"id": new_id(), "ts": "2026-04-01T09:30:00Z", "schema": "session/1",
                "data": {"session": "nope", "state": "started"}}).encode(),
    b"{" * 100_000,
    b"\xff\xfe",
])
def test_a_malformed_session_message_is_reported_and_nothing_else(bridge_setup, payload, caplog):
    _, ui, pub, topics, _ = bridge_setup
    pub.publish(topics.session, payload)
    ui.run_until(lambda: names(ui, "malformed"))
    assert not names(ui, "session")
    assert "ignored a malformed message" in caplog.text
    assert payload.decode(errors="replace")[:40] not in caplog.text.split("ignored a malformed message")[1]
    # ...and the next good message still arrives.
    _, raw = encode(SESSION, {"session": new_id(), "state": "started", "outcome": "unknown-card",
                              "assurance": "uid", "invite_to_enrol": True})
    pub.publish(topics.session, raw)
    ui.run_until(lambda: names(ui, "session"))


def test_requests_carry_a_transaction_and_only_the_matching_response_counts(bridge_setup):
    bridge, ui, pub, topics, requests = bridge_setup
    sid = new_id()
    transaction = bridge.request("my-data", sid)
    sent = requests.wait_topic("/local/request/my-data")[0].json()
    assert sent["transaction"] == transaction and sent["data"] == {"session": sid}
    assert sent["schema"] == COMMANDS["my-data"].schema_id
    result = MyDataResult(customer=None, consents=[], data_use=[])
    pub.publish(topics.response("my-data"), encode_response("my-data", "someone-else", result=result))
    pub.publish(topics.response("my-data"), encode_response("my-data", transaction, result=result))
    ui.run_until(lambda: names(ui, "response"))
    time.sleep(0.2)
    ui.run_until(lambda: True)
    [(_, command, session, ok, data, error)] = names(ui, "response")
    assert (command, session, ok, error) == ("my-data", sid, True, None) and isinstance(data, MyDataResult)
    assert bridge.pending == 0


def test_error_malformed_and_missing_responses_fail_the_request(bridge_setup):
    bridge, ui, pub, topics, _ = bridge_setup
    sid = new_id()
    first = bridge.request("withdraw-consent", sid)
    pub.publish(topics.response("withdraw-consent"),
                encode_response("withdraw-consent", first, error="no such session"))
    second = bridge.request("withdraw-consent", sid)
    pub.publish(topics.response("withdraw-consent"), json.dumps(
        {"id": new_id(), "ts": "2026-04-01T09:30:00Z", "schema": "response-withdraw-consent/1",
         "transaction": second, "status": "ok", "data": {"withdrawn": "everything"}, "error": None}).encode())
    ui.run_until(lambda: len(names(ui, "response")) == 2)
    assert [(c[3], c[5]) for c in names(ui, "response")] == [(False, "no such session"), (False, "malformed response")]
    bridge.request("end-session", sid)  # nobody answers
    time.sleep(0.6)
    assert bridge.expire() == 1
    assert names(ui, "response")[-1][1:] == ("end-session", sid, False, None, "no answer")


def test_scan_shelf_and_presence_arrive_and_a_product_request_needs_no_session(bridge_setup):
    bridge, ui, pub, topics, requests = bridge_setup
    pub.publish(topics.scan, encode(SCAN, {"gtin": "8712345678906", "format": "ean-13"})[1])
    pub.publish(topics.shelf, encode(SHELF, {"zone": "gazonmest-10kg", "gtin": "08712345678906",
                                             "action": "pickup"})[1])
    pub.publish(topics.presence, encode(PRESENCE, {"state": "present", "started": "2026-04-01T09:30:00Z"})[1])
    ui.run_until(lambda: names(ui, "scan") and names(ui, "shelf") and names(ui, "presence"))
    assert names(ui, "scan")[0][1].gtin == "08712345678906"
    assert names(ui, "shelf")[0][1].action == "pickup" and names(ui, "presence")[0][1].state == "present"
    bridge.request("product", None, "en", "08712345678906")
    sid = new_id()
    bridge.request("product", sid, "nl", "08712345678906")
    bridge.request("activate-offer", sid, "nl", offer="voorjaar-2026")
    bridge.request("check-promo-code", sid, "nl", code="LENTE26")
    assert requests.wait_topic("/local/request/activate-offer")[0].json()["data"] == {
        "session": sid, "offer": "voorjaar-2026"}
    assert requests.wait_topic("/local/request/check-promo-code")[0].json()["data"] == {
        "session": sid, "code": "LENTE26", "language": "nl"}
    sent = [m.json()["data"] for m in requests.wait_topic("/local/request/product", 2)]
    assert [(d.get("session"), d["gtin"], d["language"]) for d in sent] == [
        (None, "08712345678906", "en"), (sid, "08712345678906", "nl")]


def test_the_socket_has_tcp_nodelay(bridge_setup):
    bridge, *_ = bridge_setup
    sock = bridge.client.socket()
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


def test_no_kiosk_code_spells_or_builds_a_topic():
    offenders = [found for path in sorted((ROOT / "kiosk").rglob("*.py")) for found in topic_literals(path)]
    assert not offenders, "kiosk topics must come from edge_agent.contract; found:\n" + "\n".join(offenders)


def test_a_request_while_disconnected_fails_at_once_and_is_never_sent_later(bridge_setup):
    bridge, ui, _pub, _topics, requests = bridge_setup
    bridge.stop()
    ui.run_until(lambda: names(ui, "connection")[-1][1] is False)
    assert bridge.request("withdraw-consent", new_id()) is None
    ui.run_until(lambda: names(ui, "response"))
    assert names(ui, "response")[-1][3:] == (False, None, "not connected")
    bridge.start()
    ui.run_until(lambda: names(ui, "connection")[-1][1] is True)
    time.sleep(0.3)
    assert not requests.on("/local/request/withdraw-consent")
