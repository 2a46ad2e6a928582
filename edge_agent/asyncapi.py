"""The AsyncAPI 3.0 document of the MQTT contract, generated from :mod:`edge_agent.contract`.

``docs/asyncapi.yaml`` is the output of :func:`render_yaml` (``edge-agent
contract asyncapi -o docs/asyncapi.yaml``); a test fails when the two differ.

Every message of :data:`~edge_agent.contract.ALL_MESSAGES` gets a channel (its
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
from typing import Any

import yaml

from .config import MqttConfig
from .contract import (
    ALL_MESSAGES,
    CENTRAL,
    COMMANDS,
    DEVICE,
    EVENTS,
    PUSHES,
    RESPONSES,
    ROOT,
    STATE,
    TOPIC_PLACEHOLDER,
    DeliveryClass,
    Message,
    ResponseEnvelope,
    StatePayload,
    encode,
    encode_response,
    json_schema,
)
from .errors import ContractError

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

# Fixed envelope metadata for the examples, so the document is reproducible.
EXAMPLE_ID = "0195ec1f-5a40-7c3e-9a41-3f0d2b8e6c15"
EXAMPLE_TS = "2026-04-01T09:30:00.000Z"
EXAMPLE_TRANSACTION = "tx-2026-0001"
EXAMPLE_STORE = "store-1"
EXAMPLE_DEVICE = "kiosk-1"

# The ok data of each command's response, by name of the result model. The
# contract holds request examples only; a command whose result has no entry
# here cannot be documented and is reported as a ContractError.
RESULT_EXAMPLES: dict[str, dict[str, Any]] = {
    "PingResult": {"pong": True, "uptime_s": 120.5},
    "GetConfigResult": {
        "config": {"store": {"id": EXAMPLE_STORE}, "device": {"id": EXAMPLE_DEVICE},
                   "mqtt": {"host": "broker.store-1.local", "port": 8883, "keepalive_s": 30}},
        "config_hash": "a1b2c3d4e5f60718",
    },
    "SetLogLevelResult": {"logger": "edge_agent.link", "level": "DEBUG"},
    "WithdrawResult": {"withdrawn": ["recognition", "personal-offers"], "erased_records": 3},
    "MyDataResult": {
        "customer": {"first_name": "Sanne", "language": "nl", "tier": "goud", "points": 5120},
        "consents": [{"purpose": "recognition", "until": "2027-04-01T00:00:00Z"}],
        "data_use": [{"at": EXAMPLE_TS, "device": EXAMPLE_DEVICE, "use": "greeting",
                      "categories": ["first_name"]}],
    },
    "EndSessionResult": {"ended": True},
    "ProductResult": {
        "product": {"gtin": "08712345000028", "name": "Gazonmest 10 kg", "description": "Voor 200 m² gazon.",
                    "category": "gazonmest", "images": ["products/gazonmest-10kg.jpg"], "stock": 14,
                    "shelf": "Gang 3, schap A", "video": "videos/gazon-bemesten.mp4", "shelf_price_cents": 2199},
        "price": {"price_cents": 1899, "shelf_price_cents": 2199, "saving_cents": 300, "source": "price-list",
                  "reason": "Clubprijs", "offer": None, "price_group": "club"},
        "offers": [{"offer": "voorjaar-2026", "version": 3, "kind": "percentage-off",
                    "title": "Voorjaarsactie −10%", "valid_until": "2026-04-30T22:00:00Z", "personal": False,
                    "applies": True, "percent": 10.0, "categories": ["gazonmest"]}],
        "personal": True,
    },
    "OffersResult": {
        "offers": [{"offer": "handschoenen-50", "version": 1, "kind": "gift-with-purchase",
                    "title": "Gratis tuinhandschoenen vanaf €50", "valid_until": "2026-04-30T22:00:00Z",
                    "personal": False, "applies": True, "gift": "08712345000066", "min_spend_cents": 5000}],
        "deals": [{"gtin": "08712345000028", "name": "Gazonmest 10 kg", "shelf_price_cents": 2199,
                   "price_cents": 1899, "reason": "Clubprijs", "price_group": "club"}],
        "more_deals": 0,
        "personal": True,
    },
    "AccountResult": {
        "loyalty": {"tier": "goud", "tier_name": "Goud", "points": 5120, "next_tier": None, "next_tier_name": None,
                    "points_to_next": None, "euros_to_next": None, "progress": 1.0, "points_per_euro": 10.0},
        "orders": [{"order_id": "WEB-100234", "status": "ready", "pickup": {"kind": "locker", "locker": "4"},
                    "ready_since": EXAMPLE_TS, "deadline": "2026-04-08T18:00:00Z",
                    "items": [{"name": "Gazonmest 10 kg", "quantity": 1}]}],
        "purchases": [{"gtin": "08712345000028", "name": "Gazonmest 10 kg", "quantity": 1,
                       "at": "2026-03-14T10:12:00Z", "channel": "webshop"}],
    },
    "ActivateOfferResult": {"offer": "voorjaar-2026", "new": True},
    "PromoCodeResult": {
        "valid": True, "outcome": "valid",
        "offer": {"offer": "lente-code", "version": 1, "kind": "promo-code", "title": "Lentecode −15%",
                  "valid_until": "2026-04-30T22:00:00Z", "personal": False, "applies": True, "needs_code": True,
                  "percent": 15.0},
    },
    "QueuedResult": {"event": EXAMPLE_ID},
}

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
`edge_agent/contract.py`, the single source of truth; do not edit by hand.

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

**Personal data** (messages tagged `personal-data`) is never retained on the
broker and never bridged out of the store: outside the store customers only
appear as pseudonymous ids (`c-...`). Messages tagged `local` are not bridged
at all.
"""


def render_yaml() -> str:
    """:func:`build_document` as YAML, byte for byte the same on every run."""
    header = ("# Generated by `edge-agent contract asyncapi -o docs/asyncapi.yaml` from\n"
              "# edge_agent/contract.py. Do not edit; regenerate.\n")
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
        "payload": _embed(json_schema(message), schemas, message.name),
        "examples": _examples(message),
    }
    if message.response is not None or message.model is ResponseEnvelope:
        document["correlationId"] = {"$ref": "#/components/correlationIds/transaction"}
    return document


# --------------------------------------------------------------------------- examples


def _fixed(envelope: dict[str, Any]) -> dict[str, Any]:
    """``envelope`` with the example id and time instead of fresh ones."""
    return {**envelope, "id": EXAMPLE_ID, "ts": EXAMPLE_TS}


def _examples(message: Message) -> list[dict[str, Any]]:
    if message.model is ResponseEnvelope:
        command = message.name.removeprefix("response-")
        result_model = COMMANDS[command].response
        if result_model is None:
            raise ContractError(f"{message.name}: command {command!r} declares no result model")
        if result_model.__name__ not in RESULT_EXAMPLES:
            raise ContractError(f"{message.name}: no example result for {result_model.__name__}; "
                                "add one to edge_agent.asyncapi.RESULT_EXAMPLES")
        result = result_model.model_validate(RESULT_EXAMPLES[result_model.__name__])
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
