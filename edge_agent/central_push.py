"""``edge-agent central push``: central's pushes written down as a YAML fixtures file, checked against the
contract and published as central would.

A fixtures file is a mapping of sections to lists of records::

    store: store-0042            # optional; the command line's --store wins
    catalogue: [...]             # ProductRecord     -> catalogue, many per message
    price_groups: [...]          # PriceGroupRecord  -> price-list, many per message
    prices: [...]                # PriceRecord       -> price-list, many per message
    offers: [...]                # OfferRecord       -> offers, many per message
    customers: [...]             # CustomerProfile   -> customer, one per message
    staff: [...]                 # StaffPush         -> staff, one per message
    card_links: [...]            # CardLinkPush      -> card-link, one per message
    orders: [...]                # OrderPush         -> order, one per message
    purchase_history: [...]      # PurchaseRecord    -> purchase-history, many per message

Each record is checked as the agent will check it: turned into JSON (dates as
ISO text) and validated by the contract's model. Records of a batched section
are then packed into messages of at most ``batch`` records (capped by the
push's ``maxItems``) and 256 KiB; a record too big for one message on its own
is a mistake of the file. Splitting a batch changes nothing for the agent:
every record is upserted by its own version, never replaced as a set. A card
link may give the card's ``uid`` (hex) instead of its ``card`` token: the token
is computed with the store's HMAC key and the UID is never published. Likewise a staff record may give the
member's ``pin`` (4 to 8 digits) instead of its ``pin_verifier``: the verifier is computed (salted argon2id,
:mod:`edge_agent.staff.pin`) and the PIN is never published.

Dates and times may be written relative to the moment the file is loaded
(:mod:`edge_agent.relative_dates`, in UTC), so a demo's offers, consents and
orders never run out: ``today-30d`` and ``today+180d`` are dates,
``today+3dT18:00Z``, ``now`` and ``now+330d`` date-times. A string that starts
like one but is not one is a problem naming the field.

Every mistake in the file is a :class:`~edge_agent.problems.Problem` with its
line and key path (``offers.yaml:7: offers.0: the validity window ends before
it starts``), and then nothing is published.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from .config import ID_PATTERN
from .contract import (
    MESSAGE_LIMIT,
    PUSHES,
    CardLinkPush,
    CustomerProfile,
    OfferRecord,
    OrderPush,
    PriceGroupRecord,
    PriceRecord,
    ProductRecord,
    PurchaseRecord,
    StaffPush,
    encode,
)
from .errors import EdgeAgentError
from .identity import card_token
from .problems import (
    InvalidInput,
    Loc,
    Problem,
    key_path,
    validation_problems,
    yaml_error_line,
    yaml_line,
    yaml_node,
)
from .relative_dates import RelativeDateError, relative_date

logger = logging.getLogger(__name__)

ENVELOPE_ROOM = 512  # id, ts, schema and the batch's own keys


@dataclass(frozen=True)
class Section:
    """A section of a fixtures file: its records' model and the push that carries them."""

    model: type[BaseModel]
    push: str
    batch_field: str | None  # None: one record per message
    key: tuple[str, ...]  # what must be unique within the section


# In publishing order: products before what refers to them, customers before their cards.
SECTIONS: dict[str, Section] = {
    "catalogue": Section(ProductRecord, "catalogue", "products", ("gtin",)),
    "price_groups": Section(PriceGroupRecord, "price-list", "groups", ("price_group",)),
    "prices": Section(PriceRecord, "price-list", "prices", ("price_group", "gtin")),
    "offers": Section(OfferRecord, "offers", "offers", ("offer",)),
    "customers": Section(CustomerProfile, "customer", None, ("customer",)),
    "staff": Section(StaffPush, "staff", None, ("staff",)),  # before their badges
    "card_links": Section(CardLinkPush, "card-link", None, ("card",)),
    "orders": Section(OrderPush, "order", None, ("order_id",)),
    "purchase_history": Section(PurchaseRecord, "purchase-history", "purchases", ("line",)),
}


class FixtureError(EdgeAgentError, InvalidInput):
    """A fixtures file cannot be read or breaks the contract; ``problems`` names the line and key path of each
    mistake."""

    def __init__(self, source: str, problems: list[Problem]):
        InvalidInput.__init__(self, problems, source)


@dataclass(frozen=True)
class Fixtures:
    """A checked fixtures file: records by section, as validated models."""

    source: str
    store: str | None
    records: dict[str, list[BaseModel]]

    def counts(self) -> dict[str, int]:
        return {name: len(records) for name, records in self.records.items() if records}


@dataclass(frozen=True)
class Outgoing:
    """One message to publish."""

    push: str
    topic: str
    payload: bytes
    records: int


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} cannot be sent as JSON")


def _resolve_relative(value: Any, now: datetime, loc: Loc, problems: list[tuple[Loc, str]]) -> Any:
    """``value`` with every relative date string replaced by its ISO text; problems collected with their key."""
    if isinstance(value, str):
        try:
            resolved = relative_date(value, now)
        except RelativeDateError as exc:
            problems.append((loc, str(exc)))
            return value
        return value if resolved is None else resolved
    if isinstance(value, dict):
        return {key: _resolve_relative(item, now, (*loc, str(key)), problems) for key, item in value.items()}
    if isinstance(value, list):
        return [_resolve_relative(item, now, (*loc, index), problems) for index, item in enumerate(value)]
    return value


def _card_from_uid(record: dict, hmac_key: bytes | None) -> tuple[str | None, str] | None:
    """Replace the record's ``uid`` by the card's token; the problem's (key, message) when that cannot be done."""
    uid = record.pop("uid")
    if "card" in record:
        return None, "give either card or uid, not both"
    if hmac_key is None:
        return "uid", ("needs the store's HMAC key (credential store-hmac-key, e.g. CS_STORE_HMAC_KEY) "
                       "to compute the card's token")
    try:
        raw = bytes.fromhex(str(uid))
    except ValueError:
        raw = b""
    if len(raw) not in (4, 7, 10):
        return "uid", "a card UID is 4, 7 or 10 bytes in hex"
    record["card"] = card_token(hmac_key, raw)
    return None


def _verifier_from_pin(record: dict) -> str | None:
    """Replace the staff record's ``pin`` by its verifier; the problem (never repeating the PIN) when it cannot be."""
    from .staff.pin import hash_pin

    pin = record.pop("pin")
    if "pin_verifier" in record:
        return "give either pin or pin_verifier, not both"
    if not isinstance(pin, str):
        return "a PIN is 4 to 8 digits, written as a string (in quotes: a leading 0 counts)"
    try:
        record["pin_verifier"] = hash_pin(pin)
    except ValueError as exc:
        return str(exc)
    return None


def load(path: str | Path, hmac_key: bytes | None = None, now: datetime | None = None) -> Fixtures:
    """Read and check a fixtures file.

    :param hmac_key: the store key, for card links given by ``uid``.
    :param now: the moment relative dates (``today+180d``) count from; the current time by default.
    :raises FixtureError: listing every problem as ``file:line: section.index.field: what``.
    """
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
        document = yaml.safe_load(text)
    except OSError as exc:
        raise FixtureError(source, [Problem(source, None, None, f"cannot read: {exc.strerror}")]) from None
    except yaml.YAMLError as exc:
        raise FixtureError(source, [Problem(source, yaml_error_line(exc), None, f"not valid YAML: {exc}")]) from None
    node = yaml_node(text)

    def locate(loc: Loc) -> int | None:
        return yaml_line(node, loc)

    def problem(loc: Loc, message: str) -> Problem:
        return Problem(source, locate(loc), key_path(loc), message)

    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise FixtureError(source, [problem((), "the file must be a mapping of sections to lists of records")])
    problems: list[Problem] = []
    now = now or datetime.now(UTC)
    store = document.pop("store", None)
    if store is not None and not (isinstance(store, str) and re.fullmatch(ID_PATTERN, store)):
        problems.append(problem(("store",), "lowercase letters, digits and dashes"))
    problems.extend(problem((str(name),), f"unknown section (known: store, {', '.join(SECTIONS)})")
                    for name in document if name not in SECTIONS)
    records: dict[str, list[BaseModel]] = {}
    for name, section in SECTIONS.items():
        items = document.get(name) or []
        if not isinstance(items, list):
            problems.append(problem((name,), "must be a list of records"))
            continue
        checked: list[BaseModel] = []
        seen: dict[tuple, int] = {}
        for index, item in enumerate(items):
            where: Loc = (name, index)
            if not isinstance(item, dict):
                problems.append(problem(where, "must be a mapping"))
                continue
            relative: list[tuple[Loc, str]] = []
            given = _resolve_relative(item, now, where, relative)  # a copy: a card link's uid becomes its token
            if relative:
                problems.extend(problem(loc, message) for loc, message in relative)
                continue
            if name == "staff" and "pin" in given:
                pin_refused = _verifier_from_pin(given)
                if pin_refused:
                    problems.append(problem((*where, "pin"), pin_refused))
                    continue
            if name == "card_links" and "uid" in given:
                refused = _card_from_uid(given, hmac_key)
                if refused:
                    field_name, message = refused
                    problems.append(problem((*where, field_name) if field_name else where, message))
                    continue
            try:
                data = json.loads(json.dumps(given, default=_jsonable))
                record = section.model.model_validate(data)
            except TypeError as exc:
                problems.append(problem(where, str(exc)))
                continue
            except ValidationError as exc:
                problems.extend(validation_problems(exc, file=source, locate=locate, prefix=where))
                continue
            key = tuple(getattr(record, part) for part in section.key)
            if key in seen:
                problems.append(problem(where, f"repeats {name}.{seen[key]}"))
                continue
            length = encoded_length(record)
            if ENVELOPE_ROOM + length > MESSAGE_LIMIT:
                problems.append(problem(where, f"{length} bytes encoded: a record is never split, and one message "
                                               f"holds at most {MESSAGE_LIMIT} bytes with its envelope"))
                continue
            seen[key] = index
            checked.append(record)
        records[name] = checked
    if problems:
        raise FixtureError(source, problems)
    return Fixtures(source, store, records)


def messages(fixtures: Fixtures, store: str, batch: int = 500) -> list[Outgoing]:
    """The messages central would publish for ``fixtures`` to ``store``, in publishing order.

    :param batch: most records per message of a batched push (the contract's maximum caps it).
    :raises ValueError: for a batch below 1.
    """
    if batch < 1:
        raise ValueError("batch must be at least 1")
    outgoing = []
    for name, section in SECTIONS.items():
        message = PUSHES[section.push]
        topic = message.topic_for(store)
        for records in _chunks(fixtures.records.get(name, []), section, batch):
            data = records[0] if section.batch_field is None else {section.batch_field: records}
            _, payload = encode(message, data)
            if len(payload) > MESSAGE_LIMIT:  # load() refuses a record this big: never publish what is refused
                raise EdgeAgentError(f"{section.push}: a message of {len(payload)} bytes, over the limit of "
                                     f"{MESSAGE_LIMIT}")
            outgoing.append(Outgoing(section.push, topic, payload, len(records)))
    return outgoing


def encoded_length(record: BaseModel) -> int:
    """The bytes ``record`` takes in a message (compact JSON, UTF-8), as :func:`messages` counts them."""
    return _json_length(record.model_dump(mode="json"))


def _json_length(data: Any) -> int:
    return len(json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode())


def _chunks(records: list[BaseModel], section: Section, batch: int) -> Iterator[list]:
    if section.batch_field is None:
        for record in records:
            yield [record]
        return
    most = min(batch, section_maximum(section))
    chunk: list[dict] = []
    size = ENVELOPE_ROOM
    for record in records:
        data = record.model_dump(mode="json")
        length = _json_length(data) + 1  # and a comma
        if chunk and (len(chunk) >= most or size + length > MESSAGE_LIMIT):
            yield chunk
            chunk, size = [], ENVELOPE_ROOM
        chunk.append(data)
        size += length
    if chunk:
        yield chunk


def section_maximum(section: Section) -> int:
    """The contract's largest batch of ``section``'s records in one message."""
    if section.batch_field is None:
        return 1  # one record per message
    model = PUSHES[section.push].model
    for constraint in model.model_fields[section.batch_field].metadata:
        if hasattr(constraint, "max_length"):
            return constraint.max_length
    return 1000


def publish(outgoing: list[Outgoing], host: str, port: int, *, username: str | None = None,
            password: str | None = None, timeout: float = 30.0) -> None:
    """Publish ``outgoing`` with QoS 1, in order, and wait for every PUBACK.

    :raises EdgeAgentError: when the broker cannot be reached or does not acknowledge in time.
    """
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from .contract import new_id

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"central-push-{new_id()[-12:]}",
                         protocol=mqtt.MQTTv311)
    if username:
        client.username_pw_set(username, password)
    connected = threading.Event()
    refused: list[str] = []

    def on_connect(client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            refused.append(str(reason_code))
        connected.set()

    client.on_connect = on_connect
    try:
        client.connect(host, port)
    except OSError as exc:
        raise EdgeAgentError(f"cannot reach the broker at {host}:{port}: {exc.strerror or exc}") from None
    client.loop_start()
    try:
        if not connected.wait(timeout):
            raise EdgeAgentError(f"no answer from the broker at {host}:{port}")
        if refused:
            raise EdgeAgentError(f"the broker at {host}:{port} refused the connection: {refused[0]}")
        sent = [client.publish(message.topic, message.payload, qos=1) for message in outgoing]
        for info in sent:
            info.wait_for_publish(timeout)
            if not info.is_published():
                raise EdgeAgentError("the broker did not acknowledge every message in time")
    finally:
        client.disconnect()
        client.loop_stop()
