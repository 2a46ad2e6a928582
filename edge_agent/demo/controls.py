"""The demo's controls: the kiosk's demo buttons and keys, and keys typed into the demo's terminal.

The kiosk (started with ``--demo``) publishes ``demo-control`` messages on the
device's local demo topic; :class:`DemoControls` subscribes to them and turns
each into a tap of an emulated demo card (:mod:`.cards`) or the product clip of
the demo camera (:mod:`.video`). Keys 1-5 typed in the terminal do the same.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from ..contract import DEMO_CONTROL, DemoControlPayload, Topics, decode
from ..errors import ContractError

if TYPE_CHECKING:
    from .cards import DemoCards
    from .video import DemoCamera

logger = logging.getLogger(__name__)

# Keys 1-5 on the kiosk (and typed into this terminal) and what they do.
DEMO_KEYS: dict[str, tuple[str, str | None]] = {
    "1": ("tap", "gold"), "2": ("tap", "expired"), "3": ("tap", "unknown"), "4": ("tap", "staff"),
    "5": ("product", None),
}


class DemoControls:
    """Turns the kiosk's ``demo-control`` messages (and keys typed here) into card taps and the product clip.

    :param cards: the emulated demo cards, or None when the reader is a real one.
    :param camera: the demo camera, or None when the camera is a real one.
    """

    def __init__(self, host: str, port: int, topics: Topics, cards: DemoCards | None,
                 camera: DemoCamera | None):
        self.cards = cards
        self.camera = camera
        self.topic = topics.demo
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"demo-controls-{topics.store}",
                                  protocol=mqtt.MQTTv311)
        self._subscribed = threading.Event()
        self.client.on_connect = lambda c, *_: c.subscribe(self.topic, qos=DEMO_CONTROL.qos)
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect(host, port)
        self.client.loop_start()

    def wait_ready(self, timeout: float) -> bool:
        """Wait until the broker confirmed the subscription (SUBACK): a control sent before that is lost."""
        return self._subscribed.wait(timeout)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if message.topic != self.topic:
            return  # amqtt hands a new subscriber the retained state and birth too
        try:
            control = decode(DEMO_CONTROL, bytes(message.payload)).payload
        except ContractError as exc:
            logger.warning("ignored a malformed demo control: %s", exc)
            return
        assert isinstance(control, DemoControlPayload), "DEMO_CONTROL's payload model"
        self.act(control.action, control.card)

    def act(self, action: str, card: str | None = None) -> None:
        """``tap`` a demo card, ``remove`` it, or hold up the ``product``."""
        if action in ("tap", "remove"):
            if self.cards is None:
                print("the reader is not the emulated one: tap a real card", flush=True)
            elif action == "remove":
                self.cards.remove()
            else:
                assert card is not None, "a tap names its card (DemoControlPayload and DEMO_KEYS see to it)"
                self.cards.tap(card)
        elif self.camera is None:
            print("the camera is not the demo video: hold a product up to it", flush=True)
        else:
            self.camera.hold_up_product()

    def read_keys(self, stream: Iterable[str]) -> None:
        """Keys typed into the terminal, one per line (a thread; ends with the stream)."""
        for line in stream:
            key = line.strip()
            if key in DEMO_KEYS:
                self.act(*DEMO_KEYS[key])
            elif key:
                print("keys: 1 gold, 2 expired, 3 unknown, 4 staff, 5 product (then Enter)", flush=True)

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


HELP = """\
demo cards and product ({how}):
  1  gold     Sanne: goud, opted in, order WEB-100234 ready in locker 4
  2  expired  Joke: her consent to be recognised has expired
  3  unknown  a card that is linked to no one
  4  staff    the staff badge of Anna
  5  product  hold up Gazonmest 5 kg (8712345000011) to the camera"""
