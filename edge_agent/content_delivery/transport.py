"""The HTTP transport of the pack downloads: httpx's own, reading up to 1 MiB per network read.

httpcore asks the socket for at most 64 KiB at a time, and each read then
passes through h11, httpcore and httpx in Python (and a ``settimeout``
system call): for a 200 MB pack that is 3,000 trips which, measured on two
cores beside nginx, cost about a third of the download's CPU time
(bench/content_download.py: 0.66 s of CPU per 200 MB with 64 KiB reads, 0.43 s
with 1 MiB, curl 0.34 s). Asking for more only lets a read return more when
more has arrived; it never waits for it, so progress, cuts and the window
check still see every read as it comes.

httpx gives no way to hand its connection pool a network backend, so
:func:`download_transport` wraps the pool's backend after the transport is
made. Should a later httpx keep its pool elsewhere, the transport stays
httpx's unchanged (64 KiB reads, logged once) rather than failing;
tests/test_content_download.py checks that the wrapping took.
"""

from __future__ import annotations

import logging
import ssl
import typing

import httpcore
import httpx

logger = logging.getLogger(__name__)

#: The most one network read returns (also the most a cut can cost: see :data:`.download.CHUNK_BYTES`).
READ_BYTES = 1 << 20


class _LargeReadStream(httpcore.NetworkStream):
    """A connection whose reads ask for at least :data:`READ_BYTES`."""

    def __init__(self, stream: httpcore.NetworkStream):
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max(max_bytes, READ_BYTES), timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, timeout)

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return _LargeReadStream(self._stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> typing.Any:
        return self._stream.get_extra_info(info)


class LargeReadBackend(httpcore.NetworkBackend):
    """httpcore's network backend ``backend`` with connections that read up to :data:`READ_BYTES` at once."""

    def __init__(self, backend: httpcore.NetworkBackend):
        self._backend = backend

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None
                    ) -> httpcore.NetworkStream:
        return _LargeReadStream(self._backend.connect_tcp(host, port, timeout, local_address, socket_options))

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None
                            ) -> httpcore.NetworkStream:
        return _LargeReadStream(self._backend.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


def download_transport(limits: httpx.Limits) -> httpx.HTTPTransport:
    """httpx's transport with its defaults (TLS verified against its CA bundle), reading up to
    :data:`READ_BYTES` at once."""
    transport = httpx.HTTPTransport(limits=limits)
    pool = getattr(transport, "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    if isinstance(backend, httpcore.NetworkBackend):
        pool._network_backend = LargeReadBackend(backend)  # type: ignore[union-attr]  # found just above
    else:
        logger.info("httpx %s keeps no connection pool backend where expected: downloads read 64 KiB at a time",
                    httpx.__version__)
    return transport
