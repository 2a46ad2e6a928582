"""Bulk work waits while a device command is handled (so the command has the interpreter to itself), and
never longer than the cap: a flood of commands cannot stop it."""

import threading

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent import link
from edge_agent.link import Intake, Received
from tests.support.mosquitto import Mosquitto

ROOT = "cs/v1/s1/kiosk-1"


def received(topic: str, mid: int, intake: Intake | None = None) -> Received:
    return Received(None, topic, b"{}", mid, 1, False, intake)  # type: ignore[arg-type]


def test_bulk_message_is_taken_only_once_the_command_being_handled_is_done(monkeypatch):
    monkeypatch.setattr(link, "YIELD_MAX_S", 600.0)
    intake = Intake(ROOT + "/request/", ROOT + "/probe")
    intake.put(received(f"{ROOT}/request/ping", 1))
    command = intake.get(Intake.COMMANDS)
    intake.put(received("cs/v1/central/s1/catalogue", 2))
    taken: list[Received | None] = []
    bulk = threading.Thread(target=lambda: taken.append(intake.get(Intake.BULK)))
    bulk.start()
    bulk.join(0.3)
    assert bulk.is_alive() and not taken, "bulk work went ahead while the command was being handled"
    assert command is not None
    intake.done(Intake.COMMANDS)
    bulk.join(60)
    assert [item.mid for item in taken if item] == [2]


def test_long_handler_yields_between_its_steps_while_a_command_waits_and_goes_on_after_it(monkeypatch):
    monkeypatch.setattr(link, "YIELD_MAX_S", 600.0)
    intake = Intake(ROOT + "/request/", ROOT + "/probe")
    push = received("cs/v1/central/s1/catalogue", 1, intake)
    intake.put(received(f"{ROOT}/request/ping", 2))
    steps: list[str] = []
    handler = threading.Thread(target=lambda: (push.yield_to_commands(), steps.append("next slice")))
    handler.start()
    handler.join(0.3)
    assert handler.is_alive() and not steps, "the push went on while a command was queued"
    intake.get(Intake.COMMANDS)
    intake.done(Intake.COMMANDS)
    handler.join(60)
    assert steps == ["next slice"]


def test_flood_of_commands_delays_bulk_work_at_most_by_the_cap_each_time(monkeypatch):
    monkeypatch.setattr(link, "YIELD_MAX_S", 0.01)
    intake = Intake(ROOT + "/request/", ROOT + "/probe")
    for mid in range(50):
        intake.put(received(f"{ROOT}/request/ping", mid))  # never taken: the command thread is stuck
    intake.put(received(f"{ROOT}/local/request/product", 100))
    item = intake.get(Intake.BULK, timeout=60)
    assert item is not None and item.mid == 100


def test_command_thread_lets_bulk_work_resume_only_once_paho_has_written_the_answer(tmp_path):
    broker = Mosquitto(workdir=tmp_path / "broker").start()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="flush", protocol=mqtt.MQTTv311)
    connected = threading.Event()
    client.on_connect = lambda *args: connected.set()
    try:
        client.connect("127.0.0.1", broker.port)
        client.loop_start()
        assert connected.wait(60)
        for _ in range(200):
            client.publish("answers", b"x" * 10_000, qos=1)
        link._flushed(client, 60.0)
        assert not client.want_write(), "bulk work would resume with the answer still unwritten"
    finally:
        client.disconnect()
        client.loop_stop()
        broker.close()
