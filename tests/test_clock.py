"""Time jumps: consents are judged by the trusted wall clock only, neither ended early nor kept late.

In process with the system time injected (a Pi that boots behind, then NTP jumps it forward months; a clock
set back by hand), on a real database; and ``edge-agent run`` in a child process with a real Mosquitto,
nfcpy's UDP reader and emulated cards, whose clock is shifted by ``[clock] offset_s`` and whose
synchronisation is systemd-timesyncd's marker file in the test's folder (faketime is not installed, and no
test may change the host's clock).
"""

from __future__ import annotations

import json
import sqlite3
import time
from datetime import UTC, datetime, timedelta

import pytest

from edge_agent.central import apply_card_link, apply_customer
from edge_agent.clock import CLOCK_NOT_SYNCHRONISED, EARLIEST_PLAUSIBLE, WallClock, kernel_synchronised
from edge_agent.config import parse_config
from edge_agent.contract import PUSHES, CardLinkPush, CustomerProfile, Topics, encode
from edge_agent.identity import Outcome, card_token
from edge_agent.nfc.emulator import CardEmulator, Type2Card, free_udp_port
from edge_agent.nfc.reader import CardRead
from edge_agent.outbox import Outbox
from edge_agent.sessions import SessionService
from edge_agent.store import Store
from tests.support.cards import PIET_UID, SANNE_UID, STAFF_UID
from tests.support.cards import STORE_HMAC_KEY_HEX as HMAC_KEY_HEX

KEY = bytes.fromhex(HMAC_KEY_HEX)
TOPICS = Topics("store-1", "kiosk-1")
# The consent of the customer ends here; the real "now" of the scenario is a month before it.
CONSENT_END = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)
CUSTOMER = "c-00000000000000000000000000000c01"
STAFF = "s-anna"


class FakeSystem:
    """The system's clock and its NTP state, as the Pi sees them."""

    def __init__(self, now: datetime, synchronised: bool):
        self.now = now
        self.synchronised = synchronised

    def time(self) -> float:
        return self.now.timestamp()

    def kernel(self) -> bool:
        return self.synchronised


def test_a_time_before_the_earliest_plausible_is_never_trusted_whatever_the_mode(tmp_path):
    marker = tmp_path / "synchronized"
    marker.touch()
    system = FakeSystem(datetime(1970, 1, 1, 0, 1, tzinfo=UTC), synchronised=True)
    for trust in ("synchronized", "plausible"):
        clock = WallClock(trust, marker, system_time=system.time, kernel=system.kernel)
        assert not clock.trusted() and clock.trusted_now() is None
        assert "before" in (clock.why_untrusted() or "")
    system.now = EARLIEST_PLAUSIBLE
    assert WallClock("plausible", marker, system_time=system.time, kernel=system.kernel).trusted()


def test_an_unsynchronised_clock_is_untrusted_until_the_kernel_or_the_timesyncd_marker_says_synchronised(tmp_path):
    marker = tmp_path / "synchronized"
    system = FakeSystem(CONSENT_END - timedelta(days=30), synchronised=False)
    clock = WallClock("synchronized", marker, system_time=system.time, kernel=system.kernel)
    assert not clock.trusted()
    marker.touch()  # systemd-timesyncd's first sync after boot
    assert clock.trusted()
    marker.unlink()
    system.synchronised = True  # chrony or ntpd: only the kernel's status says it
    assert clock.trusted()
    without_kernel = WallClock("synchronized", marker, kernel_status=False, system_time=system.time,
                               kernel=system.kernel)
    assert not without_kernel.trusted()


def test_the_kernel_status_is_read_without_privilege_and_answers_a_bool():
    # adjtimex with modes = 0 changes nothing; whatever this host's NTP state, it must not raise.
    assert kernel_synchronised() in (True, False)


def test_an_unknown_trust_mode_is_refused_with_its_name():
    with pytest.raises(ValueError, match="'sometimes'"):
        WallClock("sometimes")


def test_the_offset_shifts_the_clock_months_ahead_or_behind():
    system = FakeSystem(CONSENT_END, synchronised=True)
    ahead = WallClock(offset_s=200 * 86400, system_time=system.time, kernel=system.kernel)
    behind = WallClock(offset_s=-200 * 86400, system_time=system.time, kernel=system.kernel)
    assert ahead.now() - CONSENT_END == timedelta(days=200)
    assert CONSENT_END - behind.now() == timedelta(days=200)


def test_clock_trust_is_read_from_the_configuration_and_defaults_to_synchronised(tmp_path):
    base = '[store]\nid = "s"\n[device]\nid = "d"\n'
    assert parse_config(base).clock.trust == "synchronized"
    config = parse_config(base + f'[clock]\ntrust = "plausible"\nsynchronized_file = "{tmp_path / "m"}"\n'
                                 'kernel_status = false\noffset_s = -86400\n')
    clock = WallClock.from_config(config.clock)
    assert abs((datetime.now(UTC) - clock.now()).total_seconds() - 86400) < 60


# ---------------------------------------------------------------------- sessions on a shifted clock


@pytest.fixture
def pi(tmp_path):
    """A kiosk's sessions on a real database, its wall clock the fake system's, synchronised by a marker."""
    store = Store(tmp_path / "agent.db")
    outbox = Outbox(store, TOPICS, max_rows=10_000)
    system = FakeSystem(CONSENT_END - timedelta(days=30), synchronised=False)
    marker = tmp_path / "synchronized"
    clock = WallClock("synchronized", marker, system_time=system.time, kernel=system.kernel)
    published: list[dict] = []

    def publish(topic, payload):
        published.append(json.loads(payload)["data"])
        return True

    service = SessionService(store, outbox, publish, device="kiosk-1", session_topic=TOPICS.session, hmac_key=KEY,
                             now=clock.now, consent_now=clock.trusted_now)
    with store.transaction(durable=True) as conn:
        apply_customer(conn, CustomerProfile(customer=CUSTOMER, version=1, first_name="Sanne", consents=[
            {"purpose": "recognition", "until": CONSENT_END},
            {"purpose": "personal-offers", "until": CONSENT_END}]), outbox)
        apply_card_link(conn, CardLinkPush(card=card_token(KEY, SANNE_UID), version=1, kind="customer",
                                           customer=CUSTOMER), outbox)
        apply_card_link(conn, CardLinkPush(card=card_token(KEY, STAFF_UID), version=1, kind="staff", staff=STAFF),
                        outbox)
    yield store, system, marker, service, published
    service.close()
    store.close()


def tap(service: SessionService, uid: bytes = SANNE_UID):
    return service.on_tap(CardRead(uid=uid, tag_type="Type2Tag"))


def data_uses(store: Store) -> int:
    with store.reading() as conn:
        return conn.execute("SELECT count(*) FROM data_use").fetchone()[0]


def test_before_ntp_sync_a_consented_customer_is_anonymous_without_an_invitation_and_nothing_is_logged(pi):
    store, system, _marker, service, published = pi
    # The Pi booted after a power cut with fake-hwclock's time, 200 days behind: by it the consent holds.
    system.now = CONSENT_END + timedelta(days=20) - timedelta(days=200)
    decision = tap(service)
    assert decision.outcome is Outcome.ANONYMOUS and decision.reason == CLOCK_NOT_SYNCHRONISED
    assert not decision.invite_to_enrol, "she may well have consented: no invitation while the clock is unknown"
    assert published[-1]["customer"] is None and published[-1]["may_show"] == []
    assert data_uses(store) == 0
    staff = tap(service, STAFF_UID)
    assert staff.outcome is Outcome.STAFF, "a staff badge needs no consent"


def test_ntp_jumping_the_clock_forward_past_the_consent_end_does_not_keep_it_late(pi):
    store, system, _marker, service, _ = pi
    system.now = CONSENT_END + timedelta(days=20) - timedelta(days=200)  # behind, not synchronised
    assert tap(service).reason == CLOCK_NOT_SYNCHRONISED
    system.now, system.synchronised = CONSENT_END + timedelta(days=20), True  # NTP arrives: +200 days
    decision = tap(service)
    assert decision.outcome is Outcome.ANONYMOUS and decision.reason == "no valid recognition consent"
    assert data_uses(store) == 0


def test_a_synchronised_clock_before_the_consent_end_recognises_up_to_the_last_second(pi):
    _store, system, marker, service, published = pi
    marker.touch()
    system.now = CONSENT_END - timedelta(seconds=1)
    assert tap(service).outcome is Outcome.RECOGNISED
    assert published[-1]["customer"]["first_name"] == "Sanne"
    system.now = CONSENT_END
    assert tap(service).outcome is Outcome.ANONYMOUS


def test_a_clock_set_wrongly_ahead_does_not_end_the_consent_early_once_the_system_calls_it_unsynchronised(pi):
    store, system, _marker, service, _ = pi
    # Someone sets the clock a year ahead by hand: settimeofday clears the kernel's NTP status,
    # so the consent is not judged (not ended); once NTP puts the time back, it holds again.
    system.now, system.synchronised = CONSENT_END + timedelta(days=365), False
    assert tap(service).reason == CLOCK_NOT_SYNCHRONISED
    with store.reading() as conn:
        assert conn.execute("SELECT count(*) FROM consents WHERE customer = ?", (CUSTOMER,)).fetchone()[0] == 2
    system.now, system.synchronised = CONSENT_END - timedelta(days=30), True
    assert tap(service).outcome is Outcome.RECOGNISED


# ---------------------------------------------------------------------- an agent with a shifted clock


def test_agent_process_waits_for_the_timesyncd_marker_then_judges_consents_by_its_shifted_clock(
        tmp_path, mosquitto, make_config, agent_process, capture, publisher, monkeypatch):
    """``edge-agent run`` with its clock 200 days ahead (``[clock] offset_s``): before the marker appears a
    consented customer is anonymous; after it, a consent ending within the 200 days is over, one ending after
    them holds."""
    monkeypatch.setenv("CS_STORE_HMAC_KEY", HMAC_KEY_HEX)  # the child process inherits it
    marker = tmp_path / "synchronized"
    device = f"udp:127.0.0.1:{free_udp_port()}"
    emulator = CardEmulator(device)
    offset_days = 200
    path, config = make_config(mosquitto, extra=(
        f'[nfc]\ndevice = "{device}"\npoll_interval_s = 0.02\n'
        f'[clock]\ntrust = "synchronized"\nsynchronized_file = "{marker}"\nkernel_status = false\n'
        f'offset_s = {offset_days * 86400}\n'))
    cap = capture(mosquitto, ["cs/#"])
    pub = publisher(mosquitto)
    agent = agent_process(path)
    try:
        assert emulator.wait_for_reader(30), agent.log()
        real_now = datetime.now(UTC)
        short, long = "c-00000000000000000000000000000d01", "c-00000000000000000000000000000d02"
        pushes = [
            ("customer", {"customer": short, "version": 1, "first_name": "Sanne", "consents": [
                {"purpose": "recognition", "until": (real_now + timedelta(days=30)).isoformat()}]}),
            ("customer", {"customer": long, "version": 1, "first_name": "Piet", "consents": [
                {"purpose": "recognition", "until": (real_now + timedelta(days=offset_days + 30)).isoformat()}]}),
            ("card-link", {"card": card_token(KEY, SANNE_UID), "version": 1, "kind": "customer", "customer": short}),
            ("card-link", {"card": card_token(KEY, PIET_UID), "version": 1, "kind": "customer", "customer": long}),
        ]
        for kind, data in pushes:
            _, payload = encode(PUSHES[kind], data)
            pub.publish(PUSHES[kind].topic_for(config.store.id), payload)
        assert wait_for(lambda: rows(config.database.path, "card_links") == 2, 30), agent.log()

        def tap_card(uid: bytes) -> dict:
            before = len(started(cap))
            emulator.hold(Type2Card(uid))
            try:
                cap.wait_for(lambda ms: len(started(cap)) > before, timeout=15)
            finally:
                emulator.remove()
            time.sleep(1.0)  # the reader must see the card leave before the next one counts as a new tap
            return started(cap)[-1]

        before_sync = tap_card(PIET_UID)
        assert before_sync["outcome"] == "anonymous" and before_sync["reason"] == CLOCK_NOT_SYNCHRONISED
        assert cap.wait_for(lambda ms: any(not m.json()["data"]["clock_trusted"] for m in cap.on("/health")), 15), \
            "health says the clock is not trusted"
        marker.touch()  # NTP synchronised
        assert cap.wait_for(lambda ms: cap.on("/health")[-1].json()["data"]["clock_trusted"], 15)
        assert tap_card(SANNE_UID)["outcome"] == "anonymous", "by the trusted clock her consent ended"
        piet = tap_card(PIET_UID)
        assert piet["outcome"] == "recognised" and piet["customer"]["first_name"] == "Piet"
        assert "the wall clock is not trusted" in agent.log() and "the wall clock is trusted" in agent.log()
    finally:
        emulator.close()
        assert agent.terminate() == 0


def started(cap) -> list[dict]:
    return [m.json()["data"] for m in cap.on("/local/session") if m.json()["data"]["state"] == "started"]


def rows(db, table: str) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    except sqlite3.Error:
        return 0
    finally:
        conn.close()


def wait_for(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()
