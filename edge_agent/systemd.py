"""systemd's notify protocol: READY=1, WATCHDOG=1, STATUS=…, STOPPING=1.

Silent without ``NOTIFY_SOCKET``, so the agent runs the same under systemd,
in a terminal and in tests.

Hand-written on purpose: the protocol is one datagram per message to a Unix
socket (this file); systemd-python and cysystemd need libsystemd and a C build,
and the pure-Python sdnotify was last released in 2017.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

logger = logging.getLogger(__name__)


class Notifier:
    """Sends notifications to the socket systemd named in ``NOTIFY_SOCKET``."""

    def __init__(self, environ: Mapping[str, str] | None = None):
        environ = os.environ if environ is None else environ
        address = environ.get("NOTIFY_SOCKET", "")
        if address.startswith("@"):  # abstract namespace
            address = "\0" + address[1:]
        self._address = address or None
        watchdog_usec = environ.get("WATCHDOG_USEC", "")
        watchdog_pid = environ.get("WATCHDOG_PID", "")
        self.watchdog_interval_s: float | None = None
        if watchdog_usec.isdigit() and (not watchdog_pid or watchdog_pid == str(os.getpid())):
            # Ping at half the timeout, as sd_watchdog_enabled(3) advises.
            self.watchdog_interval_s = int(watchdog_usec) / 2_000_000

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def notify(self, *fields: str) -> bool:
        """Send ``fields`` (e.g. ``"READY=1"``); False when there is no socket or sending failed."""
        if self._address is None:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.connect(self._address)
                sock.sendall("\n".join(fields).encode())
        except OSError as exc:
            logger.warning("cannot notify systemd: %s", exc)
            return False
        return True

    def ready(self, status: str) -> bool:
        return self.notify("READY=1", f"STATUS={status}")

    def status(self, status: str) -> bool:
        return self.notify(f"STATUS={status}")

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")

    def stopping(self) -> bool:
        return self.notify("STOPPING=1")
