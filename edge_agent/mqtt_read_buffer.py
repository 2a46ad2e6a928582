"""A read buffer under paho's network thread, so it reads a burst of messages without a system call each.

paho-mqtt reads a packet with at least three ``recv`` calls (its first byte, each byte of its length, the
rest), and every call releases the interpreter lock and takes it back. When another thread of the agent is
busy (a catalogue push being applied, the kiosk's requests), taking the lock back costs up to the switch
interval each time, so under load paho read small messages a few hundred a second, and a ``request/ping``
waited behind every message queued before it on the socket (bench/ping_under_load.py: most of a slow ping's
time was spent before paho handed it over). :class:`ReadBuffer` answers those small reads from one
``recv`` of up to :data:`CHUNK` bytes, and tells paho through ``pending()`` (which paho asks of TLS sockets
for the same reason) that bytes are waiting, so it does not sleep in ``select`` on them.

It wraps plain TCP sockets only: a TLS socket buffers decrypted bytes itself and already has ``pending()``.
"""

from __future__ import annotations

import socket
from typing import Any, cast

CHUNK = 64 * 1024


class ReadBuffer:
    """A socket whose ``recv`` is served from a buffer filled :data:`CHUNK` bytes at a time; everything
    else is the socket's own."""

    def __init__(self, sock: socket.socket):
        self._sock = sock
        self._buffer = b""
        self._at = 0  # what was handed out of _buffer (an offset: slicing off the front would copy the rest)

    def recv(self, size: int) -> bytes:
        """Up to ``size`` bytes: buffered ones first, else one ``recv`` of the socket (its errors, e.g.
        ``BlockingIOError`` when nothing is there, and ``b""`` at the end of the stream, as they come)."""
        if self._at >= len(self._buffer):
            data = self._sock.recv(max(size, CHUNK))
            if len(data) <= size:
                return data
            self._buffer, self._at = data, 0
        start, self._at = self._at, min(self._at + size, len(self._buffer))
        return self._buffer[start:self._at]

    def pending(self) -> int:
        """Bytes read from the socket and not yet handed out (paho then reads without waiting)."""
        return len(self._buffer) - self._at

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


def buffer_reads(client: Any, sock: Any) -> None:
    """Put a :class:`ReadBuffer` between ``client`` (a paho client, from its ``on_socket_open``) and ``sock``.

    paho keeps the socket it reads from in ``_sock`` (paho-mqtt 2.x, checked by
    tests/test_link_read_buffer.py); a TLS socket, or a client that does not hold ``sock`` there, is left
    as it is.
    """
    if type(sock) is socket.socket and getattr(client, "_sock", None) is sock:
        client._sock = ReadBuffer(cast(socket.socket, sock))
