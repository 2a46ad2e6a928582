"""The Mosquitto files the project ships in ``config/mosquitto/``: generated for the example store.

``store.conf``, ``connected-store.acl`` and ``bridge.conf`` are what ``edge-agent broker provision`` writes
for :data:`~edge_agent.provisioning.plan.EXAMPLE` (store-0042 with kiosk kiosk-1 and shelf shelf-1);
``central.conf`` and ``central.acl`` what ``edge-agent broker central`` writes for central's example broker.
``tests/test_provisioning_shipped.py`` keeps the shipped files equal to these; ``edge-agent broker examples
--out config/mosquitto`` writes them again after a change to the contract or to the generators.
"""

from __future__ import annotations

from pathlib import Path

from .acl import render_acl, render_central_acl
from .mosquitto_config import render_bridge_conf, render_central_conf, render_store_conf
from .plan import EXAMPLE

#: Central's example broker: the address its TLS listener binds (a documentation address, RFC 5737).
EXAMPLE_CENTRAL_ADDRESS = "192.0.2.10"


def shipped() -> dict[str, str]:
    """File name in config/mosquitto -> its text."""
    stores = [EXAMPLE.store]
    return {"store.conf": render_store_conf(EXAMPLE), "connected-store.acl": render_acl(EXAMPLE),
            "bridge.conf": render_bridge_conf(EXAMPLE),
            "central.conf": render_central_conf(EXAMPLE_CENTRAL_ADDRESS, stores=stores),
            "central.acl": render_central_acl(stores)}


def write_examples(folder: Path) -> list[Path]:
    """Write :func:`shipped` into ``folder``; the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in shipped().items():
        (folder / name).write_text(text)
        written.append(folder / name)
    return written
