"""The HTTP transport of the pack downloads: httpx's own, reading up to 1 MiB per network read.

httpcore asks the socket for at most 64 KiB at a time, and each read then
passes through h11, httpcore and httpx in Python (and a ``settimeout``
system call): for a 200 MB pack that is 3,000 trips which, measured on two
cores beside nginx, cost about a third of the download's CPU time
(bench/content_download.py: 0.66 s of CPU per 200 MB with 64 KiB reads, 0.43 s
with 1 MiB, curl 0.34 s). Asking for more only lets a read return more when
more has arrived; it never waits for it, so progress, cuts and the window
check still see every read as it comes.

The backend also keeps the connections it opened, so a cancelled download
can shut them down (:meth:`LargeReadBackend.abort`): a read blocked on a
server that has gone silent then returns at once instead of at the read
timeout.

httpx gives no way to hand its connection pool a network backend, so
:func:`download_transport` wraps the pool's backend after the transport is
made. Should a later httpx keep its pool elsewhere, the transport stays
httpx's unchanged (64 KiB reads, logged once) rather than failing;
tests/test_content_download.py checks that the wrapping took.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
import typing
import weakref

import httpcore
import httpx

logger = logging.getLogger(__name__)

#: The most one network read returns (also the most a cut can cost: see :data:`.download.CHUNK_BYTES`).
READ_BYTES = 1 << 20


class _LargeReadStream(httpcore.NetworkStream):
    """A connection whose reads ask for at least :data:`READ_BYTES`."""

    def __init__(self, stream: httpcore.NetworkStream, backend: LargeReadBackend):
        self._stream = stream
        self._backend = backend
        backend._opened(self)

    def abort(self) -> None:
        """Shut the socket down: a read or write blocked on it returns with an error."""
        sock = self._stream.get_extra_info("socket")
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max(max_bytes, READ_BYTES), timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, timeout)

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return _LargeReadStream(self._stream.start_tls(ssl_context, server_hostname, timeout), self._backend)

    def get_extra_info(self, info: str) -> typing.Any:
        return self._stream.get_extra_info(info)


class LargeReadBackend(httpcore.NetworkBackend):
    """httpcore's network backend ``backend`` with connections that read up to :data:`READ_BYTES` at once."""

    def __init__(self, backend: httpcore.NetworkBackend):
        self._backend = backend
        self._lock = threading.Lock()
        self._streams: weakref.WeakSet[_LargeReadStream] = weakref.WeakSet()

    def _opened(self, stream: _LargeReadStream) -> None:
        with self._lock:
            self._streams.add(stream)

    def abort(self) -> None:
        """Shut down every connection opened here that is still open (closed ones are left alone)."""
        with self._lock:
            streams = list(self._streams)
        for stream in streams:
            stream.abort()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None
                    ) -> httpcore.NetworkStream:
        return _LargeReadStream(self._backend.connect_tcp(host, port, timeout, local_address, socket_options), self)

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None
                            ) -> httpcore.NetworkStream:
        return _LargeReadStream(self._backend.connect_unix_socket(path, timeout, socket_options), self)

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


def download_transport(limits: httpx.Limits, verify: ssl.SSLContext | bool = True
                       ) -> tuple[httpx.HTTPTransport, LargeReadBackend | None]:
    """httpx's transport reading up to :data:`READ_BYTES` at once; and its backend (None when httpx's pool
    could not be given one).

    :param verify: how the server's certificate is checked: an SSL context (a private CA's), or True for
        httpx's CA bundle.
    """
    transport = httpx.HTTPTransport(limits=limits, verify=verify)
    pool = getattr(transport, "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    if not isinstance(backend, httpcore.NetworkBackend):
        logger.info("httpx %s keeps no connection pool backend where expected: downloads read 64 KiB at a time",
                    httpx.__version__)
        return transport, None
    large = LargeReadBackend(backend)
    pool._network_backend = large  # type: ignore[union-attr]  # found just above
    return transport, large
