"""The device checks on the real agent: emulated cards on nfcpy's UDP reader, a real Mosquitto, and the
kiosk's side as a plain MQTT client sending the checks screen's local requests in a staff session.

Each figure is compared with what it should be: the reader test's card type, assurance and link (and that a
customer's card in test mode opens no session, queues no tap and logs no UID), the outbox depth after events
queued with the broker stopped, disk free against ``os.statvfs``, the database's size against its files, the
clock against a push stamped two minutes behind, the versions against ``importlib.metadata``, and the
refusals outside staff mode and for the staff role.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import time
from datetime import UTC, datetime, timedelta
from importlib.metadata import version

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge_agent import __version__
from edge_agent.agent import Agent
from edge_agent.camera.app_qr import issue_token, public_key_hex
from edge_agent.contract import COMMANDS, PUSHES, Topics, encode, new_id
from edge_agent.contract.payloads_device_checks import ChecksRequest
from edge_agent.credentials import Credentials
from edge_agent.identity import card_token
from edge_agent.nfc.emulator import CardEmulator, Type2Card, Type4Card, free_udp_port
from edge_agent.nfc.sun import SunKeys, sun_url
from edge_agent.staff.pin import hash_pin
from tests.support.camera_scenes import code_image, codes_video, presence_video
from tests.support.cards import SANNE as CUSTOMER
from tests.support.cards import SANNE_UID, STAFF_UID, UNKNOWN_UID
from tests.support.cards import STORE_HMAC_KEY_HEX as HMAC_KEY
from tests.support.cards import SUN_FILE_READ_MASTER_KEY_HEX as MASTER_KEY
from tests.support.cards import SUN_META_READ_KEY_HEX as META_KEY
from tests.support.uid_spellings import assert_no_uid

MANAGER_UID = bytes.fromhex("04555555555555")  # Bob's badge: a manager
UIDS = (SANNE_UID, STAFF_UID, UNKNOWN_UID, MANAGER_UID)
ANNA_PIN, BOB_PIN = "2468", "13572468"
VERIFIERS = {ANNA_PIN: hash_pin(ANNA_PIN), BOB_PIN: hash_pin(BOB_PIN)}
EAN = "8712345678906"


class Screen:
    """The kiosk's checks screen as an MQTT client: sends a local request, waits for its answer."""

    def __init__(self, cap, pub, topics: Topics):
        self.cap, self.pub, self.topics = cap, pub, topics

    def ask(self, command: str, session: str, **fields) -> dict:
        transaction = new_id()
        _, payload = encode(COMMANDS[command], {"session": session, **fields}, transaction=transaction)
        self.pub.publish(COMMANDS[command].topic_for(self.topics.store, self.topics.device), payload)
        found = self.cap.wait_for(lambda ms: any(self._answers(m, command, transaction) for m in ms), timeout=20)
        return next(m.json() for m in found if self._answers(m, command, transaction))

    def _answers(self, message, command: str, transaction: str) -> bool:
        return message.topic == self.topics.response(command) and message.json().get("transaction") == transaction

    def report(self, session: str) -> dict:
        answer = self.ask("device-checks", session)
        assert answer["status"] == "ok", answer
        return answer["data"]

    def wait_report(self, session: str, predicate, timeout: float = 30.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            data = self.report(session)
            if predicate(data):
                return data
            if time.monotonic() > deadline:
                raise TimeoutError(f"report never matched: {data}")
            time.sleep(0.2)


def sun_card(uid: bytes, counter: list[int]) -> Type4Card:
    keys = SunKeys(bytes.fromhex(META_KEY), bytes.fromhex(MASTER_KEY))

    def url() -> str:
        counter[0] += 1
        return sun_url("https://tuin.example/k", uid, counter[0], keys)

    return Type4Card(uid, url_for_tap=url)


@pytest.fixture
def make_world(mosquitto, make_config, capture, publisher, caplog):
    """``make_world(extra="", broker=mosquitto)``: the agent with an emulated reader (and ``extra`` configuration),
    central's customer and card links pushed; (agent, emulator, capture, screen, config)."""
    caplog.set_level(logging.DEBUG)
    made = []

    def make(extra: str = "", broker=mosquitto):
        device = f"udp:127.0.0.1:{free_udp_port()}"
        emulator = CardEmulator(device)
        _, config = make_config(broker, extra=(f'[nfc]\ndevice = "{device}"\npoll_interval_s = 0.02\n'
                                               '[sessions]\nend_on_card_removal = true\n' + extra))
        topics = Topics(config.store.id, config.device.id)
        cap = capture(broker, ["cs/#"])
        pub = publisher(broker)
        agent = Agent(config, Credentials({"CS_STORE_HMAC_KEY": HMAC_KEY, "CS_SUN_META_READ_KEY": META_KEY,
                                           "CS_SUN_FILE_READ_MASTER_KEY": MASTER_KEY}))
        made.append((emulator, agent))
        agent.start()
        assert agent.link.wait_connected(10)
        assert emulator.wait_for_reader(10), "the agent's reader never polled"
        key = bytes.fromhex(HMAC_KEY)
        until = (datetime.now(UTC) + timedelta(days=365)).isoformat()
        pushes = [("customer", {"customer": CUSTOMER, "version": 1, "first_name": "Sanne",
                                "consents": [{"purpose": "recognition", "until": until}]}),
                  ("card-link", {"card": card_token(key, SANNE_UID), "version": 1, "kind": "customer",
                                 "customer": CUSTOMER}),
                  ("card-link", {"card": card_token(key, STAFF_UID), "version": 1, "kind": "staff",
                                 "staff": "s-anna"}),
                  ("card-link", {"card": card_token(key, MANAGER_UID), "version": 1, "kind": "staff",
                                 "staff": "s-bob"}),
                  ("staff", {"staff": "s-anna", "version": 1, "display_name": "Anna", "role": "staff",
                             "pin_verifier": VERIFIERS[ANNA_PIN]}),
                  ("staff", {"staff": "s-bob", "version": 1, "display_name": "Bob", "role": "manager",
                             "pin_verifier": VERIFIERS[BOB_PIN]})]
        for kind, data in pushes:
            _, payload = encode(PUSHES[kind], data)
            pub.publish(PUSHES[kind].topic_for(config.store.id), payload)
        cap.wait_for(lambda _: agent.inbox.applied >= len(pushes), timeout=15)
        return agent, emulator, cap, Screen(cap, pub, topics), config

    yield make
    for emulator, agent in made:
        emulator.close()
        agent.stop()


@pytest.fixture
def world(make_world):
    return make_world()


def started_sessions(cap) -> list[dict]:
    return [m.json()["data"] for m in cap.on("/local/session") if m.json()["data"]["state"] == "started"]


def staff_session(emulator, cap, screen: Screen | None = None, manager: bool = False) -> str:
    """Tap Anna's staff badge (Bob's, a manager's, with ``manager``), lift it and type the PIN: the staff-mode
    session's id."""
    before = len(started_sessions(cap))
    emulator.hold(Type2Card(MANAGER_UID if manager else STAFF_UID))
    cap.wait_for(lambda _: len(started_sessions(cap)) > before, timeout=15)
    emulator.remove()
    session = started_sessions(cap)[-1]
    assert session["outcome"] == "staff"
    if screen is not None:
        answer = screen.ask("staff-pin", session["session"], pin=BOB_PIN if manager else ANNA_PIN)
        assert answer["status"] == "ok" and answer["data"]["state"] == "active", answer
    return session["session"]


def test_test_taps_report_type_assurance_and_link_and_a_customer_card_opens_no_session_nor_logs_a_uid(
        world, caplog):
    agent, emulator, cap, screen, _config = world
    session = staff_session(emulator, cap, screen)
    assert screen.report(session)["reader_test"]["state"] == "idle"
    counter = [0]
    expected = [  # card, tag type, product, assurance, SUN failure, linked
        (sun_card(SANNE_UID, counter), "Type4Tag", None, "sun-verified", None, "customer"),
        (Type2Card(SANNE_UID), "Type2Tag", "NXP NTAG213", "uid-only", None, "customer"),
        (Type2Card(STAFF_UID), "Type2Tag", "NXP NTAG213", "uid-only", None, "staff"),
        (Type2Card(UNKNOWN_UID), "Type2Tag", "NXP NTAG213", "uid-only", None, "unknown"),
    ]
    fixed = sun_url("https://tuin.example/k", SANNE_UID, 500, SunKeys(bytes.fromhex(META_KEY),
                                                                     bytes.fromhex(MASTER_KEY)))
    replayed = Type4Card(SANNE_UID, url_for_tap=lambda: fixed)
    expected += [(replayed, "Type4Tag", None, "sun-verified", None, "customer"),
                 (replayed, "Type4Tag", None, "sun-failed", "replayed-counter", "unknown")]
    sessions_before = len(started_sessions(cap))
    for card, tag_type, product, assurance, failure, linked in expected:
        armed = screen.ask("reader-test", session)
        assert armed["status"] == "ok" and armed["data"]["state"] == "waiting", armed
        emulator.hold(card)
        report = screen.wait_report(session, lambda r: r["reader_test"]["state"] == "done")
        emulator.remove()
        result = report["reader_test"]["result"]
        assert (result["tag_type"], result["product"], result["assurance"], result["sun_failure"],
                result["linked"]) == (tag_type, product, assurance, failure, linked), result
        time.sleep(0.5)  # the reader has seen the card leave before the next one comes
    assert len(started_sessions(cap)) == sessions_before, "a test tap opens no session"
    assert agent.sessions is not None and agent.sessions.current(session) is not None, "staff mode stays"
    assert len(cap.on("/event/tap")) == 1, "only the staff badge's tap went upstream"
    texts = {"database": "\n".join(agent.store.conn.iterdump()), "log": caplog.text,
             "mqtt": "\n".join(f"{m.topic} {m.payload!r}" for m in cap.messages)}
    for where, text in texts.items():
        assert_no_uid(text, UIDS, where)
    checks = [m.payload for m in cap.messages if "/local/response/" in m.topic]
    assert checks and not any(CUSTOMER.encode() in payload or b"Sanne" in payload for payload in checks)
    with agent.store.reading() as conn:
        assert conn.execute("SELECT count(*) FROM data_use").fetchone()[0] == 0, "no one's data was used"

    # Once the test has its tap, the next customer card is a session again (and ends staff mode).
    emulator.hold(Type2Card(SANNE_UID))
    cap.wait_for(lambda _: len(started_sessions(cap)) > sessions_before, timeout=15)
    emulator.remove()
    assert started_sessions(cap)[-1]["outcome"] == "recognised"


def test_an_armed_test_of_a_staff_mode_that_ended_leaves_the_next_tap_to_the_customer(world):
    agent, emulator, cap, screen, _config = world
    session = staff_session(emulator, cap, screen)
    assert screen.ask("reader-test", session)["status"] == "ok"
    assert agent.sessions is not None and agent.sessions.end("test", session)
    before = len(started_sessions(cap))
    emulator.hold(Type2Card(SANNE_UID))
    cap.wait_for(lambda _: len(started_sessions(cap)) > before, timeout=15)
    emulator.remove()
    assert started_sessions(cap)[-1]["outcome"] == "recognised"
    assert agent.device_checks.reader_test is not None and agent.device_checks.reader_test.tests == 0


def test_outside_staff_mode_every_check_is_refused_and_for_the_staff_role_the_manager_actions(world):
    _agent, emulator, cap, screen, _config = world
    for command in ("device-checks", "reader-test", "test-event", "restart-kiosk"):
        answer = screen.ask(command, new_id())
        assert answer["status"] == "error" and "not in staff mode" in answer["error"], answer
    session = staff_session(emulator, cap, screen)
    assert screen.report(session)["role"] == "staff"
    for command in ("test-event", "restart-kiosk"):
        answer = screen.ask(command, session)
        assert answer["status"] == "error" and "needs the manager role" in answer["error"], answer
    assert not cap.on("/event/device-test"), "nothing was sent for a refused test"


def test_figures_disk_database_versions_and_the_broker_round_trip_are_right(world):
    agent, emulator, cap, screen, config = world
    session = staff_session(emulator, cap, screen)
    report = screen.report(session)
    stat = os.statvfs(os.path.dirname(config.database.path))
    assert abs(report["disk_free_bytes"] - stat.f_bavail * stat.f_frsize) < 256 * 2**20  # other writers on the disk
    path = str(config.database.path)
    files = sum(os.path.getsize(name) for name in (path, path + "-wal", path + "-shm") if os.path.exists(name))
    assert report["database_bytes"] > 0 and abs(report["database_bytes"] - files) <= 2**20
    versions = report["versions"]
    assert versions["agent"] == __version__ and versions["python"] == platform.python_version()
    assert versions["contract"] == "v1"
    assert versions["libraries"]["paho-mqtt"] == version("paho-mqtt")
    assert versions["libraries"]["nfcpy"] == version("nfcpy")
    assert report["connected"] is True and report["reader_state"] == "ok" and report["camera"] is None
    # Each report sends a probe: the round trip it measured shows in a later report, measured after it.
    asked = time.monotonic()
    fresh = screen.wait_report(session, lambda r: r["broker_rtt_ms"] is not None and r["broker_rtt_age_s"] is not None
                               and r["broker_rtt_age_s"] < time.monotonic() - asked)
    assert fresh["broker_rtt_ms"] > 0
    assert agent.broker_rtt_at is not None


def test_a_push_stamped_two_minutes_ahead_says_this_clock_is_two_minutes_behind_central(world):
    agent, emulator, cap, screen, config = world
    session = staff_session(emulator, cap, screen)
    before = screen.report(session)["clock"]
    assert before["source"] == "central-pushes" and before["samples"] >= 3, "the fixtures' pushes were samples"
    assert abs(before["ahead_s"]) < 60, "the fixtures' pushes were stamped by this very clock"
    # Central's clock two minutes ahead of this one: its push says it was sent two minutes from now.
    ahead = (datetime.now(UTC) + timedelta(seconds=120)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    message = PUSHES["card-link"]
    _, payload = encode(message, {"card": "k-" + "ab" * 32, "version": 1, "kind": "customer", "customer": CUSTOMER})
    document = json.loads(payload)
    document["ts"] = ahead
    applied = agent.inbox.applied
    screen.pub.publish(message.topic_for(config.store.id), json.dumps(document).encode())
    cap.wait_for(lambda _: agent.inbox.applied > applied, timeout=15)
    clock = screen.report(session)["clock"]
    assert clock["samples"] == before["samples"] + 1
    # received - ts = offset + transit: -120 s plus however long the push took (well under a minute).
    assert -120.5 <= clock["ahead_s"] < -60, clock
    assert clock["last_sample_age_s"] is not None and clock["last_sample_age_s"] < 60
    assert clock["synchronised"] in (True, False, None)


def test_outbox_depth_and_oldest_age_count_the_events_queued_while_the_broker_is_stopped(make_world, own_mosquitto):
    agent, emulator, cap, screen, _config = make_world(broker=own_mosquitto)
    session = staff_session(emulator, cap, screen)
    report = screen.wait_report(session, lambda r: r["outbox_depth"] == 0)
    assert report["outbox_oldest_age_s"] is None
    own_mosquitto.stop()
    assert wait(lambda: not agent.link.connected)
    first = time.monotonic()
    for index in range(7):
        agent.emit("footfall", {"interval_start": "2026-04-01T09:30:00Z", "interval_s": 60.0, "count": index})
    # The broker is away, so the screen cannot ask over MQTT: the agent's answer, taken directly.
    offline = agent.device_checks.report(ChecksRequest(session=session))
    assert offline.connected is False and offline.outbox_depth == 7
    assert offline.outbox_oldest_age_s is not None and 0 <= offline.outbox_oldest_age_s <= time.monotonic() - first + 1
    own_mosquitto.start()
    assert agent.link.wait_connected(60) and agent.link.wait_subscribed(60)
    assert wait(lambda: screen.pub.client.is_connected() and screen.cap.client.is_connected())
    time.sleep(0.5)  # the capture's subscription, renewed on its reconnect, is in place
    assert screen.wait_report(session, lambda r: r["outbox_depth"] == 0, timeout=60)["outbox_oldest_age_s"] is None


def wait(predicate, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_the_camera_reports_its_rate_masks_and_the_last_code_a_product_with_its_gtin_an_app_code_as_just_that(
        make_world, tmp_path):
    key = Ed25519PrivateKey.generate()
    token = issue_token(key, CUSTOMER, ttl_s=120)
    video = tmp_path / "codes.avi"
    codes_video(video, [(None, 5), (code_image(EAN, "EAN13", scale=3), 30), (None, 30),
                        (code_image(token, "qr", scale=4), 30), (None, 30)])
    corner = "[[0.0, 0.0], [0.1, 0.0], [0.1, 0.1], [0.0, 0.1]]"
    other = "[[0.9, 0.9], [1.0, 0.9], [1.0, 1.0]]"
    _agent, emulator, cap, screen, _config = make_world(
        f'[camera]\nsource = "{video}"\nloop = true\nmasks = [{corner}, {other}]\n'
        f'[camera.presence]\nenabled = false\n'
        f'[camera.app_qr]\npublic_keys = {{ "1" = "{public_key_hex(key)}" }}\n')
    session = staff_session(emulator, cap, screen)
    product = screen.wait_report(session, lambda r: (r["camera"]["last_code"] or {}).get("kind") == "product")
    camera = product["camera"]
    assert camera["state"] == "ok" and camera["fps"] > 0 and camera["privacy_masks"] == 2
    assert camera["last_code"]["gtin"] == "0" + EAN and camera["last_code"]["format"] == "ean-13"
    # The app code opens Sanne's session, which ends staff mode (as her card would): staff tap their badge again.
    cap.wait_for(lambda _: started_sessions(cap)[-1]["outcome"] != "staff", timeout=30)
    session = staff_session(emulator, cap, screen)
    app = screen.wait_report(session, lambda r: r["camera"]["last_code"]["kind"] == "app")["camera"]["last_code"]
    assert app["format"] is None and app["gtin"] is None
    checks = [m.payload for m in cap.messages if m.topic.endswith("/local/response/device-checks")]
    assert not any(token.encode() in payload or CUSTOMER.encode() in payload for payload in checks)


def test_the_camera_says_whether_someone_is_there_now(make_world, tmp_path):
    video = tmp_path / "presence.avi"
    presence_video(video, empty_before=60, stand_frames=150, empty_after=90)
    _agent, emulator, cap, screen, _config = make_world(
        f'[camera]\nsource = "{video}"\nloop = true\n[camera.codes]\nenabled = false\n')
    session = staff_session(emulator, cap, screen)
    assert screen.wait_report(session, lambda r: r["camera"]["present"] is True, timeout=60)
    assert screen.wait_report(session, lambda r: r["camera"]["present"] is False, timeout=60)
    assert screen.report(session)["camera"]["privacy_masks"] == 0


def audits(cap) -> list[dict]:
    return [m.json()["data"] for m in cap.on("/event/staff-audit")]


def test_a_managers_test_event_goes_upstream_through_the_outbox_and_the_report_says_when_the_broker_had_it(world):
    _agent, emulator, cap, screen, _config = world
    session = staff_session(emulator, cap, screen, manager=True)
    assert screen.report(session)["role"] == "manager"
    sent = screen.ask("test-event", session)
    assert sent["status"] == "ok", sent
    event = sent["data"]["event"]
    upstream = cap.wait_topic("/event/device-test")[0].json()
    assert upstream["id"] == event and upstream["data"]["test"] is True
    assert upstream["data"]["reason"] == "device-checks"
    delivered = screen.wait_report(session, lambda r: r["test_event"]["delivered"])["test_event"]
    assert delivered["event"] == event and delivered["delivered_after_s"] >= 0
    restart = screen.ask("restart-kiosk", session)
    assert restart["status"] == "ok" and restart["data"]["exit_code"] == 75
    cap.wait_for(lambda _: {"test-event", "restart-kiosk"} <= {a["action"] for a in audits(cap)}, timeout=15)
    mine = [(a["staff"], a["action"], a["result"], a["target"]) for a in audits(cap)
            if a["action"] in ("device-checks-open", "test-event", "restart-kiosk")]
    assert mine == [("s-bob", "device-checks-open", "ok", None), ("s-bob", "test-event", "ok", event),
                    ("s-bob", "restart-kiosk", "ok", None)], "each action audited once, the reports not"


def test_the_staff_role_is_refused_the_managers_actions_and_each_refusal_is_audited(world):
    _agent, emulator, cap, screen, _config = world
    session = staff_session(emulator, cap, screen)
    assert screen.ask("reader-test", session)["status"] == "ok"
    for command in ("test-event", "restart-kiosk"):
        assert screen.ask(command, session)["status"] == "error"
    cap.wait_for(lambda _: sum(a["action"] in ("test-event", "restart-kiosk") for a in audits(cap)) == 2, timeout=15)
    mine = [(a["staff"], a["action"], a["result"]) for a in audits(cap)
            if a["action"] in ("device-checks-open", "reader-test", "test-event", "restart-kiosk")]
    assert mine == [("s-anna", "reader-test", "ok"), ("s-anna", "test-event", "refused"),
                    ("s-anna", "restart-kiosk", "refused")]
    assert not cap.on("/event/device-test")


def test_the_content_pack_the_agent_holds_is_named_in_the_checks(make_world, tmp_path):
    from tests.test_content_control_e2e import write_pack

    pack = tmp_path / "pack"
    write_pack(pack, "7")
    _, emulator, cap, screen, _ = make_world(f'[content]\nfolder = "{pack}"\ncheck_s = 0.5\n')
    session = staff_session(emulator, cap, screen)
    assert screen.wait_report(session, lambda r: r["content_pack"] is not None)["content_pack"] == "proef 7"
