"""The link's intake: device commands have their own lane, so they are not queued behind bulk work."""

import threading
import time

from edge_agent.agent import Agent
from edge_agent.contract import PUSHES, encode, gtin_check_digit
from edge_agent.link import Intake, Received
from tests.support.mqtt import envelope

ROOT = "cs/v1/s1/kiosk-1"


def received(topic: str, mid: int) -> Received:
    return Received(None, topic, b"{}", mid, 1, False)  # type: ignore[arg-type]


def catalogue(version: int, count: int = 500) -> bytes:
    products = []
    for n in range(count):
        body = f"8712{n:08d}"
        gtin = "0" + body + str(gtin_check_digit(body))
        products.append({"gtin": gtin, "version": version, "name": {"nl": f"Product {n}"},
                         "description": {"nl": "Voor een groen en dicht gazon, 100 dagen werking."},
                         "price_cents": 100 + n, "category": f"cat-{n % 20}", "stock": n % 50})
    return encode(PUSHES["catalogue"], {"products": products})[1]


def test_commands_behind_bulk_work_are_taken_first_in_their_own_order():
    intake = Intake(ROOT + "/request/", ROOT + "/probe")
    for mid, topic in enumerate([f"{ROOT}/local/request/product", "cs/v1/central/s1/catalogue",
                                 f"{ROOT}/request/ping", f"{ROOT}/local/request/offers",
                                 f"{ROOT}/request/get-config", f"{ROOT}/probe"]):
        intake.put(received(topic, mid))
    intake.put(None)
    commands = [intake.get(Intake.COMMANDS) for _ in range(4)]
    bulk = [intake.get(Intake.BULK) for _ in range(4)]
    assert [item.mid for item in commands[:3]] == [2, 4, 5] and commands[3] is None
    assert [item.mid for item in bulk[:3]] == [0, 1, 3] and bulk[3] is None
    assert len(intake) == 0


def test_intake_without_priority_keeps_one_lane_in_arrival_order():
    intake = Intake(ROOT + "/request/", ROOT + "/probe", priority=False)
    for mid, topic in enumerate([f"{ROOT}/local/request/product", f"{ROOT}/request/ping"]):
        intake.put(received(topic, mid))
    assert [intake.get(Intake.BULK).mid for _ in range(2)] == [0, 1]


def test_ping_sent_behind_catalogue_pushes_is_answered_before_they_are_applied_and_all_apply_in_order(
        mosquitto, make_config, capture, publisher):
    _, config = make_config(mosquitto)
    root = f"cs/v1/{config.store.id}/{config.device.id}"
    cap = capture(mosquitto, f"{root}/response/#")
    agent = Agent(config)
    agent.start()
    pushes = [catalogue(version) for version in range(1, 61)]
    try:
        assert agent.link.wait_connected(10)
        sender = publisher(mosquitto)
        for payload in pushes:
            sender.publish(f"cs/v1/central/{config.store.id}/catalogue", payload)
        applied_when_answered: list[int] = []
        answered = threading.Event()

        def watch():
            cap.wait_topic("/response/ping", timeout=60)
            applied_when_answered.append(agent.inbox.applied)
            answered.set()

        watcher = threading.Thread(target=watch)
        watcher.start()
        sender.publish(f"{root}/request/ping", envelope("request-ping/1", {}, transaction="t-1"))
        watcher.join(70)
        assert answered.is_set()
        assert applied_when_answered[0] < len(pushes)  # one lane would answer after the 60th push
        deadline = time.monotonic() + 120
        while agent.inbox.applied < len(pushes) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert agent.inbox.applied == len(pushes) and agent.inbox.rejected == 0  # in order: none was older
        with agent.store.reading() as conn:
            assert {row[0] for row in conn.execute("SELECT version FROM products")} == {len(pushes)}
    finally:
        agent.stop()
