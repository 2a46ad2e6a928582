"""Sessions from card reads, on a real database with real SUN messages, and the agent's own session limits
(in process with the clocks injected, and an agent process with a real Mosquitto and nfcpy's UDP reader)."""

import json
import logging
import time
from datetime import UTC, datetime, timedelta

import pytest

from edge_agent.central import apply_card_link, apply_customer
from edge_agent.commands import CommandError
from edge_agent.config import SessionConfig
from edge_agent.contract import COMMANDS, PUSHES, CardLinkPush, CustomerProfile, SessionRequest, Topics, encode
from edge_agent.identity import Assurance, Outcome, card_token
from edge_agent.nfc.emulator import CardEmulator, Type2Card, free_udp_port
from edge_agent.nfc.reader import CardRead
from edge_agent.nfc.sun import SunKeys, sun_url
from edge_agent.outbox import Outbox
from edge_agent.privacy import CUSTOMER_TABLES
from edge_agent.sessions import SessionService
from edge_agent.store import Store
from kiosk.config import SessionSection
from tests.support.agent import config_text, new_store_id
from tests.support.cards import PIET_UID as EXPIRED_UID  # here a card whose consent has expired
from tests.support.cards import SANNE, STAFF_UID, UNKNOWN_UID
from tests.support.cards import SANNE_UID as GOLD_UID
from tests.support.cards import STORE_HMAC_KEY_HEX as HMAC_KEY_HEX
from tests.support.uid_spellings import assert_no_uid

KEY = bytes(range(32))
SUN_KEYS = SunKeys(bytes.fromhex("11" * 16), bytes.fromhex("22" * 16))
NOW = datetime(2026, 4, 1, 9, 30, tzinfo=UTC)
TOPICS = Topics("store-1", "kiosk-1")
ALL_UIDS = (GOLD_UID, EXPIRED_UID, STAFF_UID, UNKNOWN_UID)
GOLD = "c-00000000000000000000000000000001"
EXPIRED = "c-00000000000000000000000000000002"


def read(uid: bytes, url: str | None = None, problem: str | None = None, tag_type: str = "Type2Tag") -> CardRead:
    return CardRead(uid=uid, tag_type=tag_type, ndef_uri=url, problem=problem)


def sun_read(uid: bytes, counter: int) -> CardRead:
    url = sun_url("https://shop.example/c", uid, counter, SUN_KEYS)
    return read(uid, url, tag_type="Type4Tag")


@pytest.fixture
def world(tmp_path):
    store = Store(tmp_path / "agent.db")
    outbox = Outbox(store, TOPICS, max_rows=10_000)
    published: list[dict] = []

    def publish(topic, payload):
        assert topic == TOPICS.session
        published.append(json.loads(payload))
        return True

    clock = {"now": NOW}
    service = SessionService(store, outbox, publish, device="kiosk-1", session_topic=TOPICS.session,
                             hmac_key=KEY, sun_keys=SUN_KEYS, now=lambda: clock["now"])
    with store.transaction(durable=True) as conn:
        for customer, until, name in ((GOLD, NOW + timedelta(days=365), "Sanne"),
                                      (EXPIRED, NOW - timedelta(seconds=1), "Piet")):
            apply_customer(conn, CustomerProfile(
                customer=customer, version=1, first_name=name, tier="goud", points=5120,
                consents=[{"purpose": "recognition", "until": until},
                          {"purpose": "personal-offers", "until": until}]), outbox)
        for uid, kind, subject in ((GOLD_UID, "customer", GOLD), (EXPIRED_UID, "customer", EXPIRED),
                                   (STAFF_UID, "staff", "s-anna")):
            apply_card_link(conn, CardLinkPush(card=card_token(KEY, uid), version=1, kind=kind,
                                               **{kind: subject}), outbox)
    return store, outbox, published, service, clock


def events(outbox, name):
    return [json.loads(p.payload) for p in outbox.after(0, 10_000) if p.topic.endswith("/" + name)]


def test_opted_in_customer_with_uid_card_is_recognised_with_uid_level_data(world):
    store, outbox, published, service, _ = world
    decision = service.on_tap(read(GOLD_UID))
    assert decision.outcome is Outcome.RECOGNISED and decision.assurance is Assurance.UID
    session = published[-1]
    assert session["data"]["state"] == "started" and session["data"]["customer"]["first_name"] == "Sanne"
    assert session["data"]["customer"]["points"] is None, "balances only at sun assurance"
    tap = events(outbox, "tap")[-1]["data"]
    assert tap["outcome"] == "recognised" and tap["customer"] == GOLD
    with store.reading() as conn:
        assert conn.execute("SELECT use FROM data_use WHERE customer = ?", (GOLD,)).fetchone()[0] == "recognised"


def test_sun_card_shows_balance_and_a_replayed_message_is_rejected(world):
    _, _, published, service, _ = world
    first = sun_read(GOLD_UID, 10)
    assert service.on_tap(first).assurance is Assurance.SUN
    assert published[-1]["data"]["customer"]["points"] == 5120
    replay = service.on_tap(first)
    assert replay.outcome is Outcome.REJECTED and replay.reason == "replayed-counter"
    older = service.on_tap(sun_read(GOLD_UID, 9))
    assert older.outcome is Outcome.REJECTED and older.reason == "replayed-counter"
    assert service.on_tap(sun_read(GOLD_UID, 11)).outcome is Outcome.RECOGNISED
    assert published[-1]["data"]["customer"]["first_name"] == "Sanne"


def test_a_tap_writes_counter_event_and_data_use_in_one_full_commit_before_the_session_and_wakes_the_drain_after(
        world):
    # One fsync per tap is what the screen waits for; a second commit (the SUN counter on its own) or a
    # drain woken at the commit (publishing the tap event ahead of the session) would be more.
    store, outbox, published, service, _ = world
    statements: list[str] = []
    store.conn.set_trace_callback(statements.append)
    woken_after: list[int] = []
    outbox.add_listener(lambda: woken_after.append(len(published)))
    for tap in (sun_read(GOLD_UID, 30), read(GOLD_UID)):
        statements.clear()
        woken_after.clear()
        before = len(published)
        assert service.on_tap(tap).outcome is Outcome.RECOGNISED
        commits = [index for index, sql in enumerate(statements) if sql.strip().upper() == "COMMIT"]
        assert len(commits) == 1, f"one commit per tap, not {len(commits)}"
        levels = [sql for sql in statements[:commits[0]] if sql.startswith("PRAGMA synchronous")]
        assert levels[-1] == "PRAGMA synchronous=FULL", "the tap's commit is durable"
        written = " ".join(statements[:commits[0]])
        assert "INSERT INTO outbox" in written and "INSERT INTO data_use" in written
        assert ("INSERT INTO sun_counters" in written) == (tap.ndef_uri is not None)
        assert [m["data"]["state"] for m in published[before:]][-1] == "started"
        assert woken_after == [len(published)], "the drain is woken once, after the session is published"
    store.conn.set_trace_callback(None)


def test_a_sun_tap_whose_commit_fails_records_no_counter_and_the_same_message_is_accepted_next_time(world):
    store, _, published, service, _ = world
    message = sun_read(GOLD_UID, 40)
    store.conn.execute("CREATE TEMP TRIGGER refuse BEFORE INSERT ON data_use BEGIN "
                       "SELECT RAISE(ABORT, 'database or disk is full'); END")
    refused = service.on_tap(message)
    assert refused.outcome is Outcome.REJECTED and refused.reason == "try-again"
    assert published[-1]["data"]["customer"] is None
    with store.reading() as conn:
        assert conn.execute("SELECT count(*) FROM sun_counters").fetchone()[0] == 0, "rolled back with the tap"
    store.conn.execute("DROP TRIGGER refuse")
    assert service.on_tap(message).outcome is Outcome.RECOGNISED, "not taken for a replay of itself"


def test_tampered_sun_url_is_rejected_for_every_flipped_bit_of_the_mac(world):
    _, _, _, service, _ = world
    url = sun_url("https://shop.example/c", GOLD_UID, 20, SUN_KEYS)
    mac = url.rsplit("cmac=", 1)[1]
    for bit in range(64):
        flipped = f"{int(mac, 16) ^ (1 << bit):016X}"
        decision = service.on_tap(read(GOLD_UID, url.replace(mac, flipped), tag_type="Type4Tag"))
        assert decision.outcome is Outcome.REJECTED and decision.reason == "bad-mac"


def test_sun_message_of_another_card_is_rejected(world):
    _, _, _, service, _ = world
    other = sun_url("https://shop.example/c", UNKNOWN_UID, 5, SUN_KEYS)
    decision = service.on_tap(read(GOLD_UID, other, tag_type="Type4Tag"))
    assert decision.outcome is Outcome.REJECTED and decision.reason == "uid-mismatch"


def test_consent_expired_a_second_ago_gives_an_anonymous_session_with_invitation(world):
    _, outbox, published, service, _ = world
    decision = service.on_tap(read(EXPIRED_UID))
    assert decision.outcome is Outcome.ANONYMOUS
    data = published[-1]["data"]
    assert data["customer"] is None and data["invite_to_enrol"] and data["may_show"] == []
    assert events(outbox, "tap")[-1]["data"]["customer"] is None


def test_consent_expiring_during_the_day_stops_recognition_from_that_moment(world):
    _, _, _, service, clock = world
    assert service.on_tap(read(GOLD_UID)).outcome is Outcome.RECOGNISED
    clock["now"] = NOW + timedelta(days=365, seconds=1)
    assert service.on_tap(read(GOLD_UID)).outcome is Outcome.ANONYMOUS


def test_unknown_card_staff_badge_and_bad_reads(world):
    _, _, published, service, _ = world
    assert service.on_tap(read(UNKNOWN_UID)).outcome is Outcome.UNKNOWN_CARD
    assert published[-1]["data"]["invite_to_enrol"]
    staff = service.on_tap(read(STAFF_UID))
    assert staff.outcome is Outcome.STAFF and published[-1]["data"]["staff"] == "s-anna"
    assert published[-1]["data"]["customer"] is None
    for bad, reason in ((read(bytes(5)), "odd-uid-length"), (read(b""), "no-uid"),
                        (read(GOLD_UID, problem="pulled-away"), "pulled-away")):
        decision = service.on_tap(bad)
        assert decision.outcome is Outcome.REJECTED and decision.reason == reason
    # A random ID (4 bytes starting 0x08) changes every tap: it identifies nothing.
    random_id = service.on_tap(read(bytes.fromhex("08a1b2c3"), problem="random-uid"))
    assert random_id.outcome is Outcome.REJECTED and random_id.reason == "random-uid"
    # Four- and ten-byte UIDs are real cards, just unknown ones here.
    assert service.on_tap(read(bytes.fromhex("1ca1b2c3"))).outcome is Outcome.UNKNOWN_CARD
    assert service.on_tap(read(bytes(range(1, 11)))).outcome is Outcome.UNKNOWN_CARD
    # A tag without NDEF or with broken NDEF still has a UID: a UID card.
    assert service.on_tap(read(GOLD_UID, problem="malformed-ndef")).outcome is Outcome.RECOGNISED


def test_a_new_tap_ends_the_previous_session(world):
    _, _, published, service, _ = world
    service.on_tap(read(GOLD_UID))
    first = published[-1]["data"]["session"]
    service.on_tap(read(UNKNOWN_UID))
    ended = [m["data"] for m in published if m["data"]["state"] == "ended"]
    assert ended[-1]["session"] == first and ended[-1]["reason"] == "new-tap"
    assert ended[-1]["customer"] is None and ended[-1]["may_show"] == []


def test_withdrawal_at_the_kiosk_erases_local_data_and_sends_never_dropped_consent_events(world):
    store, outbox, published, service, _ = world
    service.on_tap(read(GOLD_UID))
    session = published[-1]["data"]["session"]
    service.my_data(SessionRequest(session=session))
    result = service.withdraw_consent(SessionRequest(session=session))
    assert result.withdrawn == ["personal-offers", "recognition"] and result.erased_records >= 5
    with store.reading() as conn:
        for table, column in CUSTOMER_TABLES:
            assert conn.execute(f"SELECT count(*) FROM {table} WHERE {column} = ?", (GOLD,)).fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM outbox WHERE critical = 1").fetchone()[0] == 2
    consent = [e["data"] for e in events(outbox, "consent")]
    assert {c["purpose"] for c in consent} == {"recognition", "personal-offers"}
    assert all(not c["granted"] and c["source"] == "kiosk" for c in consent)
    assert published[-1]["data"]["state"] == "ended" and published[-1]["data"]["reason"] == "consent-withdrawn"
    assert service.on_tap(read(GOLD_UID)).outcome is Outcome.UNKNOWN_CARD


def test_my_data_shows_consents_and_data_use_log_only_for_the_own_session(world):
    _, _, published, service, _ = world
    service.on_tap(read(GOLD_UID))
    session = published[-1]["data"]["session"]
    mine = service.my_data(SessionRequest(session=session))
    assert [c.purpose for c in mine.consents] == ["personal-offers", "recognition"]
    assert mine.data_use[0].use == "viewed own data" and mine.data_use[1].use == "recognised"
    assert mine.customer.first_name == "Sanne"
    with pytest.raises(CommandError, match="no such session"):
        service.my_data(SessionRequest(session="01a20735-b502-769a-a830-637530718552"))
    service.on_tap(read(UNKNOWN_UID))
    with pytest.raises(CommandError):
        service.my_data(SessionRequest(session=published[-1]["data"]["session"]))


def test_card_removal_ends_the_session_only_when_configured(world):
    _, _, published, service, _ = world
    service.on_tap(read(GOLD_UID))
    service.on_removed()
    assert published[-1]["data"]["state"] == "started"
    service._end_on_removal = True
    service.on_removed()
    assert published[-1]["data"]["state"] == "ended" and published[-1]["data"]["reason"] == "card-removed"


def test_no_raw_uid_in_database_outbox_published_sessions_or_logs(world, caplog):
    store, _, published, service, _ = world
    caplog.set_level(logging.DEBUG)
    for uid in ALL_UIDS:
        service.on_tap(read(uid))
        service.on_tap(sun_read(uid, 3))
    dump = "\n".join(store.conn.iterdump())
    texts = {"database": dump, "published": json.dumps(published), "log": caplog.text}
    for where, text in texts.items():
        assert_no_uid(text, ALL_UIDS, where)


# ---------------------------------------------------------------------- the agent's own limits

def limited(world, idle_s: float, max_s: float = 600.0, clock=None) -> SessionService:
    """A session service on ``world``'s database and wall clock with the limits given."""
    store, outbox, published, _, wall = world

    def publish(topic, payload):
        published.append(json.loads(payload))
        return True

    options = {"clock": clock} if clock is not None else {}
    return SessionService(store, outbox, publish, device="kiosk-1", session_topic=TOPICS.session, hmac_key=KEY,
                          sun_keys=SUN_KEYS, idle_s=idle_s, max_s=max_s, now=lambda: wall["now"], **options)


def ended_messages(published, session: str) -> list[dict]:
    return [m["data"] for m in published if m["data"]["session"] == session and m["data"]["state"] == "ended"]


def wait_for(condition, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def test_session_idle_for_idle_s_is_ended_by_the_agent_with_its_message_and_later_requests_are_refused(world):
    _, _, published, _, _ = world
    service = limited(world, idle_s=0.5)
    session = service.on_tap(read(GOLD_UID))
    started = published[-1]["data"]["session"]
    assert session.outcome is Outcome.RECOGNISED
    assert service.my_data(SessionRequest(session=started)).customer is not None
    # No request: the agent's timer ends it, as the kiosk's own end would be published.
    assert wait_for(lambda: ended_messages(published, started)), "the idle session was never ended"
    (ended,) = ended_messages(published, started)
    assert (ended["reason"], ended["customer"], ended["may_show"]) == ("idle", None, [])
    for ask in (service.my_data, service.withdraw_consent):
        with pytest.raises(CommandError, match="session ended"):
            ask(SessionRequest(session=started))
    with pytest.raises(CommandError, match="session ended"):
        service.current(started)
    assert len(ended_messages(published, started)) == 1


def test_requests_within_idle_s_keep_a_session_and_max_s_ends_it_all_the_same(world):
    _, _, published, _, _ = world
    boot = {"s": 1000.0}
    service = limited(world, idle_s=60, max_s=600, clock=lambda: boot["s"])
    service.on_tap(read(GOLD_UID))
    started = published[-1]["data"]["session"]
    for _ in range(11):  # a request every 50 s: never idle for 60 s, 550 s in all
        boot["s"] += 50
        assert service.expire() is False
        service.my_data(SessionRequest(session=started))
    boot["s"] += 50  # 600 s since the tap
    with pytest.raises(CommandError, match=r"session ended \(open for 600 s\)"):
        service.my_data(SessionRequest(session=started))
    assert [m["reason"] for m in ended_messages(published, started)] == ["max-duration"]
    service.close()


@pytest.mark.parametrize("jump", [timedelta(minutes=30), timedelta(minutes=-30)], ids=["forward", "backward"])
def test_wall_clock_jump_during_a_session_ends_nothing_early_and_keeps_nothing_late(world, jump):
    _, _, published, _, wall = world
    service = limited(world, idle_s=1.0)
    service.on_tap(read(GOLD_UID))
    started = published[-1]["data"]["session"]
    wall["now"] += jump  # NTP steps the clock, or someone sets it
    # Not early: the session answers right after the jump, however far the clock moved within reason.
    assert service.my_data(SessionRequest(session=started)).customer is not None
    assert ended_messages(published, started) == []
    # Not late: a second of real time without a request ends it, whichever way the wall clock went.
    assert wait_for(lambda: ended_messages(published, started)), "the session outlived its idle limit"
    assert [m["reason"] for m in ended_messages(published, started)] == ["idle"]
    with pytest.raises(CommandError, match="session ended"):
        service.my_data(SessionRequest(session=started))


@pytest.mark.parametrize("jump", [timedelta(days=400), timedelta(days=-400)], ids=["forward", "backward"])
def test_session_whose_wall_clock_start_is_400_days_from_now_is_ended_at_its_next_request(world, jump):
    _, _, published, _, wall = world
    service = limited(world, idle_s=60)
    service.on_tap(read(GOLD_UID))
    started = published[-1]["data"]["session"]
    wall["now"] += jump
    with pytest.raises(CommandError, match=r"session ended .*wall clock"):
        service.my_data(SessionRequest(session=started))
    assert [m["reason"] for m in ended_messages(published, started)] == ["clock-jump"]
    service.close()


def test_agent_limit_defaults_let_a_working_kiosk_end_its_session_first():
    # The kiosk ends a session idle_timeout_s after the last touch; the agent's idle limit is a
    # backstop behind it, never ahead of it.
    agent, kiosk = SessionConfig(), SessionSection()
    assert kiosk.idle_timeout_s < agent.idle_s < 90 <= agent.max_s
    with pytest.raises(ValueError, match="idle_s must not exceed max_s"):
        SessionConfig(idle_s=120, max_s=60)


def test_agent_process_ends_a_session_idle_for_idle_s_publishes_it_and_refuses_my_data_and_account(
        mosquitto, tmp_path, agent_process, capture, publisher, monkeypatch):
    monkeypatch.setenv("CS_STORE_HMAC_KEY", HMAC_KEY_HEX)
    device = f"udp:127.0.0.1:{free_udp_port()}"
    store = new_store_id()
    config_path = tmp_path / "agent.toml"
    config_path.write_text(config_text(mosquitto.port, tmp_path / "agent.db", store, extra=(
        f'[nfc]\ndevice = "{device}"\npoll_interval_s = 0.02\n[sessions]\nidle_s = 1\nmax_s = 600\n')))
    topics = Topics(store, "kiosk-1")
    cap = capture(mosquitto, ["cs/#"])
    pub = publisher(mosquitto)
    with CardEmulator(device) as emulator:
        agent_process(config_path)
        cap.wait_for(lambda ms: any(m.topic == topics.birth for m in ms), timeout=30)
        assert emulator.wait_for_reader(30), "the agent's reader never polled"
        until = (datetime.now(UTC) + timedelta(days=365)).isoformat()
        for kind, data in (("customer", {"customer": SANNE, "version": 1, "first_name": "Sanne",
                                         "consents": [{"purpose": "recognition", "until": until}]}),
                           ("card-link", {"card": card_token(bytes.fromhex(HMAC_KEY_HEX), GOLD_UID), "version": 1,
                                          "kind": "customer", "customer": SANNE})):
            _, payload = encode(PUSHES[kind], data)
            pub.publish(PUSHES[kind].topic_for(store), payload)
        # The pushes may not be applied at the first tap (an unknown card then): tap until recognised.
        def session_messages(state: str) -> list[dict]:
            return [m.json()["data"] for m in cap.messages
                    if m.topic == topics.session and m.json()["data"]["state"] == state]

        for attempt in range(1, 11):
            emulator.hold(Type2Card(GOLD_UID))
            try:
                cap.wait_for(lambda ms, n=attempt: len(session_messages("started")) >= n, timeout=30)
            finally:
                emulator.remove()
            session = session_messages("started")[-1]
            if session["outcome"] == "recognised":
                break
            time.sleep(1.0)  # a card put back at once is the same presence; shoppers don't tap twice a second
        assert session["outcome"] == "recognised"
        # No request for idle_s: the agent ends it and says so on the local topic.
        cap.wait_for(lambda ms: any(m["session"] == session["session"] for m in session_messages("ended")), 30)
        assert [m["reason"] for m in session_messages("ended") if m["session"] == session["session"]] == ["idle"]
        for command in ("my-data", "account"):
            _, raw = encode(COMMANDS[command], {"session": session["session"]}, transaction=f"t-{command}")
            pub.publish(COMMANDS[command].topic_for(store, "kiosk-1"), raw)
            response = cap.wait_for(lambda ms, c=command: [m for m in ms if m.topic.endswith(f"/response/{c}")],
                                    timeout=30)
            answer = next(m.json() for m in response if m.topic.endswith(f"/response/{command}"))
            assert (answer["status"], answer["transaction"]) == ("error", f"t-{command}")
            assert answer["error"].startswith("session ended"), answer["error"]
