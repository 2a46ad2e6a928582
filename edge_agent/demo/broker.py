"""The demo's embedded MQTT broker: amqtt on loopback, in its own thread and event loop.

``edge-agent demo`` starts it when the demo configuration names no broker, so
the demo needs nothing installed beyond the Python packages. It is the
project's only use of amqtt: production and the tests use Mosquitto.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import TYPE_CHECKING

from ..errors import EdgeAgentError

if TYPE_CHECKING:
    from amqtt.broker import Broker

logger = logging.getLogger(__name__)

EMBEDDED_PORT = 18830


class EmbeddedBroker:
    """An amqtt broker running in its own thread and event loop."""

    def __init__(self, host: str = "127.0.0.1", port: int = EMBEDDED_PORT):
        self.host = host
        self.port = port
        self._loop = asyncio.new_event_loop()
        self._broker: Broker | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="embedded-broker", daemon=True)

    def _run(self) -> None:
        from amqtt.broker import Broker

        asyncio.set_event_loop(self._loop)
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }

        async def start() -> None:
            broker = Broker(config)
            self._broker = broker
            await broker.start()

        try:
            self._loop.run_until_complete(start())
        except BaseException as exc:  # noqa: BLE001 - whatever stops it is reported to the starting thread
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()

    def start(self, timeout: float = 10.0) -> EmbeddedBroker:
        """Start the broker.

        :raises EdgeAgentError: when it cannot listen (port taken...).
        """
        logging.getLogger("amqtt").setLevel(logging.WARNING)
        logging.getLogger("transitions").setLevel(logging.WARNING)
        self._thread.start()
        if not self._ready.wait(timeout) or self._error is not None:
            raise EdgeAgentError(f"embedded broker could not start on {self.host}:{self.port}: {self._error}")
        return self

    def stop(self) -> None:
        if self._broker is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._broker.shutdown(), self._loop)
        try:
            future.result(10)
        except Exception as exc:  # noqa: BLE001 - shutting down: report, do not mask the caller's exit
            logger.warning("embedded broker did not shut down cleanly: %s", exc)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
