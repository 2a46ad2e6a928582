"""Socket options for the paho clients of the agent and the kiosk.

paho-mqtt never sets TCP_NODELAY, so a small message can wait ~40 ms for
Nagle's algorithm and the peer's delayed ACK (DESIGN.md; measured in
bench/latency.py) — on the path from a card tap to the greeting on screen.
Both the agent's link and the kiosk's bridge install :func:`set_nodelay` as
their client's ``on_socket_open``.
"""

from __future__ import annotations

import logging
import socket
from typing import Any

logger = logging.getLogger(__name__)


def set_nodelay(client: Any, userdata: Any, sock: Any) -> None:
    """Turn Nagle's algorithm off on a newly opened MQTT socket (paho's ``on_socket_open`` signature).

    A socket that has no such option (a websocket wrapper, a test double) is
    left as it is and logged at DEBUG: the link works, only slower.
    """
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (OSError, AttributeError) as exc:
        logger.debug("cannot set TCP_NODELAY: %s", exc)
