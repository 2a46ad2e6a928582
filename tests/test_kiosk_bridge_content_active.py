"""The kiosk's bridge and the agent's pack switch, against a real Mosquitto: the retained ``content-active`` reaches
the UI thread validated, a malformed one changes nothing, and ``content-loaded`` goes out with a null version."""

from __future__ import annotations

import pytest

from edge_agent.contract import COMMANDS, Topics, encode, new_id
from edge_agent.contract.catalogue import CONTENT_ACTIVE
from kiosk.bridge import Bridge
from tests.test_kiosk_bridge import RecordingSink, UiThread, names


class Sink(RecordingSink):
    def on_content_active(self, payload):
        self._record("content-active", payload)


@pytest.fixture
def setup(mosquitto, publisher, capture):
    store, device = f"store-{new_id()[-8:]}", "kiosk-1"
    topics = Topics(store, device)
    ui = UiThread()
    bridge = Bridge("127.0.0.1", mosquitto.port, store, device, Sink(ui), post=ui.post, request_timeout_s=0.5)
    requests = capture(mosquitto, [COMMANDS["content-loaded"].topic_for(store, device)])
    bridge.start()
    ui.run_until(lambda: names(ui, "connection"))
    yield bridge, ui, publisher(mosquitto), topics, requests
    bridge.stop()


def test_the_retained_active_pack_reaches_the_ui_thread_validated(setup):
    bridge, ui, pub, topics, _ = setup
    topic = CONTENT_ACTIVE.topic_for(topics.store, topics.device)
    assert topic in dict(bridge.subscriptions())
    active = {"pack": "tuin", "version": 4, "pack_version": "2026.12.1", "path": "/var/lib/packs/tuin-4"}
    _, raw = encode(CONTENT_ACTIVE, {"active": active, "previous": None, "staged": None})
    pub.publish(topic, raw, retain=True)
    ui.run_until(lambda: names(ui, "content-active"))
    payload = names(ui, "content-active")[0][1]
    assert (payload.active.pack, payload.active.version, payload.active.path) == ("tuin", 4, "/var/lib/packs/tuin-4")
    pub.publish(topic, b"", retain=True)


def test_a_malformed_active_pack_is_reported_and_changes_nothing(setup):
    _, ui, pub, topics, _ = setup
    pub.publish(CONTENT_ACTIVE.topic_for(topics.store, topics.device), b'{"data": {"active": "elsewhere"}}')
    ui.run_until(lambda: names(ui, "malformed"))
    assert names(ui, "content-active") == []


def test_content_loaded_is_sent_whole_with_a_null_version(setup):
    bridge, ui, _, _, requests = setup
    assert bridge.request_data("content-loaded", {"pack": "tuin", "version": None, "ok": False,
                                                  "reason": "content.yaml:4: attract.0.image: missing"})
    sent = requests.wait_topic("/local/request/content-loaded")[0].json()
    assert sent["data"] == {"pack": "tuin", "version": None, "ok": False,
                            "reason": "content.yaml:4: attract.0.image: missing"}
    ui.run_until(lambda: bridge.expire() or names(ui, "response"))  # unanswered here: fails after its timeout
    assert names(ui, "response")[0][1:4] == ("content-loaded", None, False)
