"""The codec: message ids, timestamps, encoding and decoding envelopes, and the JSON Schema of a whole message.

Everything on the wire goes through :func:`encode` / :func:`encode_response`
and comes back through :func:`parse_envelope` / :func:`decode`. Errors are
:class:`~edge_agent.errors.ContractError` with a reason that never echoes what
the sender sent (it may be personal data). Messages over
:data:`MESSAGE_LIMIT` are refused before they are parsed.

UUIDv7 ids are made by hand in :func:`new_id`: ``uuid.uuid7`` arrives only in
Python 3.14 (the agent runs on 3.11), and the uuid6 package's ``uuid7()``
borrows a millisecond per id and runs ahead of the clock when a backlog is filled.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from ..errors import ContractError
from ..problems import describe_validation
from .catalogue import COMMANDS, RESPONSES, Message
from .envelope import Envelope, ResponseEnvelope
from .types import TRANSACTION_MAX_LENGTH

# The largest message the contract accepts; parse_envelope refuses bigger ones
# unread, and `central push` packs its batches to stay below it.
MESSAGE_LIMIT = 256 * 1024
SCHEMA_ID = re.compile(r"[a-z0-9-]{1,40}/[0-9]{1,4}")
# JSON may escape half of a UTF-16 pair alone (backslash, "ud800"): such a string is no
# Unicode text, cannot be written back as UTF-8 (stored records, views) and is refused
# (RFC 7493, I-JSON). Looked for only when the raw bytes hold such an escape.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")

_id_lock = threading.Lock()
_id_state = [0, 0]  # last millisecond, counter within it


def new_id() -> str:
    """A new message id: a UUIDv7 (RFC 9562), so ids sort by creation time.

    Method 1 of RFC 9562: a 12-bit counter in ``rand_a`` keeps ids of one
    process strictly increasing, for up to 4096 ids per millisecond before the
    timestamp is borrowed from the next one (uuid6's uuid7() borrows a
    millisecond per id, which pushed ids seconds ahead of the clock when an
    outbox backlog was filled).
    """
    with _id_lock:
        millisecond = time.time_ns() // 1_000_000
        if millisecond > _id_state[0]:
            _id_state[0], _id_state[1] = millisecond, secrets.randbits(11)
        else:
            _id_state[1] += 1
            if _id_state[1] > 0xFFF:
                _id_state[0], _id_state[1] = _id_state[0] + 1, 0
        millisecond, counter = _id_state
    value = (millisecond << 80) | (0x7 << 76) | (counter << 64) | (0b10 << 62) | secrets.randbits(62)
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


_ts_second: list = [None, ""]  # the last whole second and its formatted prefix


def now_ts() -> str:
    """The current time as RFC 3339 UTC with milliseconds, e.g. ``2026-04-01T09:30:00.123Z``."""
    now = time.time()
    second = int(now)
    cached = _ts_second
    if cached[0] != second:
        cached[1] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        cached[0] = second
    return f"{cached[1]}.{int((now - second) * 1000):03d}Z"


def _dumps(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def encode(message: Message, data: BaseModel | dict[str, Any], *, transaction: str | None = None,
           message_id: str | None = None) -> tuple[str, bytes]:
    """The envelope of ``data`` as JSON bytes, with its id.

    ``data`` is validated against the message's model first.

    :raises ContractError: when ``data`` does not fit the model.
    """
    payload = _validated(message, data).model_dump_json()
    message_id = message_id or new_id()
    # Assembled as text: every piece but the transaction is known to need no
    # escaping, and this is on the path of every event (see bench/).
    head = f'{{"id":"{message_id}","ts":"{now_ts()}","schema":"{message.schema_id}"'
    if transaction is not None:
        head += ',"transaction":' + json.dumps(transaction, ensure_ascii=False)
    return message_id, f'{head},"data":{payload}}}'.encode()


def encode_response(command: str, transaction: str | None, *, result: BaseModel | None = None,
                    error: str | None = None) -> bytes:
    """A command's response envelope: ok with ``result``, or error with ``error``."""
    document = {"id": new_id(), "ts": now_ts(), "schema": RESPONSES[command].schema_id,
                "transaction": transaction, "status": "error" if error else "ok",
                "data": result.model_dump(mode="json") if result is not None else None,
                "error": error}
    return _dumps(document)


def _validated(message: Message, data: BaseModel | dict[str, Any]) -> BaseModel:
    if isinstance(data, message.model):
        return data
    raw = data.model_dump(mode="json") if isinstance(data, BaseModel) else data
    try:
        return message.model.model_validate(raw)
    except ValidationError as exc:
        raise ContractError(f"{message.schema_id}: {describe_validation(exc)}") from None


@dataclass(frozen=True)
class Decoded:
    """A received message that passed validation: its envelope and its payload as the message's model."""

    envelope: Envelope
    payload: BaseModel


def parse_envelope(raw: bytes) -> Envelope:
    """Parse the envelope of a received message.

    :raises ContractError: with a reason that never echoes payload contents.
    """
    if len(raw) > MESSAGE_LIMIT:
        raise ContractError(f"payload too large ({len(raw)} bytes, at most {MESSAGE_LIMIT})")
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ContractError(f"not JSON: {exc.__class__.__name__} at position {getattr(exc, 'pos', '?')}") from None
    except RecursionError:
        raise ContractError("not JSON: nested too deeply") from None
    except ValueError:  # e.g. an integer beyond Python's 4300-digit conversion limit
        raise ContractError("not JSON: a number is too long") from None
    if not isinstance(document, dict):
        raise ContractError(f"envelope must be a JSON object, got {type(document).__name__}")
    try:
        return Envelope.model_validate(document)
    except ValidationError as exc:
        raise ContractError(f"bad envelope: {describe_validation(exc)}") from None


def decode(message: Message, raw: bytes, *,
           validate: Callable[[type[BaseModel], Any], BaseModel] | None = None) -> Decoded:
    """Parse and validate a received message against ``message``'s schema.

    :param validate: validates the payload instead of ``model.model_validate`` (same rules, raising
        :class:`pydantic.ValidationError`), e.g. :func:`edge_agent.sliced_validation.validate_in_slices`.
    :raises ContractError: when the envelope, schema id or payload is wrong.
    """
    envelope = parse_envelope(raw)
    if envelope.schema_ != message.schema_id:
        shown = repr(envelope.schema_) if SCHEMA_ID.fullmatch(envelope.schema_) else "(malformed)"
        raise ContractError(f"schema {shown} is not {message.schema_id!r}")
    if _SURROGATE_ESCAPE.search(raw):
        try:
            json.dumps(envelope.data, ensure_ascii=False).encode()
        except UnicodeEncodeError:
            raise ContractError("data: a string holds a lone UTF-16 surrogate (not Unicode text)") from None
    try:
        payload = (message.model.model_validate(envelope.data) if validate is None
                   else validate(message.model, envelope.data))
    except ValidationError as exc:
        raise ContractError(describe_validation(exc, "data.")) from None
    return Decoded(envelope, payload)


def transaction_of(raw: bytes) -> str | None:
    """The ``transaction`` of a message that may not be valid, when one can be read and sent back.

    A request that fails validation is still answered with its transaction,
    and a response is matched to its request before it is validated; so
    ``raw`` need only be a JSON object whose ``transaction`` is a string of 1
    to 128 characters that UTF-8 can encode (a lone surrogate could not be
    sent back). None for anything else; never raises.
    """
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError):  # not JSON, not UTF-8, nested too deeply, a number too long
        return None
    transaction = document.get("transaction") if isinstance(document, dict) else None
    if not isinstance(transaction, str) or not 0 < len(transaction) <= TRANSACTION_MAX_LENGTH:
        return None
    try:
        transaction.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return transaction


def json_schema(message: Message) -> dict[str, Any]:
    """The JSON Schema of a whole message (envelope with its payload) as sent on the wire."""
    if message.model is ResponseEnvelope:
        schema = ResponseEnvelope.model_json_schema(by_alias=True)
        result = COMMANDS[message.name.removeprefix("response-")].response
        if result is not None:
            result_schema = result.model_json_schema()
            schema.setdefault("$defs", {}).update(result_schema.pop("$defs", {}))
            schema["properties"]["data"] = {"anyOf": [result_schema, {"type": "null"}]}
        schema["properties"]["schema"] = {"const": message.schema_id, "type": "string"}
        schema["if"] = {"properties": {"status": {"const": "error"}}}
        schema["then"] = {"properties": {"error": {"type": "string"}, "data": {"type": "null"}},
                          "required": ["error"]}
        schema["else"] = {"properties": {"error": {"type": "null"}}}
        return schema
    payload_schema = message.model.model_json_schema()
    defs = payload_schema.pop("$defs", {})
    schema = Envelope.model_json_schema(by_alias=True)
    schema["properties"]["schema"] = {"const": message.schema_id, "type": "string"}
    schema["properties"]["data"] = payload_schema
    if message.direction == "receive" and message.response is not None:
        schema["required"] = sorted(set(schema.get("required", [])) | {"transaction"})
        schema["properties"]["transaction"] = {"type": "string", "minLength": 1, "maxLength": TRANSACTION_MAX_LENGTH,
                                               "description": "Echoed in the response."}
    if defs:
        schema["$defs"] = defs
    return schema
