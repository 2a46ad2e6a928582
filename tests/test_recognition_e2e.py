"""Recognition end to end: emulated cards on nfcpy's UDP reader, the agent, a real Mosquitto.

Central pushes customers and card links over MQTT; cards are tapped on the
emulator; the kiosk's side is a plain MQTT client reading the local session
topic and sending local requests. At the end the database, the log and every
captured MQTT message are searched for the raw UIDs used: none may appear.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

import pytest

from edge_agent.agent import Agent
from edge_agent.contract import PUSHES, Topics, encode
from edge_agent.credentials import Credentials
from edge_agent.identity import card_token
from edge_agent.nfc.emulator import CardEmulator, Type2Card, Type4Card, free_udp_port
from edge_agent.nfc.sun import SunKeys, sun_url
from edge_agent.privacy import CUSTOMER_TABLES
from tests.support.cards import PIET_UID as EXPIRED_UID  # here a card whose consent has expired
from tests.support.cards import SANNE as GOLD
from tests.support.cards import SANNE_UID as GOLD_UID
from tests.support.cards import STAFF_UID, UNKNOWN_UID
from tests.support.cards import STORE_HMAC_KEY_HEX as HMAC_KEY
from tests.support.cards import SUN_FILE_READ_MASTER_KEY_HEX as MASTER_KEY
from tests.support.cards import SUN_META_READ_KEY_HEX as META_KEY
from tests.support.mqtt import envelope
from tests.support.uid_spellings import assert_no_uid

UIDS = (GOLD_UID, EXPIRED_UID, STAFF_UID, UNKNOWN_UID)
EXPIRED = "c-0000000000000000000000000000a002"



@pytest.fixture
def credentials():
    return Credentials({"CS_STORE_HMAC_KEY": HMAC_KEY, "CS_SUN_META_READ_KEY": META_KEY,
                        "CS_SUN_FILE_READ_MASTER_KEY": MASTER_KEY})


@pytest.fixture
def setup(mosquitto, make_config, capture, publisher, credentials, caplog):
    caplog.set_level(logging.DEBUG)
    device = f"udp:127.0.0.1:{free_udp_port()}"
    emulator = CardEmulator(device)
    _, config = make_config(mosquitto, extra=f'[nfc]\ndevice = "{device}"\npoll_interval_s = 0.02\n')
    topics = Topics(config.store.id, config.device.id)
    cap = capture(mosquitto, ["cs/#"])
    pub = publisher(mosquitto)
    agent = Agent(config, credentials)
    agent.start()
    assert agent.link.wait_connected(10)
    assert emulator.wait_for_reader(10), "the agent's reader never polled"
    now = datetime.now(UTC)
    key = bytes.fromhex(HMAC_KEY)
    pushes = [
        ("customer", {"customer": GOLD, "version": 1, "first_name": "Sanne", "tier": "goud", "points": 5120,
                      "consents": [{"purpose": "recognition", "until": (now + timedelta(days=365)).isoformat()},
                                   {"purpose": "personal-offers", "until": (now + timedelta(days=365)).isoformat()}]}),
        ("customer", {"customer": EXPIRED, "version": 1, "first_name": "Piet",
                      "consents": [{"purpose": "recognition", "until": (now - timedelta(seconds=1)).isoformat()}]}),
        ("card-link", {"card": card_token(key, GOLD_UID), "version": 1, "kind": "customer", "customer": GOLD}),
        ("card-link", {"card": card_token(key, EXPIRED_UID), "version": 1, "kind": "customer", "customer": EXPIRED}),
        ("card-link", {"card": card_token(key, STAFF_UID), "version": 1, "kind": "staff", "staff": "s-anna"}),
    ]
    for kind, data in pushes:
        _, payload = encode(PUSHES[kind], data)
        pub.publish(PUSHES[kind].topic_for(config.store.id), payload)
    cap.wait_for(lambda ms: agent.inbox.applied >= len(pushes), timeout=15)
    yield agent, emulator, cap, pub, topics, config
    emulator.close()
    agent.stop()


def sessions(cap, state="started"):
    return [m.json()["data"] for m in cap.on("/local/session") if m.json()["data"]["state"] == state]


def tap_and_wait(emulator, cap, card, count_before):
    # The card stays until its session is out, however long a busy machine takes to read it.
    emulator.hold(card)
    try:
        cap.wait_for(lambda ms: len(sessions(cap)) > count_before, timeout=10)
    finally:
        emulator.remove()
    # A card put back before the reader noticed it leave is the same presence
    # (as on a real reader); shoppers don't tap twice within a second.
    time.sleep(1.0)
    return sessions(cap)[-1]


def gold_sun_card(counter_box):
    keys = SunKeys(bytes.fromhex(META_KEY), bytes.fromhex(MASTER_KEY))

    def url():
        counter_box[0] += 1
        return sun_url("https://tuin.example/k", GOLD_UID, counter_box[0], keys)

    return Type4Card(GOLD_UID, url_for_tap=url)


def test_tapped_cards_get_the_right_session_and_no_uid_leaks(setup, caplog):
    agent, emulator, cap, _pub, _topics, _config = setup
    counter = [0]
    gold = tap_and_wait(emulator, cap, gold_sun_card(counter), 0)
    assert gold["outcome"] == "recognised" and gold["assurance"] == "sun"
    assert gold["customer"]["first_name"] == "Sanne" and gold["customer"]["points"] == 5120

    uid_only = tap_and_wait(emulator, cap, Type2Card(GOLD_UID), 1)
    assert uid_only["outcome"] == "recognised" and uid_only["assurance"] == "uid"
    assert uid_only["customer"]["points"] is None, "balances only at sun assurance"

    expired = tap_and_wait(emulator, cap, Type2Card(EXPIRED_UID), 2)
    assert expired["outcome"] == "anonymous" and expired["customer"] is None and expired["invite_to_enrol"]

    unknown = tap_and_wait(emulator, cap, Type2Card(UNKNOWN_UID), 3)
    assert unknown["outcome"] == "unknown-card" and unknown["invite_to_enrol"]

    staff = tap_and_wait(emulator, cap, Type2Card(STAFF_UID), 4)
    assert staff["outcome"] == "staff" and staff["staff"] == "s-anna" and staff["customer"] is None

    # The same SUN message twice: the second is a replay.
    keys = SunKeys(bytes.fromhex(META_KEY), bytes.fromhex(MASTER_KEY))
    fixed = sun_url("https://tuin.example/k", GOLD_UID, 1000, keys)
    first = tap_and_wait(emulator, cap, Type4Card(GOLD_UID, url_for_tap=lambda: fixed), 5)
    replay = tap_and_wait(emulator, cap, Type4Card(GOLD_UID, url_for_tap=lambda: fixed), 6)
    assert first["outcome"] == "recognised"
    assert replay["outcome"] == "rejected" and replay["reason"] == "replayed-counter"

    taps = cap.wait_topic("/event/tap", count=7)
    outcomes = [m.json()["data"]["outcome"] for m in taps]
    assert outcomes == ["recognised", "recognised", "anonymous", "unknown-card", "staff", "recognised", "rejected"]
    assert all(not m.retain for m in cap.on("/local/session"))

    texts = {"database": "\n".join(agent.store.conn.iterdump()), "log": caplog.text,
             "mqtt": "\n".join(f"{m.topic} {m.payload!r}" for m in cap.messages)}
    for where, text in texts.items():
        assert_no_uid(text, UIDS, where)


def test_withdrawal_at_the_kiosk_erases_and_sends_consent_upstream(setup):
    agent, emulator, cap, pub, topics, _config = setup
    gold = tap_and_wait(emulator, cap, Type2Card(GOLD_UID), 0)
    request = topics.device_root + "/local/request/withdraw-consent"
    pub.publish(request, envelope("request-withdraw-consent/1", {"session": gold["session"]}, transaction="w-1"))
    response = cap.wait_topic("/local/response/withdraw-consent")[0].json()
    assert response["status"] == "ok" and response["transaction"] == "w-1"
    assert sorted(response["data"]["withdrawn"]) == ["personal-offers", "recognition"]
    consent = cap.wait_topic("/event/consent", count=2)
    assert {m.json()["data"]["purpose"] for m in consent} == {"recognition", "personal-offers"}
    with agent.store.reading() as conn:
        assert conn.execute("SELECT count(*) FROM customers WHERE customer = ?", (GOLD,)).fetchone()[0] == 0
    ended = sessions(cap, "ended")
    assert ended[-1]["session"] == gold["session"] and ended[-1]["reason"] == "consent-withdrawn"
    again = tap_and_wait(emulator, cap, Type2Card(GOLD_UID), 1)
    assert again["outcome"] == "unknown-card"


def test_erasure_sent_while_the_agent_is_offline_is_applied_on_reconnect(setup, credentials):
    agent, _emulator, cap, pub, _topics, config = setup
    agent.stop()
    _, payload = encode(PUSHES["erasure"], {"request_id": "er-offline-1", "customer": EXPIRED})
    pub.publish(PUSHES["erasure"].topic_for(config.store.id), payload)
    restarted = Agent(config, credentials)
    restarted.start()
    try:
        ack = cap.wait_topic("/event/erasure-ack", timeout=15)[0].json()["data"]
        assert ack == {"request_id": "er-offline-1", "customer": EXPIRED, "erased_records": 3}
        with restarted.store.reading() as conn:
            for table, column in CUSTOMER_TABLES:
                assert conn.execute(f"SELECT count(*) FROM {table} WHERE {column} = ?",
                                    (EXPIRED,)).fetchone()[0] == 0
    finally:
        restarted.stop()
