"""The demo's cards: NTAG 424 DNA-like cards played on nfcpy's simulated reader.

The demo's agent opens its reader on ``udp:127.0.0.1:<port>``; the demo
process plays the card side there with :class:`~edge_agent.nfc.emulator.CardEmulator`,
the same emulator the tests use. Each demo card is a Type 4 card whose NDEF
URL carries a fresh Secure Unique NFC message on every read (the demo's SUN
keys are made up per run), so the agent verifies it and the session has
assurance ``sun``: the kiosk may show points and purchases.

The cards (UIDs as in ``config/central-fixtures.example.yaml``):

==========  ================  =====================================================
``gold``    04A1B2C3D4E5F6    Sanne, goud, opted in, order WEB-100234 in locker 4
``expired`` 04444444444444    Joke, whose consent to be recognised has ended
``unknown`` 04333333333333    a card no customer is linked to
``staff``   04222222222222    the staff badge of Anna (s-anna, manager): PIN 2468
==========  ================  =====================================================

:meth:`DemoCards.tap` puts a card in the field, leaves it there
:data:`HOLD_S` seconds (or until the next tap) and takes it away, on the
``demo-cards`` thread: the caller (an MQTT callback) never waits. Nothing here
logs a UID.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass

from ..nfc.emulator import CardEmulator, Type4Card
from ..nfc.sun import SunKeys, sun_url

logger = logging.getLogger(__name__)

HOLD_S = 2.0  # how long a tapped demo card stays on the reader
GAP_S = 0.6  # between taking one card away and putting the next: the reader must see it leave
SUN_BASE_URL = "https://tuin.example/k"


@dataclass(frozen=True)
class DemoCard:
    name: str
    uid: bytes
    label: str  # what it is, for the demo's help text


DEMO_CARDS: dict[str, DemoCard] = {card.name: card for card in (
    DemoCard("gold", bytes.fromhex("04A1B2C3D4E5F6"), "Sanne: goud, opted in, an order ready in locker 4"),
    DemoCard("expired", bytes.fromhex("04444444444444"), "Joke: her consent to be recognised has expired"),
    DemoCard("unknown", bytes.fromhex("04333333333333"), "a card that is not linked to anyone"),
    DemoCard("staff", bytes.fromhex("04222222222222"), "the staff badge of Anna"),
)}


class DemoCards:
    """Taps the demo cards on the emulated reader.

    :param device: the reader's path, ``udp:host:port``.
    :param sun_keys: the keys the agent verifies SUN messages with.
    :param hold_s: how long a tapped card stays.
    :raises OSError: when the emulator's port is taken.
    """

    def __init__(self, device: str, sun_keys: SunKeys, hold_s: float = HOLD_S):
        self.emulator = CardEmulator(device)
        self.hold_s = hold_s
        self._counters = dict.fromkeys(DEMO_CARDS, 0)
        self._cards = {name: Type4Card(card.uid, url_for_tap=self._url_maker(name, card.uid, sun_keys))
                       for name, card in DEMO_CARDS.items()}
        self._commands: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="demo-cards", daemon=True)
        self._thread.start()

    def _url_maker(self, name: str, uid: bytes, keys: SunKeys):
        def url() -> str:
            self._counters[name] += 1  # a fresh read counter per read: the agent refuses replays
            return sun_url(SUN_BASE_URL, uid, self._counters[name], keys)
        return url

    def tap(self, name: str) -> None:
        """Tap demo card ``name`` (returns at once).

        :raises KeyError: for a name that is not a demo card.
        """
        if name not in self._cards:
            raise KeyError(f"no demo card {name!r}; there are {', '.join(DEMO_CARDS)}")
        self._commands.put(name)

    def remove(self) -> None:
        """Take the card in the field away now (returns at once)."""
        self._commands.put("")

    def wait_for_reader(self, timeout: float) -> bool:
        """True once the agent's reader polls the emulator."""
        return self.emulator.wait_for_reader(timeout)

    def close(self) -> None:
        self._commands.put(None)
        self._thread.join(5)
        self.emulator.close()

    def _run(self) -> None:
        in_field = False
        command = self._commands.get()
        while command is not None:
            if in_field:
                self.emulator.remove()
                in_field = False
                if command:
                    time.sleep(GAP_S)
            if command:
                self.emulator.hold(self._cards[command])
                in_field = True
                logger.info("demo card %s on the reader", command)
                try:
                    command = self._commands.get(timeout=self.hold_s)
                    continue
                except queue.Empty:
                    self.emulator.remove()
                    in_field = False
            command = self._commands.get()
        if in_field:
            self.emulator.remove()
