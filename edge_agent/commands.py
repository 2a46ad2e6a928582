"""Request/response commands: ``…/request/<name>`` answered on ``…/response/<name>``.

Every request gets a response carrying its ``transaction``; a request that
cannot be parsed gets an error response (with the transaction when it can
be found in the broken message), never a crash.

A request runs once. One that arrives retained is refused with an error
response and not carried out: the broker would hand it to the agent again on
every reconnect (one staff call became three). A request whose envelope ``id``
was already served (a redelivery, a replay) gets an error response saying so
and is not carried out again: no second event. The same response is not sent
again, because a response may hold a customer's data, which the agent does not
keep for replays. The ids of the last :data:`SEEN_REQUESTS` requests served
are remembered in memory (the agent acknowledges a request right after
answering it, so only one carried out just before the agent died can run again
after a restart); a request that failed unexpectedly (a handler raised
anything but a refusal) is not counted as served, so its redelivery runs.

A request that could not be carried out because of the database's storage
(full, locked, failing; see :mod:`edge_agent.transient`) gets an error answer
saying so (``storage full: database or disk is full``); any other failure in a
handler one naming the error's type and place, never its text.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ValidationError

from . import redaction
from .config import AgentConfig
from .contract import (
    COMMANDS,
    GetConfigResult,
    PingResult,
    SetLogLevelRequest,
    SetLogLevelResult,
    decode,
    encode_response,
    transaction_of,
)
from .errors import ContractError
from .transient import describe_bug, describe_fault, fault_of, locations

logger = logging.getLogger(__name__)

# A handler gets the request model the contract defines for its command and returns the result model.
# Which request model that is depends on the command's name, which a type cannot follow: the argument
# is Any here, and each handler declares its own model (Callable is contravariant in its argument, so
# ``Callable[[BaseModel], ...]`` would refuse them all).
Handler = Callable[[Any], BaseModel]

SEEN_REQUESTS = 10_000  # ids of served requests remembered against replays
RETAINED = "a request must not be retained (it would run again on every reconnect): not carried out"


class CommandError(Exception):
    """A well-formed request that cannot be carried out."""


class Commands:
    """Carries out commands and publishes their responses.

    :param config: the agent's configuration (``get-config`` returns it).
    :param respond: ``respond(command, payload_bytes)`` publishes a response.
    """

    def __init__(self, config: AgentConfig, respond: Callable[[str, bytes], None]):
        self._config = config
        self._respond = respond
        self._started = time.monotonic()
        self._served: OrderedDict[str, None] = OrderedDict()  # ids of requests served or being served
        self._served_lock = threading.Lock()
        self.duplicates = 0
        self._handlers: dict[str, Handler] = {
            "ping": self._ping,
            "get-config": self._get_config,
            "set-log-level": self._set_log_level,
        }

    def register(self, name: str, handler: Handler) -> None:
        """Carry out command ``name`` (defined in the contract) with ``handler``.

        The handler gets the validated request payload and returns the result
        model; it raises :class:`CommandError` for a request it cannot carry out.

        :raises KeyError: for a name the contract does not define.
        """
        if name not in COMMANDS:
            raise KeyError(f"command {name!r} is not in the contract")
        self._handlers[name] = handler

    def handler(self, name: str) -> Handler | None:
        """The handler carrying out ``name`` now, or None (a service that wraps another's uses it)."""
        return self._handlers.get(name)

    def available(self) -> list[str]:
        """The commands this device carries out, in contract order."""
        return [name for name in COMMANDS if name in self._handlers]

    def handle(self, name: str, raw: bytes, retained: bool = False) -> str | None:
        """Carry out command ``name``; return the error text when it was refused or failed, else None.

        :param retained: the message came with the retain flag: refused, not carried out.
        """
        message = COMMANDS[name]
        transaction = None
        try:
            if retained:
                raise ContractError(RETAINED)
            decoded = decode(message, raw)
            transaction = decoded.envelope.transaction
            if transaction is None:
                raise ContractError("transaction is required")
            handler = self._handlers.get(name)
            if handler is None:
                raise CommandError(f"{name} is not available on this device")
            request_id = decoded.envelope.id
            if not self._first_time(request_id):
                self.duplicates += 1
                logger.info("request %s %s was already served: not carried out again", name, request_id)
                self._respond(name, encode_response(name, transaction, error=f"request {request_id} was already "
                                                    "served: not carried out again"))
                return None
            try:
                result = handler(decoded.payload)
            except (ContractError, CommandError):
                raise  # a refusal is an answer: the request was served
            except BaseException:
                self._forget(request_id)  # not served: its redelivery must run
                raise
        except (ContractError, CommandError) as exc:
            error = str(exc)
            self._respond(name, encode_response(name, transaction or transaction_of(raw), error=error))
            return error
        except Exception as exc:  # noqa: BLE001 - every request is answered: storage faults say why, bugs where
            fault = fault_of(exc)
            if fault is not None:
                error = describe_fault(fault, exc)
                logger.warning("request %s not carried out: %s", name, error)
            else:
                error = describe_bug(exc)
                logger.error("request %s failed: %s\n%s", name, error, locations(exc))
            self._respond(name, encode_response(name, transaction or transaction_of(raw), error=error))
            return error
        self._respond(name, encode_response(name, transaction, result=result))
        return None

    def _first_time(self, request_id: str) -> bool:
        """Record ``request_id`` as served; False when it already was."""
        with self._served_lock:
            if request_id in self._served:
                return False
            self._served[request_id] = None
            if len(self._served) > SEEN_REQUESTS:
                self._served.popitem(last=False)
            return True

    def _forget(self, request_id: str) -> None:
        with self._served_lock:
            self._served.pop(request_id, None)

    def _ping(self, request: BaseModel) -> PingResult:
        return PingResult(uptime_s=round(time.monotonic() - self._started, 3))

    def _get_config(self, request: BaseModel) -> GetConfigResult:
        return GetConfigResult(config=self._config.public_dict(), config_hash=self._config.config_hash())

    def _set_log_level(self, request: SetLogLevelRequest) -> SetLogLevelResult:
        # Any logger may go to any level, nfcpy's ``nfc`` at DEBUG (which prints UIDs and frames)
        # included: no UID or personal field leaves a handler at any level (edge_agent.redaction).
        # A handler added since start-up without the filter gets it before the level changes.
        missing = redaction.unredacted_handlers()
        if missing:
            redaction.install_everywhere()
            logger.warning("log redaction installed on %d handler(s) that lacked it: %s", len(missing),
                           ", ".join(type(handler).__name__ for handler in missing))
        target = logging.getLogger(request.logger) if request.logger else logging.getLogger()
        try:
            target.setLevel(request.level)
        except (ValueError, TypeError, ValidationError) as exc:
            raise CommandError(f"cannot set level: {exc}") from None
        logger.info("log level of %s set to %s", request.logger or "root", request.level)
        return SetLogLevelResult(logger=request.logger or "root", level=request.level)
