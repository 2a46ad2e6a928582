"""Store key rotation: real taps on nfcpy's UDP reader, the agent, a real Mosquitto.

A card's token is ``HMAC-SHA256(store key, UID)``. Rotating the key puts the
new key in ``store-hmac-key``, the old one in ``store-hmac-key-previous`` and
the end of the window in ``[privacy] key_rotation_until``. A card enrolled
under the old key must be recognised before the rotation (old key), during it
(found under the old key, re-linked to its new token, central told once by a
``card-relink`` event) and after it (found under its new token; the old key is
no longer used). No UID may appear in the database, the log or on the broker.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from edge_agent.agent import Agent
from edge_agent.config import parse_config
from edge_agent.contract import EVENTS, PUSHES, Topics, decode, encode
from edge_agent.credentials import Credentials, store_keys
from edge_agent.errors import ConfigError, CredentialError
from edge_agent.identity import StoreKeys, card_token
from edge_agent.nfc.emulator import CardEmulator, Type2Card, Type4Card, free_udp_port
from edge_agent.nfc.sun import SunKeys, sun_url
from edge_agent.outbox import Outbox
from edge_agent.privacy import relink_card
from edge_agent.store import Store
from tests.support.cards import PIET, PIET_UID, SANNE, SANNE_UID
from tests.support.cards import STORE_HMAC_KEY_HEX as OLD_KEY
from tests.support.cards import SUN_FILE_READ_MASTER_KEY_HEX as MASTER_KEY
from tests.support.cards import SUN_META_READ_KEY_HEX as META_KEY

NEW_KEY = "6b" * 32
SUN = SunKeys(bytes.fromhex(META_KEY), bytes.fromhex(MASTER_KEY))


def uid_spellings(uid: bytes) -> list[str]:
    """The ways a UID may be written: hex in both cases, with and without colons or spaces."""
    forms = []
    for text in (uid.hex(), uid.hex().upper()):
        pairs = [text[i:i + 2] for i in range(0, len(text), 2)]
        forms += [text, ":".join(pairs), " ".join(pairs), "-".join(pairs)]
    return forms


def credentials(current: str, previous: str | None = None) -> Credentials:
    environ = {"CS_STORE_HMAC_KEY": current, "CS_SUN_META_READ_KEY": META_KEY,
               "CS_SUN_FILE_READ_MASTER_KEY": MASTER_KEY}
    if previous is not None:
        environ["CS_STORE_HMAC_KEY_PREVIOUS"] = previous
    return Credentials(environ)


def removals(caplog) -> int:
    return sum(1 for record in caplog.records if record.getMessage() == "card removed")


def sessions(cap):
    return [m.json()["data"] for m in cap.on("/local/session") if m.json()["data"]["state"] == "started"]


class Phase:
    """One agent on the store's database, with its own emulated reader."""

    def __init__(self, mosquitto, make_config, caplog, store: str, creds: Credentials,
                 rotation_until: datetime | None):
        self.caplog = caplog
        self.device = f"udp:127.0.0.1:{free_udp_port()}"
        self.emulator = CardEmulator(self.device)
        extra = f'[nfc]\ndevice = "{self.device}"\npoll_interval_s = 0.02\n'
        if rotation_until is not None:
            extra += f'[privacy]\nkey_rotation_until = "{rotation_until.isoformat()}"\n'
        _, self.config = make_config(mosquitto, extra=extra, store=store)
        self.agent = Agent(self.config, creds)
        self.agent.start()
        assert self.agent.link.wait_connected(10)
        assert self.emulator.wait_for_reader(10), "the agent's reader never polled"

    def tap(self, cap, card) -> dict:
        before, removed = len(sessions(cap)), removals(self.caplog)
        self.emulator.hold(card)  # held until its session is out, however busy the machine
        try:
            cap.wait_for(lambda ms: len(sessions(cap)) > before, timeout=10)
        finally:
            self.emulator.remove()
        # The next card goes on only once the reader saw this one leave (else it is the same presence).
        cap.wait_for(lambda ms: removals(self.caplog) > removed, timeout=10)
        return sessions(cap)[-1]

    def stop(self) -> None:
        self.emulator.close()
        self.agent.stop()


@pytest.fixture
def store_id(make_config, mosquitto):
    _, config = make_config(mosquitto)
    return config.store.id


def push_enrolment(pub, store: str, key_hex: str) -> int:
    """Sanne and Piet, opted in, their cards enrolled under ``key_hex``; returns the number of pushes."""
    now = datetime.now(UTC)
    key = bytes.fromhex(key_hex)
    consents = [{"purpose": "recognition", "until": (now + timedelta(days=365)).isoformat()},
                {"purpose": "personal-offers", "until": (now + timedelta(days=365)).isoformat()}]
    pushes = [
        ("customer", {"customer": SANNE, "version": 1, "first_name": "Sanne", "tier": "goud", "consents": consents}),
        ("customer", {"customer": PIET, "version": 1, "first_name": "Piet", "consents": consents}),
        ("card-link", {"card": card_token(key, SANNE_UID), "version": 1, "kind": "customer", "customer": SANNE}),
        ("card-link", {"card": card_token(key, PIET_UID), "version": 1, "kind": "customer", "customer": PIET}),
    ]
    for kind, data in pushes:
        _, payload = encode(PUSHES[kind], data)
        pub.publish(PUSHES[kind].topic_for(store), payload)
    return len(pushes)


def test_card_enrolled_under_the_old_key_is_recognised_before_during_and_after_rotation_relinked_once(
        mosquitto, make_config, capture, publisher, store_id, caplog):
    caplog.set_level(logging.DEBUG)
    cap = capture(mosquitto, ["cs/#"])
    pub = publisher(mosquitto)
    old = card_token(bytes.fromhex(OLD_KEY), SANNE_UID)
    new = card_token(bytes.fromhex(NEW_KEY), SANNE_UID)

    # Before: the old key is the store key; central enrols the cards under it.
    phase = Phase(mosquitto, make_config, caplog, store_id, credentials(OLD_KEY), None)
    try:
        count = push_enrolment(pub, store_id, OLD_KEY)
        cap.wait_for(lambda ms: phase.agent.inbox.applied >= count, timeout=15)
        before = phase.tap(cap, Type2Card(SANNE_UID))
        assert before["outcome"] == "recognised" and before["customer"]["first_name"] == "Sanne"
        recorded = sun_url("https://tuin.example/k", SANNE_UID, 5, SUN)  # a SUN message someone could record
        assert phase.tap(cap, Type4Card(SANNE_UID, url_for_tap=lambda: recorded))["assurance"] == "sun"
    finally:
        phase.stop()
    topics = Topics(store_id, phase.config.device.id)

    # During: the new key is the store key, the old one the previous key, the window open for a day.
    phase = Phase(mosquitto, make_config, caplog, store_id, credentials(NEW_KEY, OLD_KEY),
                  datetime.now(UTC) + timedelta(days=1))
    try:
        replay = phase.tap(cap, Type4Card(SANNE_UID, url_for_tap=lambda: recorded))
        assert replay["outcome"] == "rejected" and replay["reason"] == "replayed-counter", \
            "the replay guard kept under the old token holds during the rotation"
        during = phase.tap(cap, Type2Card(SANNE_UID))
        assert during["outcome"] == "recognised" and during["customer"]["first_name"] == "Sanne"
        relinks = cap.wait_topic("/event/card-relink", timeout=15)
        assert relinks[0].topic == topics.event("card-relink")
        relinked = decode(EVENTS["card-relink"], relinks[0].payload).payload.model_dump()
        assert relinked == {"old_card": old, "new_card": new}
        with phase.agent.store.reading() as conn:
            cards = [row[0] for row in conn.execute("SELECT card FROM card_links WHERE subject = ?", (SANNE,))]
            counters = dict(conn.execute("SELECT card, counter FROM sun_counters").fetchall())
        assert cards == [new], "the card is re-linked locally to its new token"
        assert counters == {new: 5}, "its SUN counter moved with it"
        again = phase.tap(cap, Type4Card(SANNE_UID, url_for_tap=lambda: sun_url(
            "https://tuin.example/k", SANNE_UID, 6, SUN)))
        assert again["outcome"] == "recognised" and again["assurance"] == "sun"
        # Events leave the outbox in order: a second re-link would be on the broker before this tap's event.
        cap.wait_topic("/event/tap", count=5, timeout=15)
        assert len(cap.on("/event/card-relink")) == 1 and phase.agent.sessions.relinked == 1
    finally:
        phase.stop()

    # After: the window is over (the previous key still configured, as an operator may forget it): unused.
    phase = Phase(mosquitto, make_config, caplog, store_id, credentials(NEW_KEY, OLD_KEY),
                  datetime.now(UTC) - timedelta(seconds=1))
    try:
        after = phase.tap(cap, Type2Card(SANNE_UID))
        assert after["outcome"] == "recognised" and after["customer"]["first_name"] == "Sanne", \
            "recognised after the window through the re-link"
        replay = phase.tap(cap, Type4Card(SANNE_UID, url_for_tap=lambda: sun_url(
            "https://tuin.example/k", SANNE_UID, 6, SUN)))
        assert replay["reason"] == "replayed-counter"
        piet = phase.tap(cap, Type2Card(PIET_UID))
        assert piet["outcome"] == "unknown-card", "a card not re-linked in the window: the old key is not used"
        cap.wait_topic("/event/tap", count=8, timeout=15)
        assert len(cap.on("/event/card-relink")) == 1
        # Nothing of a session stays on the broker: a new subscriber gets no retained session before a marker
        # published after it subscribed (retained messages come first, at subscription).
        late = capture(mosquitto, [topics.session, "test/marker"])
        pub.publish("test/marker", b"after")
        late.wait_topic("test/marker", timeout=10)
        assert late.on("/local/session") == [], "a session was retained on the broker"
        dump = "\n".join(phase.agent.store.conn.iterdump())
    finally:
        phase.stop()
    assert "no longer used" in caplog.text

    texts = [dump, caplog.text, "\n".join(f"{m.topic} {m.payload!r}" for m in cap.messages)]
    for uid in (SANNE_UID, PIET_UID):
        for form in uid_spellings(uid):
            for where, text in zip(("database", "log", "mqtt"), texts, strict=True):
                assert form not in text, f"a UID spelled {form!r} found in the {where}"


# --------------------------------------------------------------------------- the keys, without a broker


def test_previous_key_is_used_only_before_the_end_of_the_window():
    until = datetime(2030, 1, 1, tzinfo=UTC)
    keys = StoreKeys(bytes.fromhex(NEW_KEY), bytes.fromhex(OLD_KEY), until)
    assert keys.token(SANNE_UID) == card_token(bytes.fromhex(NEW_KEY), SANNE_UID)
    assert keys.previous_token(SANNE_UID, until - timedelta(seconds=1)) == card_token(bytes.fromhex(OLD_KEY),
                                                                                      SANNE_UID)
    assert keys.previous_token(SANNE_UID, until) is None
    assert StoreKeys(bytes.fromhex(NEW_KEY)).previous_token(SANNE_UID, until) is None


def test_previous_key_without_a_window_is_refused_naming_both():
    with pytest.raises(CredentialError, match=r"store-hmac-key-previous.*key_rotation_until"):
        store_keys(credentials(NEW_KEY, OLD_KEY), None, datetime.now(UTC))


def test_previous_key_equal_to_the_current_one_is_refused():
    with pytest.raises(CredentialError, match="same key"):
        store_keys(credentials(NEW_KEY, NEW_KEY), datetime.now(UTC) + timedelta(days=1), datetime.now(UTC))


def test_short_previous_key_is_refused():
    with pytest.raises(CredentialError, match=r"store-hmac-key-previous.*16 bytes"):
        store_keys(credentials(NEW_KEY, "ab" * 8), datetime.now(UTC) + timedelta(days=1), datetime.now(UTC))


def test_window_over_at_start_leaves_the_previous_key_unused_and_says_so(caplog):
    keys = store_keys(credentials(NEW_KEY, OLD_KEY), datetime.now(UTC) - timedelta(days=1), datetime.now(UTC))
    assert keys.previous is None
    assert "no longer used; remove it" in caplog.text
    assert OLD_KEY not in caplog.text and NEW_KEY not in caplog.text


def test_rotation_window_end_without_a_time_zone_is_refused_with_its_key():
    text = '[store]\nid = "s-1"\n[device]\nid = "k-1"\n[privacy]\nkey_rotation_until = "2030-01-01T00:00:00"\n'
    with pytest.raises(ConfigError, match=r"privacy\.key_rotation_until"):
        parse_config(text, "agent.toml")


def test_relink_when_central_already_linked_the_new_token_keeps_central_s_link(tmp_path):
    store = Store(tmp_path / "agent.db")
    outbox = Outbox(store, Topics("s-1", "k-1"), 1000)
    old = card_token(bytes.fromhex(OLD_KEY), SANNE_UID)
    new = card_token(bytes.fromhex(NEW_KEY), SANNE_UID)
    with store.transaction(durable=True) as conn:
        for card, version in ((old, 1), (new, 2)):
            conn.execute("INSERT INTO card_links (card, version, kind, subject, active, updated) "
                         "VALUES (?, ?, 'customer', ?, 1, 0)", (card, version, SANNE))
        assert relink_card(conn, old, new, outbox) is False
    with store.reading() as conn:
        assert conn.execute("SELECT version FROM card_links WHERE card = ?", (new,)).fetchone()[0] == 2
        assert conn.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0
    store.close()
