"""A small TCP proxy that puts a shop's network faults between the agent and a test server.

It forwards 127.0.0.1:<port> to a target port and can:

* **cut** connections after N bytes sent towards the client (:meth:`CuttingProxy.cut_after`): it forwards
  exactly N bytes, then closes both sides, as a line that drops mid-file;
* be **stopped** (:meth:`stop`: the port refuses connections, as a server or a line that is down) and
  **started** again on the same port;
* **pace** the bytes towards the client (:attr:`pace_bytes_per_s`), so transfers overlap long enough to
  count them.

It counts what it forwards (:attr:`bytes_down`, towards the client, response headers included), the
connections it accepted and the most that were open at once, so a test can tell how many bytes a client
fetched again after a cut and how many files it fetched at once.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Self

from tests.support.mosquitto import free_port

_BUFFER = 64 * 1024


class CuttingProxy:
    """Forwards ``127.0.0.1:port`` to ``target_host:target_port``, with faults on demand.

    :param target_port: the server's port.
    :param port: the proxy's port; a free one by default, kept across :meth:`stop`/:meth:`start`.
    """

    def __init__(self, target_port: int, port: int | None = None, target_host: str = "127.0.0.1"):
        self.target = (target_host, target_port)
        self.port = port or free_port()
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._accepting: threading.Thread | None = None
        self._open: set[socket.socket] = set()
        self._cuts: list[int] = []
        self._cut_every: int | None = None
        #: Bytes forwarded towards the client / towards the server, over every connection.
        self.bytes_down = 0
        self.bytes_up = 0
        #: Connections accepted; the most open at once; connections cut.
        self.connections = 0
        self.max_concurrent = 0
        self.cut_count = 0
        self._active = 0
        #: When set, bytes towards the client are sent at about this rate per connection.
        self.pace_bytes_per_s: float | None = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    # ------------------------------------------------------------------ faults

    def cut_after(self, nbytes: int, times: int = 1) -> None:
        """Cut each of the next ``times`` connections after forwarding ``nbytes`` towards the client."""
        with self._lock:
            self._cuts.extend([nbytes] * times)

    def cut_every(self, nbytes: int | None) -> None:
        """Cut every connection (after the queued :meth:`cut_after` ones) after ``nbytes``; None: no more."""
        with self._lock:
            self._cut_every = nbytes

    def reset_counts(self) -> None:
        with self._lock:
            self.bytes_down = self.bytes_up = self.connections = self.max_concurrent = self.cut_count = 0

    # ------------------------------------------------------------------ running

    def start(self) -> Self:
        """Listen (again) on :attr:`port`."""
        if self._listener is not None:
            return self
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        self._accepting = threading.Thread(target=self._accept, args=(listener,), name="cutting-proxy", daemon=True)
        self._accepting.start()
        return self

    def stop(self) -> None:
        """Stop listening and drop every open connection: the port refuses connections until :meth:`start`."""
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        if self._accepting is not None:
            self._accepting.join(5)
            self._accepting = None
        with self._lock:
            opened = list(self._open)
        for sock in opened:
            self._close(sock)

    def close(self) -> None:
        self.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # stopped
            try:
                server = socket.create_connection(self.target, timeout=10)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                self.connections += 1
                self._active += 1
                self.max_concurrent = max(self.max_concurrent, self._active)
                limit = self._cuts.pop(0) if self._cuts else self._cut_every
                self._open.update((client, server))
            pair = _Pair()
            threading.Thread(target=self._pump, args=(client, server, False, None, pair), daemon=True,
                             name="cutting-proxy-up").start()
            threading.Thread(target=self._pump, args=(server, client, True, limit, pair), daemon=True,
                             name="cutting-proxy-down").start()

    def _pump(self, source: socket.socket, sink: socket.socket, down: bool, limit: int | None, pair: _Pair) -> None:
        sent = 0
        started = time.monotonic()
        try:
            while True:
                want = _BUFFER if limit is None else min(_BUFFER, limit - sent)
                if want <= 0:
                    with self._lock:
                        self.cut_count += 1
                    break
                data = source.recv(want)
                if not data:
                    break
                sink.sendall(data)
                sent += len(data)
                with self._lock:
                    if down:
                        self.bytes_down += len(data)
                    else:
                        self.bytes_up += len(data)
                pace = self.pace_bytes_per_s
                if down and pace:
                    ahead = sent / pace - (time.monotonic() - started)
                    if ahead > 0:
                        time.sleep(ahead)
        except OSError:
            pass
        finally:
            # Either direction ending ends the connection (HTTP needs no half-open one here).
            self._close(source)
            self._close(sink)
            if pair.finish():
                with self._lock:
                    self._active -= 1

    def _close(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.discard(sock)
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()


class _Pair:
    """The two pumps of one connection: the second to finish says so (the connection is then closed)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._left = 2

    def finish(self) -> bool:
        with self._lock:
            self._left -= 1
            return self._left == 0
