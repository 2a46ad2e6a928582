"""The AsyncAPI 3.0 document of the MQTT contract, generated from the message catalogue.

``docs/asyncapi.yaml`` is the output of :func:`render_yaml` (``edge-agent
contract asyncapi -o docs/asyncapi.yaml``); a test fails when the two differ.

Every message of :data:`~.catalogue.ALL_MESSAGES` gets a channel (its
topic template, with ``{store}`` and ``{device}`` as parameters), an operation
(``send`` when the agent publishes it, ``receive`` when the agent receives
it) and a message whose payload is the JSON Schema of the whole wire message,
envelope included. Pydantic's ``$defs`` are moved to ``components.schemas``
because ``#/$defs/...`` references stop resolving once a schema is embedded in
a larger document.
"""

from __future__ import annotations

import copy
import json
import logging
import typing
from typing import Any

import yaml
from pydantic import BaseModel

from ..config import MqttConfig
from ..errors import ContractError
from .catalogue import (
    ALL_MESSAGES,
    CENTRAL,
    COMMANDS,
    DEVICE,
    EVENTS,
    EXAMPLE_DEVICE,
    EXAMPLE_ID,
    EXAMPLE_STORE,
    EXAMPLE_TS,
    PUSHES,
    RESPONSES,
    ROOT,
    STATE,
    TOPIC_PLACEHOLDER,
    Message,
)
from .codec import MESSAGE_LIMIT, encode, encode_response, json_schema
from .envelope import ResponseEnvelope
from .payloads_device import StatePayload
from .types import DeliveryClass

logger = logging.getLogger(__name__)

ASYNCAPI_VERSION = "3.0.0"
TITLE = "Connected Store edge agent MQTT contract"
MQTT_BINDING_VERSION = "0.2.0"
SCHEMAS_REF = "#/components/schemas/"
_PYDANTIC_DEFS_REF = "#/$defs/"
# Keywords whose values are JSON instances, not schemas: left as they are.
_INSTANCE_KEYWORDS = frozenset({"const", "default", "enum", "examples"})

# Keywords of JSON Schema 2020-12 that draft-07 (the base of the AsyncAPI
# Schema format) does not know; a validator would silently ignore them.
_DRAFT_2020_ONLY = frozenset({
    "$defs", "$dynamicRef", "$dynamicAnchor", "$anchor", "$vocabulary", "prefixItems",
    "dependentRequired", "dependentSchemas", "unevaluatedItems", "unevaluatedProperties",
    "minContains", "maxContains",
})

# The examples' fixed id and time (so the document is reproducible) are the
# catalogue's; the transaction is this document's own.
EXAMPLE_TRANSACTION = "tx-2026-0001"

PARAMETERS: dict[str, dict[str, Any]] = {
    "store": {
        "description": "Store id: the agent's `[store] id`, lowercase letters, digits and dashes "
                       "(at most 63 characters, starting with a letter or digit).",
        "examples": [EXAMPLE_STORE],
    },
    "device": {
        "description": "Device id within the store: the agent's `[device] id`, same characters as the "
                       "store id.",
        "examples": [EXAMPLE_DEVICE],
    },
}


def build_document() -> dict[str, Any]:
    """The AsyncAPI 3.0.0 document of the contract, as plain JSON-ready data.

    :raises ContractError: when the contract cannot be documented: two payload
        types share a schema name with different definitions, a schema uses a
        keyword draft-07 does not know, or a command's result has no example.
    """
    schemas: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for message in ALL_MESSAGES:
        channels[message.name] = _channel(message)
        messages[message.name] = _message(message, schemas)
        operation_id = f"{_action(message)}-{message.name}"
        if operation_id in operations:
            raise ContractError(f"two messages would have operation {operation_id!r}")
        operations[operation_id] = _operation(message)
    logger.debug("AsyncAPI document: %d channels, %d shared schemas", len(channels), len(schemas))
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": TITLE,
            "version": ROOT.rsplit("/", 1)[-1],
            "description": _description(),
            "license": {"name": "Apache-2.0", "url": "https://www.apache.org/licenses/LICENSE-2.0"},
            "tags": _info_tags(),
            "x-message-size-limit": MESSAGE_LIMIT,
        },
        "defaultContentType": "application/json",
        "servers": _servers(),
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "messages": messages,
            "parameters": copy.deepcopy(PARAMETERS),
            "correlationIds": {
                "transaction": {
                    "description": "A request's `transaction`, repeated in its response.",
                    "location": "$message.payload#/transaction",
                },
            },
        },
    }


def _listing(names: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``, each in backquotes."""
    quoted = [f"`{name}`" for name in names] or ["none"]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def _description() -> str:
    """The document's introduction: envelope, de-duplication, QoS, retain and privacy."""
    qos0 = _listing([message.name for message in ALL_MESSAGES if message.qos == 0])
    retained = _listing([message.name for message in ALL_MESSAGES if message.retained])
    return f"""\
Every topic and payload between a Connected Store edge agent (one per kiosk or
smart shelf) and the rest of the store and central systems. Generated from
the `edge_agent.contract` package, the single source of truth; do not edit by hand.

**Topics.** One versioned root, `{ROOT}`: `{DEVICE}/...` is what a device
publishes and receives, `{ROOT}/{CENTRAL}/{{store}}/...` is what central systems
push to a store.

**Envelope.** MQTT 3.1.1 has no headers, so every payload is a JSON object
carrying its own metadata: `id` (a UUIDv7, unique per message), `ts` (RFC 3339,
UTC), `schema` (`name/major`, e.g. `state/1`), `transaction` (commands) and
`data`. Unknown keys are refused at every level.

**De-duplication.** Events are delivered at least once: they are written to a
durable outbox first, published with QoS 1 and deleted only after the PUBACK,
so a consumer may see one twice and must de-duplicate by `id`. Pushed data is
versioned; an older version never overwrites a newer one.

**Commands.** `.../request/<command>` (with a `transaction`) is answered on
`.../response/<command>` with `status` (`ok` or `error`), `data`, `error` and
the same `transaction`. A bad request gets an error response, never silence.

**QoS and retain.** QoS 1 unless an operation says otherwise; QoS 0: {qos0}.
Retained: {retained} only; the retained `offline` state is the agent's last
will.

**Limits.** A message is at most {MESSAGE_LIMIT} bytes ({MESSAGE_LIMIT // 1024} KiB) as
sent (`x-message-size-limit`, here and on every message); a bigger one is
refused unread and not applied, and the agent reports one it receives in an
`event/error` whose reason names the limit. The `maxItems` of a batch push
(`catalogue`, `price-list`, `offers`, `purchase-history`) bound what one
message may hold, not what fits in {MESSAGE_LIMIT // 1024} KiB: a batch larger than the
size limit must be split into several messages, each applied on its own.
Splitting changes nothing, as the records of a batch are versioned and
upserted one by one, never replaced as a set (`edge-agent central push`
splits by size and by `maxItems`). A record is never split: an offer's
`targeting.customers` replace that offer's named customers as a whole, so an
offer with all its named customers must fit one message (5,000 ids of 32 hex
digits take about 185 kB; name more customers through a segment).
`customer`, `card-link` and `order` carry one record a message.

**Personal data** (messages tagged `personal-data`) is never retained on the
broker and never bridged out of the store: outside the store customers only
appear as pseudonymous ids (`c-...`). Messages tagged `local` are not bridged
at all.
"""


def render_yaml() -> str:
    """:func:`build_document` as YAML, byte for byte the same on every run."""
    header = ("# Generated by `edge-agent contract asyncapi -o docs/asyncapi.yaml` from\n"
              "# the edge_agent.contract package. Do not edit; regenerate.\n")
    body = yaml.dump(build_document(), Dumper=_Dumper, sort_keys=False, allow_unicode=True,
                     default_flow_style=False, width=100)
    return header + body


# --------------------------------------------------------------------------- pieces of the document


def _action(message: Message) -> str:
    return "send" if message.direction == "publish" else "receive"


def _kind(message: Message) -> str:
    """The family of a message in the contract's catalogue, used as its tag."""
    for kind, family in (("event", EVENTS), ("central-push", PUSHES), ("command", COMMANDS),
                         ("response", RESPONSES)):
        if message in family.values():
            return kind
    return "device"


_TAG_DESCRIPTIONS = {
    "device": "What a device says about itself and its local state: availability, health, sessions.",
    "event": "Upstream events, at least once through the durable outbox.",
    "central-push": "Data central systems push to a store; versioned.",
    "command": "Requests to a device; each is answered on its response channel.",
    "response": "Answers to commands, correlated by `transaction`.",
    "personal-data": "Carries personal data: never retained, never bridged out of the store.",
    "retained": "Published with the retain flag.",
    "local": "Not bridged: stays on the store broker.",
}


def _info_tags() -> list[dict[str, str]]:
    return [{"name": name, "description": text} for name, text in _TAG_DESCRIPTIONS.items()]


def _tags(message: Message) -> list[dict[str, str]]:
    names = [_kind(message)]
    if message.personal:
        names.append("personal-data")
    if message.retained:
        names.append("retained")
    if not message.bridged:
        names.append("local")
    return [{"name": name} for name in names]


def _servers() -> dict[str, Any]:
    bindings = {
        "mqtt": {
            "cleanSession": False,
            "keepAlive": MqttConfig.model_fields["keepalive_s"].default,
            "lastWill": {"topic": STATE.topic, "qos": STATE.qos, "message": _last_will(),
                         "retain": STATE.retained},
            "bindingVersion": MQTT_BINDING_VERSION,
        },
    }
    variables = {
        "host": {"description": "The store broker: `[mqtt] host` of the agent configuration.",
                 "default": "localhost", "examples": ["broker.store-1.local"]},
    }
    return {
        "store-broker": {
            "host": "{host}:1883",
            "protocol": "mqtt",
            "protocolVersion": "3.1.1",
            "title": "Store broker",
            "description": "The MQTT broker in the store (or the agent's embedded one in the demo). "
                           "The agent keeps a persistent session (clean session off), so pushes wait "
                           "for it while it is offline. Its client id is `cs-{store}-{device}` unless "
                           "configured; username and password are optional.",
            "variables": copy.deepcopy(variables),
            "bindings": copy.deepcopy(bindings),
        },
        "store-broker-tls": {
            "host": "{host}:8883",
            "protocol": "secure-mqtt",
            "protocolVersion": "3.1.1",
            "title": "Store broker over TLS",
            "description": "The same broker when `[mqtt.tls]` is configured; a client certificate "
                           "(mutual TLS) is optional.",
            "variables": copy.deepcopy(variables),
            "bindings": copy.deepcopy(bindings),
        },
    }


def _last_will() -> str:
    """The last will as the agent sets it, with the example id and time."""
    _, raw = encode(STATE, StatePayload(state="offline", reason="last-will"))
    return json.dumps(_fixed(json.loads(raw)), separators=(",", ":"))


def _channel(message: Message) -> dict[str, Any]:
    names = TOPIC_PLACEHOLDER.findall(message.topic)
    unknown = sorted(set(names) - set(PARAMETERS))
    if unknown:
        raise ContractError(f"{message.name}: topic {message.topic!r} has undocumented parameters {unknown}")
    return {
        "address": message.topic,
        "title": message.name,
        "summary": message.summary,
        "messages": {message.name: {"$ref": f"#/components/messages/{message.name}"}},
        "parameters": {name: {"$ref": f"#/components/parameters/{name}"} for name in names},
    }


def _operation(message: Message) -> dict[str, Any]:
    action = _action(message)
    operation: dict[str, Any] = {
        "action": action,
        "channel": {"$ref": f"#/channels/{message.name}"},
        "title": f"{action.capitalize()} {message.name}",
        "summary": message.summary,
        "description": _delivery_text(message),
        "tags": _tags(message),
        "messages": [{"$ref": f"#/channels/{message.name}/messages/{message.name}"}],
        "bindings": {"mqtt": {"qos": message.qos, "retain": message.retained,
                              "bindingVersion": MQTT_BINDING_VERSION}},
    }
    if message.response is not None:
        reply = f"response-{message.name.removeprefix('request-')}"
        operation["reply"] = {
            "channel": {"$ref": f"#/channels/{reply}"},
            "messages": [{"$ref": f"#/channels/{reply}/messages/{reply}"}],
        }
    return operation


def _delivery_text(message: Message) -> str:
    sender = "The agent publishes" if message.direction == "publish" else "The agent receives"
    parts = [f"{sender} this with QoS {message.qos}, {'retained' if message.retained else 'not retained'}."]
    if message.delivery is not None:
        parts.append(f"Delivery class `{message.delivery.value}`: written to the outbox first, sent until "
                     "acknowledged; consumers de-duplicate by `id`.")
        if message.delivery is DeliveryClass.TELEMETRY:
            parts.append("Dropped oldest first (and counted in health) when the outbox is full.")
        else:
            parts.append("Never dropped.")
    if message.personal:
        parts.append("Carries personal data: never retained, never bridged out of the store.")
    if not message.bridged:
        parts.append("Local to the store broker: not bridged.")
    if message.response is not None:
        parts.append("Needs a `transaction`; the answer comes on the reply channel.")
    return " ".join(parts)


def _message(message: Message, schemas: dict[str, Any]) -> dict[str, Any]:
    document: dict[str, Any] = {
        "name": message.name,
        "title": message.schema_id,
        "summary": message.summary,
        "contentType": "application/json",
        "tags": _tags(message),
        "description": _limit_text(message),
        "payload": _embed(json_schema(message), schemas, message.name),
        "examples": _examples(message),
        "x-message-size-limit": MESSAGE_LIMIT,
    }
    if message.response is not None or message.model is ResponseEnvelope:
        document["correlationId"] = {"$ref": "#/components/correlationIds/transaction"}
    return document


def _limit_text(message: Message) -> str:
    """The size limit as every message's description states it; for a batch push, how to send more."""
    text = f"At most {MESSAGE_LIMIT} bytes encoded; a bigger message is refused unread and not applied."
    if message in PUSHES.values() and _is_batch(message):
        for name, field in message.model.model_fields.items():
            most = next((rule.max_length for rule in field.metadata if getattr(rule, "max_length", None)), None)
            text += f" `{name}` holds at most {most} records."
        text += (f" A batch larger than {MESSAGE_LIMIT} bytes must be split into several messages, each applied "
                 "on its own: every record is upserted by its own version, never replaced as a set.")
    if message is PUSHES["offers"]:
        text += (" One offer is never split: its `targeting.customers` replace the offer's named customers as a "
                 "whole, so an offer with all of them must fit one message.")
    return text


def _is_batch(message: Message) -> bool:
    """Whether ``message`` is a batch: every field a list of records (catalogue, prices, offers, history)."""
    fields = message.model.model_fields.values()
    return bool(fields) and all(typing.get_origin(field.annotation) is list
                                and isinstance(item := typing.get_args(field.annotation)[0], type)
                                and issubclass(item, BaseModel) for field in fields)


# --------------------------------------------------------------------------- examples


def _fixed(envelope: dict[str, Any]) -> dict[str, Any]:
    """``envelope`` with the example id and time instead of fresh ones."""
    return {**envelope, "id": EXAMPLE_ID, "ts": EXAMPLE_TS}


def _examples(message: Message) -> list[dict[str, Any]]:
    if message.model is ResponseEnvelope:
        command = message.name.removeprefix("response-")
        request = COMMANDS[command]
        if request.response is None or request.result_example is None:
            raise ContractError(f"{message.name}: command {command!r} declares no result model or no example of it")
        result = request.response.model_validate(request.result_example)
        ok = json.loads(encode_response(command, EXAMPLE_TRANSACTION, result=result))
        error = json.loads(encode_response(command, None, error="transaction is required"))
        return [
            {"name": "ok", "summary": "The command was carried out.", "payload": _fixed(ok)},
            {"name": "error", "summary": "A request without transaction was refused.",
             "payload": _fixed(error)},
        ]
    transaction = EXAMPLE_TRANSACTION if message.response is not None else None
    _, raw = encode(message, message.example, transaction=transaction, message_id=EXAMPLE_ID)
    return [{"name": "example", "summary": message.summary, "payload": _fixed(json.loads(raw))}]


# --------------------------------------------------------------------------- schemas


def _embed(schema: dict[str, Any], schemas: dict[str, Any], owner: str) -> dict[str, Any]:
    """``schema`` with its ``$defs`` moved into ``schemas`` and its references rewritten.

    :raises ContractError: when a definition clashes with a different one of the same name.
    """
    schema = copy.deepcopy(schema)
    for name, definition in schema.pop("$defs", {}).items():
        converted = _rewrite(definition, f"{owner}: $defs/{name}")
        known = schemas.get(name)
        if known is not None and known != converted:
            raise ContractError(f"{owner}: schema {name!r} differs from another one of the same name; "
                                "rename one of the models")
        schemas[name] = converted
    return _rewrite(schema, owner)


def _rewrite(node: Any, where: str) -> Any:
    """A copy of ``node`` whose ``#/$defs/X`` references point to ``components.schemas``.

    A ``$ref`` with sibling keywords is wrapped in ``allOf``: draft-07 ignores
    everything beside a ``$ref``.
    """
    if isinstance(node, list):
        return [_rewrite(item, where) for item in node]
    if not isinstance(node, dict):
        return node
    if where.endswith(("/properties", "/patternProperties")):
        # A map from names to schemas: its keys are names, not keywords.
        return {key: _rewrite(value, f"{where}/{key}") for key, value in node.items()}
    keywords = set(node) & _DRAFT_2020_ONLY
    if keywords:
        raise ContractError(f"{where}: uses {sorted(keywords)}, which draft-07 schemas do not know")
    result = {key: value if key in _INSTANCE_KEYWORDS else _rewrite(value, f"{where}/{key}")
              for key, value in node.items()}
    ref = result.get("$ref")
    if ref is not None:
        if not ref.startswith(_PYDANTIC_DEFS_REF):
            raise ContractError(f"{where}: cannot embed reference {ref!r}")
        target = {"$ref": SCHEMAS_REF + ref.removeprefix(_PYDANTIC_DEFS_REF)}
        siblings = {key: value for key, value in result.items() if key != "$ref"}
        result = {**siblings, "allOf": [target]} if siblings else target
    return result


# --------------------------------------------------------------------------- YAML


class _Dumper(yaml.SafeDumper):
    """Block-style YAML without anchors, multi-line strings as literal blocks."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _represent_str)
