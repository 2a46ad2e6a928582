"""The write batch under paho's network thread (:mod:`edge_agent.mqtt_write_batch`): packets queued together
go out in one system call, every byte goes out once and in order (also when the socket takes only part of a
batch), a DISCONNECT is never held back, and paho really writes through it (it relies on paho's ``_sock`` and
``_out_packet``: this file fails if a paho release changes them)."""

from __future__ import annotations

import socket
import threading
import time
from collections import deque

import pytest

from edge_agent.mqtt_read_buffer import ReadBuffer
from edge_agent.mqtt_write_batch import LIMIT, WriteBatch
from tests.support.faults import wait_until
from tests.support.mosquitto import Mosquitto
from tests.test_link_read_buffer import client  # a paho client opened as the link opens its own


class Queue:
    """What the batch reads of paho: its queue of packets still to write."""

    def __init__(self) -> None:
        self._out_packet: deque = deque()


class Recorder:
    """A socket that takes at most ``room`` bytes per send (None: everything), and records each call."""

    def __init__(self, room: int | None = None):
        self.room = room
        self.calls: list[bytes] = []

    def send(self, data: bytes) -> int:
        if self.room == 0:
            raise BlockingIOError("full")
        taken = data if self.room is None else data[:self.room]
        self.calls.append(bytes(taken))
        return len(taken)

    @property
    def written(self) -> bytes:
        return b"".join(self.calls)


def write_all(batch: WriteBatch, queue: Queue, packets: list[bytes]) -> None:
    """As paho's ``_packet_write`` does: pop each packet, send what is left of it, put it back on
    BlockingIOError (here written again at once, as paho does once the socket is writable)."""
    queue._out_packet.extend(packets)
    while queue._out_packet:
        packet = queue._out_packet.popleft()
        try:
            sent = batch.send(packet)
        except BlockingIOError:
            queue._out_packet.appendleft(packet)
            continue
        assert sent > 0  # paho would drop a packet answered with 0
        if sent < len(packet):
            queue._out_packet.appendleft(packet[sent:])


def test_packets_queued_together_go_out_in_one_send_and_a_lone_one_at_once():
    queue, sock = Queue(), Recorder()
    batch = WriteBatch(queue, sock)
    packets = [bytes([0x30, 3]) + bytes([index]) * 3 for index in range(50)]
    write_all(batch, queue, packets)
    assert sock.calls == [b"".join(packets)]
    write_all(batch, queue, [b"\x40\x02\x00\x01"])  # a lone PUBACK
    assert sock.calls[-1] == b"\x40\x02\x00\x01" and batch.sends == 2


def test_a_batch_is_sent_once_it_reaches_the_limit():
    queue, sock = Queue(), Recorder()
    packets = [b"\x30" + bytes(1000) for _ in range(200)]
    write_all(WriteBatch(queue, sock), queue, packets)
    assert sock.written == b"".join(packets)
    assert len(sock.calls) >= 200_200 // LIMIT and all(len(call) <= LIMIT + 1001 for call in sock.calls)


@pytest.mark.parametrize("room", [1, 7, 100, 4096])
def test_a_socket_that_takes_part_of_a_batch_gets_every_byte_once_and_in_order(room):
    queue, sock = Queue(), Recorder(room)
    packets = [bytes([0x30, index % 200]) + bytes([index % 251]) * (index % 300) for index in range(300)]
    write_all(WriteBatch(queue, sock), queue, packets)
    assert sock.written == b"".join(packets)


def test_a_full_socket_keeps_what_is_held_and_sends_it_first_when_it_has_room_again():
    queue, sock = Queue(), Recorder(room=0)
    batch = WriteBatch(queue, sock)
    queue._out_packet.extend([b"\x30\x01a", b"\x30\x01b"])
    first = queue._out_packet.popleft()
    assert batch.send(first) == 3  # held: another packet is queued
    last = queue._out_packet.popleft()
    with pytest.raises(BlockingIOError):
        batch.send(last)  # the socket takes nothing: paho puts "b" back
    sock.room = None
    assert batch.send(last) == 3
    assert sock.written == b"\x30\x01a\x30\x01b"


def test_a_disconnect_is_never_held():
    queue, sock = Queue(), Recorder()
    batch = WriteBatch(queue, sock)
    queue._out_packet.extend([b"\x30\x01a", b"\xe0\x00", b"\x30\x01c"])
    for _ in range(2):
        batch.send(queue._out_packet.popleft())
    assert sock.written == b"\x30\x01a\xe0\x00"  # out with what was held before it, before paho closes


def test_paho_writes_through_the_batch_every_message_arrives_in_order_and_a_disconnect_is_clean(tmp_path):
    broker = Mosquitto(workdir=tmp_path / "broker").start()
    got: list[bytes] = []
    wills: list[bytes] = []
    lock = threading.Lock()
    subscribed = threading.Event()
    reader, writer = client("plain-reader"), client("batched-writer")
    reader.on_socket_open = None  # the reader as paho makes it
    writer.will_set("wills/batched-writer", b"gone without a DISCONNECT", qos=1)

    def received(_client, _userdata, message) -> None:
        with lock:
            (wills if message.topic.startswith("wills/") else got).append(message.payload)

    reader.on_message = received
    reader.on_subscribe = lambda *args: subscribed.set()
    try:
        reader.connect("127.0.0.1", broker.port)
        reader.loop_start()
        reader.subscribe([("burst", 1), ("wills/#", 1)])
        assert subscribed.wait(60), "no SUBACK"
        writer.connect("127.0.0.1", broker.port)
        writer.loop_start()
        wait_until(writer.is_connected, 30, "the writer's connection")
        assert isinstance(writer._sock, WriteBatch), "paho no longer writes to _sock: the batch is not in use"
        assert isinstance(writer._sock._sock, ReadBuffer)
        batch = writer._sock
        sent = [index.to_bytes(4, "big") + bytes([index % 251]) * (index % 700) for index in range(3000)]
        infos = [writer.publish("burst", payload, qos=1) for payload in sent]
        for info in infos:
            info.wait_for_publish(60)
        wait_until(lambda: len(got) >= len(sent), 120, "every message of the burst")
        with lock:
            assert got == sent
        assert batch.sends < len(sent), f"{batch.sends} system calls for {len(sent)} messages: nothing batched"
        writer.disconnect()
        writer.loop_stop()
        time.sleep(1.0)  # a will would come at once (the broker sees the connection close)
        with lock:
            assert wills == [], "the broker saw no DISCONNECT: it was held back"
    finally:
        for each in (reader, writer):
            each.disconnect()
            each.loop_stop()
        broker.close()


def test_a_tls_socket_or_a_client_without_paho_internals_is_left_alone():
    from edge_agent.mqtt_write_batch import batch_writes

    left, right = socket.socketpair()
    try:
        class Bare:  # no _out_packet
            _sock = left

        bare = Bare()
        batch_writes(bare, left)
        assert bare._sock is left
        paho_like = Queue()
        paho_like._sock = left  # type: ignore[attr-defined]
        batch_writes(paho_like, left)
        assert isinstance(paho_like._sock, WriteBatch)  # type: ignore[attr-defined]
        other = Queue()
        other._sock = right  # type: ignore[attr-defined]
        batch_writes(other, left)  # not the socket it holds
        assert other._sock is right  # type: ignore[attr-defined]
    finally:
        left.close()
        right.close()


def test_a_connection_that_breaks_mid_batch_leaves_the_packet_with_paho():
    queue, sock = Queue(), Recorder()
    batch = WriteBatch(queue, sock)
    queue._out_packet.extend([b"\x30\x01a", b"\x30\x01b"])
    batch.send(queue._out_packet.popleft())  # held
    last = queue._out_packet.popleft()

    def broken(_data: bytes) -> int:
        raise ConnectionResetError("the broker went away")

    sock.send = broken  # type: ignore[method-assign]
    with pytest.raises(ConnectionResetError):
        batch.send(last)
    sock.send = Recorder.send.__get__(sock)  # type: ignore[method-assign]
    assert batch.send(last) == 3  # "b" once, after the held "a" (paho would have given up the connection)
    assert sock.written == b"\x30\x01a\x30\x01b"
