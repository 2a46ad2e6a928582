"""The JSON envelope around every payload, and the one around a command's answer.

MQTT 3.1.1 has no headers, so a message carries its metadata itself:
``id`` (a UUIDv7, unique per message; consumers de-duplicate by it), ``ts``
(RFC 3339, UTC), ``schema`` (``name/major``), ``transaction`` (commands) and
``data``. A response carries ``status``, ``data`` and ``error`` beside the
same metadata. :mod:`.codec` reads and writes them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from .types import MessageId, Transaction


class Envelope(BaseModel):
    """Metadata around every payload."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    id: MessageId = Field(description="Unique per message (UUIDv7); consumers de-duplicate by it.")
    ts: AwareDatetime = Field(description="When the message was created, RFC 3339.")
    schema_: str = Field(alias="schema", description="Payload schema as name/major.")
    transaction: Transaction | None = Field(None, description="Correlates a request with its response.")
    data: dict[str, Any]


class ResponseEnvelope(BaseModel):
    """A command's answer: ``{status, data, error, transaction}`` with the usual metadata."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    id: MessageId
    ts: AwareDatetime
    schema_: str = Field(alias="schema")
    transaction: Transaction | None = Field(description="The request's transaction, null when it had none.")
    status: Literal["ok", "error"]
    data: dict[str, Any] | None = None
    error: str | None = None
