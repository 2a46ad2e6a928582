"""Writes batched under paho's network thread: the packets queued at once go out in one ``send``.

paho-mqtt writes each queued packet with a ``send`` of its own (``Client._packet_write``), and every call
releases the interpreter lock and takes it back. Under load the agent queues thousands of small packets a
second (a response and a PUBACK for every kiosk request), and while another thread is busy (a catalogue push
being applied) taking the lock back costs up to the switch interval each time: the network thread then spends
its time waiting for the lock between writes, and reads what arrived (a ``request/ping``) that much later.

:class:`WriteBatch` holds the bytes of a packet while paho has more packets queued behind it (it looks at
paho's queue, ``_out_packet``), and sends them together with the last one, or once :data:`LIMIT` bytes are
held. paho is told a held packet was written; what the socket does not take of the batch stays held and is
sent first at the next write. So that paho writes again, a write that leaves held bytes raises
``BlockingIOError`` for paho's own packet (paho puts it back in front of its queue and waits until the socket
is writable), and never answers 0 (paho would drop the packet).

It wraps plain sockets and the read buffer (:mod:`edge_agent.mqtt_read_buffer`), not TLS sockets, whose
``send`` encrypts each call into records of its own.
"""

from __future__ import annotations

import socket
from typing import Any

LIMIT = 64 * 1024
DISCONNECT = b"\xe0"  # the fixed header of MQTT's DISCONNECT


class WriteBatch:
    """The socket paho writes to (``client._sock``), batching what paho sends in one round of writes.

    :param client: the paho client; its ``_out_packet`` deque says whether more packets follow.
    :param sock: what ``client._sock`` was (a socket, or a read buffer around one).
    """

    def __init__(self, client: Any, sock: Any):
        self._client = client
        self._sock = sock
        self._held = bytearray()  # grows in place: thousands of small PUBACKs must not be copied each time
        self.sends = 0  # system calls made (tests/test_link_write_batch.py)

    def send(self, data: bytes | bytearray | memoryview) -> int:
        """Take ``data`` (a packet, or what is left of one): held while paho has more packets queued, else
        sent together with what is held. Returns how much of ``data`` counts as written (never 0).

        :raises BlockingIOError: when the socket took none of ``data`` (or not all of what was held before it):
            paho then keeps its packet and writes it again when the socket is writable.
        """
        held = self._held
        # A DISCONNECT is never held: paho closes the socket as soon as it counts it written.
        if self._client._out_packet and len(held) + len(data) < LIMIT and bytes(data[:1]) != DISCONNECT:
            held += data
            return len(data)
        if not held:
            self.sends += 1
            return self._sock.send(data)
        before = len(held)
        held += data
        self.sends += 1
        try:
            sent = self._sock.send(held)
        except BaseException:  # nothing sent (BlockingIOError) or the connection is gone: data is paho's again
            del held[before:]
            raise
        if sent < before:
            del held[before:]  # data is paho's again...
            del held[:sent]  # ...and what the socket took of the held bytes is gone
            raise BlockingIOError("the socket took part of the held packets")
        held.clear()
        if sent == before:
            raise BlockingIOError("the socket took the held packets only")
        return sent - before

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


def batch_writes(client: Any, sock: Any) -> None:
    """Put a :class:`WriteBatch` between ``client`` (a paho client, from its ``on_socket_open``) and what it
    writes to (``sock``, or the read buffer around it). A TLS socket, or a client that does not keep its
    socket in ``_sock`` and its queue in ``_out_packet`` (paho-mqtt 2.x, checked by
    tests/test_link_write_batch.py), is left as it is."""
    held = getattr(client, "_sock", None)
    if type(sock) is not socket.socket or not hasattr(client, "_out_packet"):
        return
    if held is sock or getattr(held, "_sock", None) is sock:
        client._sock = WriteBatch(client, held)
