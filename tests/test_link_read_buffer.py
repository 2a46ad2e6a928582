"""The read buffer under paho's network thread: every message arrives, whole and in order, and paho reads
through it (it relies on paho keeping its socket in ``_sock``: this test fails if a paho release stops). The writer's
packets go through the write batch (:mod:`edge_agent.mqtt_write_batch`), large ones beyond its limit too."""

import threading

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent.link import _socket_opened
from edge_agent.mqtt_read_buffer import ReadBuffer
from tests.support.faults import wait_until
from tests.support.mosquitto import Mosquitto


def client(name: str) -> mqtt.Client:
    made = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=name, protocol=mqtt.MQTTv311)
    made.on_socket_open = _socket_opened
    return made


def test_burst_of_small_and_large_messages_read_through_the_buffer_arrives_whole_and_in_order(tmp_path):
    broker = Mosquitto(workdir=tmp_path / "broker").start()
    sizes = [1, 2, 127, 128, 16_383, 16_384, 200_000, 65_536, 65_537, 3] * 40 + [5] * 2000
    got: list[bytes] = []
    lock = threading.Lock()
    subscribed = threading.Event()
    reader, writer = client("buffered-reader"), client("plain-writer")
    reader.on_message = lambda c, u, message: (lock.acquire(), got.append(message.payload), lock.release())
    reader.on_subscribe = lambda *args: subscribed.set()
    try:
        reader.connect("127.0.0.1", broker.port)
        reader.loop_start()
        reader.subscribe("burst", qos=1)
        assert subscribed.wait(60), "no SUBACK"
        # The write batch (edge_agent.mqtt_write_batch) wraps the read buffer.
        assert isinstance(reader._sock._sock, ReadBuffer), "paho no longer reads from _sock: the buffer is not in use"
        writer.connect("127.0.0.1", broker.port)
        writer.loop_start()
        sent = [index.to_bytes(4, "big") + bytes([index % 251]) * size for index, size in enumerate(sizes)]
        for payload in sent:
            writer.publish("burst", payload, qos=1)
        wait_until(lambda: len(got) >= len(sent), 120, "every message of the burst")
        with lock:
            assert got == sent
    finally:
        for each in (reader, writer):
            each.disconnect()
            each.loop_stop()
        broker.close()
