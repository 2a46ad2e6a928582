"""Values at the edges of every push schema: applied, or rejected with a reason; never dropped, never a crash.

The promise (issue 13, point 1): every value the contract accepts for a push
is handled. The agent either applies it (the inbox records its id in the same
transaction) or rejects it with a reason (an ``event/error`` naming its message
id, counted as rejected in health); it never drops one silently, never stops
answering, and always starts again.

The payloads are drawn from each push's JSON Schema (its ``$defs``, patterns,
bounds and conditional rules), so a push added to the catalogue is covered
without a line here: the smallest and largest integers, the first and last
day and instant of the contract's date window (with the widest UTC offsets),
the longest strings (any Unicode), empty lists and the longest lists that fit
the message limit. Only what JSON Schema cannot say is added by hand: which
string patterns carry a check digit (GTINs) and, in :data:`RULES_BEYOND_SCHEMA`,
the cross-field rules of two models (a validity window that ends after it
starts, a pick-up deadline after ready_since).

Sizes: ``PUSH_EDGE_EXAMPLES`` (default 240) pushes through a real Mosquitto to
an agent process; the in-process run takes ``PUSH_EDGE_FAST_EXAMPLES``
(default 150) against the appliers and the offer index.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import re
import socket
import sqlite3
import threading
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, reject, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

import edge_agent.contract as contract
from edge_agent.central import APPLIERS
from edge_agent.content_control.config import ContentConfig
from edge_agent.content_delivery.service import ContentDelivery
from edge_agent.content_delivery.signing import public_key_hex, sign_manifest
from edge_agent.contract import (
    COMMANDS,
    DATE_WINDOW,
    HEALTH,
    MESSAGE_LIMIT,
    PUSHES,
    CardToken,
    CustomerId,
    Gtin,
    Identifier,
    LineId,
    MediaRef,
    Message,
    OfferId,
    OfferRecord,
    OrderPush,
    PromoCode,
    StaffId,
    decode,
    gtin_check_digit,
    new_id,
    now_ts,
)
from edge_agent.contract.payloads_content_delivery import PACK_MANIFEST_PATH, ContentPackManifest
from edge_agent.errors import ContractError
from edge_agent.matching import MatchService
from edge_agent.offers import ANONYMOUS
from edge_agent.outbox import Outbox
from edge_agent.store import Store
from tests.support.content_packs import KEY as CONTENT_KEY
from tests.support.content_packs import KEY_ID as CONTENT_KEY_ID
from tests.support.content_packs import content_section
from tests.support.faults import FastPublisher, wait_until
from tests.support.mqtt import Capture, envelope

EXAMPLES = int(os.environ.get("PUSH_EDGE_EXAMPLES", "240"))
FAST_EXAMPLES = int(os.environ.get("PUSH_EDGE_FAST_EXAMPLES", "150"))
PUSH_MESSAGES: list[Message] = list(PUSHES.values())

# --------------------------------------------------------------------------- strings with a pattern


def _pattern(kind: Any) -> str:
    return next(meta.pattern for meta in kind.__metadata__ if getattr(meta, "pattern", None))


def _gtin(body: str) -> str:
    return body + str(gtin_check_digit(body))


# The contract's patterned string types: how to make the n-th distinct value (to fill a list to its
# maximum) and the longest one. Matched by the pattern the JSON Schema shows.
PATTERNED: dict[str, tuple[Any, str]] = {
    _pattern(Gtin): (lambda n: _gtin(f"{n + 1:013d}"), _gtin("9" * 13)),
    _pattern(CustomerId): (lambda n: f"c-{n:016x}", "c-" + "f" * 64),
    _pattern(CardToken): (lambda n: f"k-{n:064x}", "k-" + "f" * 64),
    _pattern(StaffId): (lambda n: f"s-{n}", "s-" + "z" * 40),
    _pattern(Identifier): (lambda n: f"x{n}", "z" * 63),
    _pattern(OfferId): (lambda n: f"O-{n}", "Z" * 64),
    _pattern(PromoCode): (lambda n: f"P{n:04d}", "Z" * 32),
    _pattern(LineId): (lambda n: f"L{n}/1", "L" + "9" * 79),
    _pattern(MediaRef): (lambda n: f"m/{n}.jpg", "https://" + "~" * 500),
}
GTIN_PATTERN = _pattern(Gtin)

gtins = st.one_of(
    st.sampled_from([8, 12, 13, 14]).flatmap(
        lambda digits: st.integers(0, 10 ** (digits - 1) - 1).map(lambda n: _gtin(f"{n:0{digits - 1}d}"))),
    st.just(_gtin("0" * 13)), st.just(_gtin("9" * 13)), st.just(_gtin("0" * 7)))


def patterned_text(pattern: str) -> st.SearchStrategy[str]:
    if pattern == GTIN_PATTERN:
        return gtins
    regex = st.from_regex(pattern, fullmatch=True)
    known = PATTERNED.get(pattern)
    if known is None:
        return regex
    nth, longest = known
    return st.one_of(regex, st.just(longest), st.integers(0, 10**6).map(nth))


# --------------------------------------------------------------------------- dates, instants, numbers

FIRST, LAST = DATE_WINDOW
WIDEST = timedelta(hours=23, minutes=59)  # the widest UTC offset RFC 3339 can write
offsets = st.sampled_from([UTC, timezone(WIDEST), timezone(-WIDEST), timezone(timedelta(hours=14)),
                           timezone(timedelta(hours=-12)), timezone(timedelta(hours=5, minutes=45))])
instants = st.one_of(
    st.sampled_from([
        datetime.combine(FIRST, datetime.min.time(), timezone(WIDEST)).isoformat(),  # earliest in UTC
        datetime.combine(FIRST, datetime.min.time(), UTC).isoformat().replace("+00:00", "Z"),
        datetime.combine(LAST, datetime.max.time(), timezone(-WIDEST)).isoformat(),  # latest in UTC
        datetime.combine(LAST, datetime.max.time(), UTC).isoformat(),
    ]),
    st.builds(lambda moment, zone: moment.replace(tzinfo=zone).isoformat(),
              st.datetimes(datetime.combine(FIRST, datetime.min.time()), datetime.combine(LAST, datetime.max.time())),
              offsets),
)
days = st.one_of(st.sampled_from([FIRST.isoformat(), LAST.isoformat()]),
                 st.dates(FIRST, LAST).map(date.isoformat))

INT_RANGE = (-(2**63), 2**63 - 1)  # where a schema states no bound: what SQLite holds


def integers(schema: dict) -> st.SearchStrategy[int]:
    low = schema.get("minimum", schema["exclusiveMinimum"] + 1 if "exclusiveMinimum" in schema else INT_RANGE[0])
    high = schema.get("maximum", schema["exclusiveMaximum"] - 1 if "exclusiveMaximum" in schema else INT_RANGE[1])
    edges = sorted({low, min(low + 1, high), max(high - 1, low), high})
    return st.one_of(st.sampled_from(edges), st.integers(low, high))


def numbers(schema: dict) -> st.SearchStrategy[float]:
    low = schema.get("minimum", schema.get("exclusiveMinimum", -1e308))
    high = schema.get("maximum", schema.get("exclusiveMaximum", 1e308))
    exclude_low, exclude_high = "exclusiveMinimum" in schema, "exclusiveMaximum" in schema
    edges = [value for value in (low, low + 5e-324, low + 1e-9, high, high - 1e-9, (low + high) / 2)
             if (value > low if exclude_low else value >= low) and (value < high if exclude_high else value <= high)]
    return st.one_of(st.sampled_from(edges),
                     st.floats(low, high, exclude_min=exclude_low, exclude_max=exclude_high, allow_nan=False))


def texts(schema: dict) -> st.SearchStrategy[str]:
    """Any Unicode (no lone surrogates: they are no text), short or of the greatest length."""
    low, high = schema.get("minLength", 0), schema.get("maxLength", 10_000)
    short = st.text(min_size=low, max_size=min(high, max(low, 8)))
    longest = st.text(min_size=1, max_size=4).map(lambda piece: (piece * high)[:high])
    return st.one_of(short, longest)


# --------------------------------------------------------------------------- payloads from a JSON Schema


def _models() -> dict[str, type[BaseModel]]:
    """The contract's payload models by the name their JSON Schema ``$defs`` use."""
    found = {}
    for name in contract.__all__:
        value = getattr(contract, name)
        if isinstance(value, type) and issubclass(value, BaseModel):
            found[value.__name__] = value
    return found


MODELS = _models()


def _window_in_order(draw, record: dict) -> dict:
    # Both bounds of one form (dates or instants), the end after the start.
    start, end = record["valid_from"], record["valid_until"]
    if (len(start) == 10) != (len(end) == 10):
        end = draw(days if len(start) == 10 else instants)
    key = date.fromisoformat if len(start) == 10 else datetime.fromisoformat
    if key(end) < key(start):
        start, end = end, start
    return record | {"valid_from": start, "valid_until": end}


def _deadline_after_ready(draw, record: dict) -> dict:
    ready, deadline = record.get("ready_since"), record.get("deadline")
    if ready and deadline and datetime.fromisoformat(deadline) < datetime.fromisoformat(ready):
        return record | {"ready_since": deadline, "deadline": ready}
    return record


def _a_pack_manifest(draw, manifest: dict) -> dict:
    # A pack lists its content.yaml (the first file is made it), and ends after it starts.
    files = manifest["files"]
    if PACK_MANIFEST_PATH not in {item["path"] for item in files}:
        files = [{**files[0], "path": PACK_MANIFEST_PATH}, *files[1:]]
    start, end = manifest["activate_at"], manifest["end"]
    if start is not None and end is not None and end <= start:
        start, end = (end, start) if end < start else (start, None)
    return manifest | {"files": files, "activate_at": start, "end": end}


# Rules between fields that a JSON Schema does not state (the models' validators do).
RULES_BEYOND_SCHEMA = {OfferRecord.__name__: _window_in_order, OrderPush.__name__: _deadline_after_ready,
                       ContentPackManifest.__name__: _a_pack_manifest}
REPEAT = re.compile(r"(\w+)\[(\d+)\] repeats \1\[\d+\]")


def validated(model: type[BaseModel], document: dict) -> dict:
    """``document`` without the list entries that repeat another's key; rejects the example when it is
    invalid for another reason (a rule a draw could not know, e.g. a media path with '..')."""
    for _ in range(50):
        try:
            model.model_validate(document)
            return document
        except ValidationError as exc:
            repeats = [(error["loc"], REPEAT.search(error["msg"])) for error in exc.errors()]
            if not repeats or not all(found for _, found in repeats):
                reject()
            for loc, found in repeats[:1]:
                assert found is not None
                holder: Any = document
                for part in loc:
                    holder = holder[part]
                del holder[found.group(1)][int(found.group(2))]
    reject()


class SchemaDraw:
    """Draws JSON documents valid for one message's payload schema, biased to the edges."""

    def __init__(self, model: type[BaseModel]):
        self.model = model
        self.schema = model.model_json_schema()
        self.defs: dict[str, dict] = self.schema.get("$defs", {})

    def resolve(self, schema: dict) -> tuple[dict, str | None]:
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[1]
            return self.defs[name] | {key: value for key, value in schema.items() if key != "$ref"}, name
        return schema, None

    def value(self, draw, schema: dict) -> Any:
        schema, name = self.resolve(schema)
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return draw(st.sampled_from(schema["enum"]))
        if "anyOf" in schema and "properties" not in schema:
            branches = schema["anyOf"]
            if {"type": "null"} in branches and draw(st.booleans()):
                return None
            chosen = draw(st.sampled_from([branch for branch in branches if branch != {"type": "null"}]))
            return self.value(draw, chosen | {key: value for key, value in schema.items() if key != "anyOf"})
        kind = schema.get("type")
        if kind == "object":
            document = self.object(draw, schema)
            if name in RULES_BEYOND_SCHEMA:
                document = RULES_BEYOND_SCHEMA[name](draw, document)
            if name in MODELS:
                document = validated(MODELS[name], document)
            return document
        if kind == "array":
            return self.array(draw, schema)
        if kind == "string":
            if schema.get("format") == "date-time":
                return draw(instants)
            if schema.get("format") == "date":
                return draw(days)
            if "pattern" in schema:
                return draw(patterned_text(schema["pattern"]))
            return draw(texts(schema))
        if kind == "integer":
            return draw(integers(schema))
        if kind == "number":
            return draw(numbers(schema))
        if kind == "boolean":
            return draw(st.booleans())
        raise AssertionError(f"no strategy for the schema {schema} of {self.model.__name__}")

    def array(self, draw, schema: dict) -> list:
        low, high = schema.get("minItems", 0), schema.get("maxItems", 10)
        size = draw(st.sampled_from(["least", "some", "most"]))
        if size == "least" or high == 0:
            return [self.value(draw, schema["items"]) for _ in range(low)]
        first = self.value(draw, schema["items"])
        if size == "most":
            # No more than would fit the message limit: fit() trims the rest.
            count = min(high, MESSAGE_LIMIT // len(json.dumps(first, ensure_ascii=False).encode()) + 1)
            spread = self.spread(first, schema["items"], count)
            if spread is not None:
                return spread
        return [first] + [self.value(draw, schema["items"]) for _ in range(draw(st.integers(max(0, low - 1),
                                                                                         min(high, 4) - 1)))]

    def spread(self, first: Any, items: dict, count: int) -> list | None:
        """``count`` copies of ``first`` whose patterned strings (else enumerated values) differ; None when
        nothing in it can differ."""
        items, _ = self.resolve(items)
        if "pattern" in items and items["pattern"] in PATTERNED:
            nth = PATTERNED[items["pattern"]][0]
            return [nth(n) for n in range(count)]
        if items.get("type") != "object" or not isinstance(first, dict):
            return None
        varying: dict[str, Any] = {}
        enums: dict[str, list] = {}
        for key, declared in items["properties"].items():
            prop, _ = self.resolve(declared)
            if prop.get("pattern") in PATTERNED:
                varying[key] = PATTERNED[prop["pattern"]][0]
            elif "enum" in prop:
                enums[key] = prop["enum"]
        if not varying and not enums:
            return None
        copies = []
        for n in range(count):
            record = copy.deepcopy(first)
            if varying:
                record.update({key: nth(n) for key, nth in varying.items()})
            else:
                record.update({key: values[n % len(values)] for key, values in enums.items()})
            copies.append(record)
        return copies

    def object(self, draw, schema: dict) -> dict:
        properties: dict[str, dict] = schema.get("properties", {})
        required = set(schema.get("required", ()))
        present: set[str] = set()
        absent: set[str] = set()
        extra: dict[str, dict] = {}
        document: dict[str, Any] = {}
        # The discriminators of the conditional rules (kind, everyone) first: the rules depend on them.
        rules = [schema, *schema.get("allOf", ())]
        for name in self._discriminators(rules):
            document[name] = self.value(draw, properties[name])
        for rule in rules:
            self._apply(draw, rule, document, present, absent, extra, top=rule is schema)
        for name, declared in properties.items():
            if name in document:
                continue
            if name in absent:
                if draw(st.booleans()):
                    document[name] = None
                continue
            if name not in required and name not in present and not draw(st.booleans()):
                continue
            prop, _ = self.resolve(declared)
            if "anyOf" in prop and name in present | required:  # present and not null
                prop = next(branch for branch in prop["anyOf"] if branch != {"type": "null"}) | {
                    key: value for key, value in prop.items() if key != "anyOf"}
            document[name] = self.value(draw, prop | extra.get(name, {}))
        return document

    @staticmethod
    def _discriminators(rules: list[dict]) -> list[str]:
        names: list[str] = []

        def walk(rule: dict) -> None:
            if "if" in rule:
                names.extend(name for name in rule["if"].get("properties", {}) if name not in names)
            for key in ("then", "else"):
                if key in rule:
                    walk(rule[key])
            for key in ("anyOf", "oneOf", "allOf"):
                for branch in rule.get(key, ()):
                    walk(branch)

        for rule in rules:
            walk(rule)
        return names

    def _apply(self, draw, rule: dict, document: dict, present: set, absent: set, extra: dict,
               top: bool = False) -> None:
        """Fold a conditional rule into what must be present, absent or constrained."""
        if "if" in rule:
            holds = all(document.get(name) == condition.get("const")
                        for name, condition in rule["if"].get("properties", {}).items())
            branch = rule.get("then" if holds else "else")
            if branch:
                self._apply(draw, branch, document, present, absent, extra)
        for key in ("anyOf", "oneOf"):
            if key in rule and not (top and "properties" not in rule):
                self._apply(draw, draw(st.sampled_from(rule[key])), document, present, absent, extra)
        if top:
            return
        present.update(rule.get("required", ()))
        for name, constraint in rule.get("properties", {}).items():
            if constraint == {"type": "null"}:
                absent.add(name)
                present.discard(name)
            else:
                absent.discard(name)
                if constraint.get("type") not in (None, "null") or "minItems" in constraint:
                    present.add(name)
                extra[name] = extra.get(name, {}) | {key: value for key, value in constraint.items()
                                                     if key in ("minItems", "maxItems")}

    def payloads(self) -> st.SearchStrategy[dict]:
        @st.composite
        def draw_payload(draw) -> dict:
            document = self.object(draw, self.schema)
            if self.model.__name__ in RULES_BEYOND_SCHEMA:
                document = RULES_BEYOND_SCHEMA[self.model.__name__](draw, document)
            document = validated(self.model, document)
            return fit(document)

        return draw_payload()


def _size(document: dict) -> int:
    return len(json.dumps({"id": new_id(), "ts": now_ts(), "schema": "x" * 40, "data": document},
                          ensure_ascii=False).encode())


def fit(document: dict) -> dict:
    """``document`` with its longest lists halved until its message fits the contract's size limit."""
    def lists_in(value: Any) -> list[list]:
        if isinstance(value, list):
            return [value, *(found for item in value for found in lists_in(item))]
        if isinstance(value, dict):
            return [found for item in value.values() for found in lists_in(item)]
        return []

    while _size(document) > MESSAGE_LIMIT:
        lists = lists_in(document)
        longest = max(lists, key=len, default=None)
        if longest is None or len(longest) <= 1:
            reject()
        del longest[max(1, len(longest) // 2):]
    return document


STRATEGIES = {message.name: SchemaDraw(message.model).payloads() for message in PUSH_MESSAGES}
any_push = st.sampled_from(PUSH_MESSAGES).flatmap(lambda message: st.tuples(st.just(message),
                                                                            STRATEGIES[message.name]))
# The settings profile of every run here: no deadline (the machine is shared), no example database,
# generation only (a shrunk failure is no clearer than the drawn one, and shrinking costs minutes).
PROFILE: dict[str, Any] = {
    "deadline": None, "database": None, "phases": [Phase.generate],
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large,
                              HealthCheck.large_base_example, HealthCheck.filter_too_much]}


def wire(message: Message, payload: dict, message_id: str) -> bytes:
    return json.dumps({"id": message_id, "ts": now_ts(), "schema": message.schema_id, "data": payload},
                      ensure_ascii=False).encode()


# --------------------------------------------------------------------------- the strategies themselves


def test_the_date_window_pattern_in_the_schema_says_what_the_contract_accepts():
    pattern = re.compile(contract.types._WINDOW_YEARS)
    assert OfferRecord.model_json_schema()["properties"]["valid_from"]["anyOf"][0]["pattern"] == pattern.pattern
    for day in (FIRST - timedelta(days=1), FIRST, LAST, LAST + timedelta(days=1)):
        inside = FIRST <= day <= LAST
        assert bool(pattern.match(day.isoformat())) is inside, day
        for until in (f"{day.isoformat()}T00:00:00+23:59", f"{day.isoformat()}T23:59:59.999999-23:59"):
            try:
                contract.Consent.model_validate({"purpose": "recognition", "until": until})
                accepted = True
            except ValidationError:
                accepted = False
            assert accepted is inside, until


@pytest.mark.parametrize("message", PUSH_MESSAGES, ids=lambda message: message.name)
def test_every_push_schema_yields_contract_valid_payloads_at_its_edges(message):
    @settings(max_examples=15, **PROFILE)
    @given(STRATEGIES[message.name])
    def check(payload):
        decode(message, wire(message, payload, new_id()))

    check()


# --------------------------------------------------------------------------- in process: appliers and the index


def signed_push(message: Message, payload: dict) -> dict:
    """A content-pack manifest signed with the tests' content key (the agent refuses anything else before it
    looks further: tests/test_content_delivery.py); any other push as it is."""
    return sign_manifest(payload, CONTENT_KEY, CONTENT_KEY_ID) if message.name == "content-pack" else payload


def content_appliers(store: Store, outbox: Outbox, folder) -> dict:
    """The appliers of the pushes an agent's services take (content-pack: its content delivery), beside
    :data:`edge_agent.central.APPLIERS`; its thread is not started, so nothing is fetched."""
    config = ContentConfig(folder=folder / "current", packs_dir=folder,
                           public_keys={CONTENT_KEY_ID: public_key_hex(CONTENT_KEY)})
    delivery = ContentDelivery(store, outbox, config, "store-edges", "kiosk", "unused", lambda *_: True, UTC)
    return {**APPLIERS, "content-pack": delivery.apply}


def apply(store: Store, outbox: Outbox, message: Message, payload: dict, appliers: dict = APPLIERS) -> str:
    """Decode and apply as the inbox does; 'applied' or 'rejected: <reason>'. Anything else raised is a bug."""
    decoded = decode(message, wire(message, signed_push(message, payload), new_id()))
    try:
        with store.transaction(durable=True) as conn:
            appliers[message.name](conn, decoded.payload, outbox)
    except ContractError as exc:
        assert str(exc)
        return f"rejected: {exc}"
    return "applied"


def test_edge_values_of_every_push_are_applied_or_rejected_and_the_offer_index_holds_them(tmp_path, caplog):
    caplog.set_level(logging.ERROR, logger="edge_agent")
    from edge_agent.contract import Topics

    store = Store(tmp_path / "edges.db")
    outbox = Outbox(store, Topics("store-edges", "kiosk-1"), 100_000)
    problems: list[tuple[str, str]] = []
    matcher = MatchService(store, "Pacific/Kiritimati", on_unindexable=lambda *problem: problems.append(problem))
    far = MatchService(store, "Pacific/Pago_Pago")  # the other end of the world's offsets
    appliers = content_appliers(store, outbox, tmp_path / "packs")
    moments = [datetime.combine(FIRST, datetime.min.time(), UTC) - WIDEST,
               datetime.combine(LAST, datetime.max.time(), UTC) + WIDEST, datetime.now(UTC)]
    outcomes: dict[str, int] = {}
    try:
        @settings(max_examples=FAST_EXAMPLES, **PROFILE)
        @given(any_push)
        def apply_one(push):
            message, payload = push
            outcome = apply(store, outbox, message, payload, appliers).split(":")[0]
            outcomes[f"{message.name} {outcome}"] = outcomes.get(f"{message.name} {outcome}", 0) + 1
            for service in (matcher, far):
                service.refresh()
                for moment in moments:
                    service.match_catalogue(ANONYMOUS, now=moment)
                    with service._lock:
                        offers = list(service._index._offers.values())
                    for offer in offers[:5]:
                        for gtin in sorted(offer.gtins)[:2]:
                            with store.reading() as conn:
                                listed = conn.execute("SELECT 1 FROM products WHERE gtin = ? AND active = 1",
                                                      (gtin,)).fetchone()
                            if listed:
                                service.match_product(ANONYMOUS, gtin, explain=True, now=moment)
                        if offer.code:
                            service.with_code(offer.code)
                        offer.price_for(100_000_000)
                        offer.price_for(1)
                        offer.ends.astimezone(UTC)
                        offer.starts.astimezone(UTC)

        apply_one()
    finally:
        store.close()
    assert not problems, f"the offer index could not hold offers the contract accepted: {problems[:3]}"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text[-2000:]
    applied = sum(count for key, count in outcomes.items() if key.endswith("applied"))
    assert applied >= FAST_EXAMPLES // 3, outcomes


# --------------------------------------------------------------------------- through a real broker to an agent process


class Notifications:
    """A systemd notification socket the agent process reports to, read all along as systemd does
    (unread, its queue fills and the agent's next notification blocks)."""

    def __init__(self, path: str):
        self.path = path
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.socket.bind(path)
        self.socket.settimeout(0.2)
        self._ready = threading.Semaphore(0)
        self._closed = threading.Event()
        self._reader = threading.Thread(target=self._read, name="notifications", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while not self._closed.is_set():
            try:
                message = self.socket.recv(4096).decode()
            except TimeoutError:
                continue
            except OSError:
                return
            if message.startswith("READY=1\nSTATUS=connected"):
                self._ready.release()

    def wait_ready(self, timeout: float = 60) -> bool:
        """True once the agent said READY=1 while connected (once per start)."""
        return self._ready.acquire(timeout=timeout)

    def close(self) -> None:
        self._closed.set()
        self._reader.join(5)
        self.socket.close()


def _request(pub, responses: Capture, agent_topics, command: str, data: dict, timeout: float = 60) -> dict:
    transaction = f"edge-{new_id()[-12:]}"
    pub.publish(COMMANDS[command].topic_for(agent_topics.store, agent_topics.device),
                envelope(COMMANDS[command].schema_id, data, transaction=transaction))
    pub.flush()
    found = responses.wait_for(lambda ms: any(m.json()["transaction"] == transaction for m in ms), timeout=timeout)
    return next(m.json() for m in found if m.json()["transaction"] == transaction)


def test_edge_values_of_every_push_are_applied_or_rejected_with_a_reason_and_the_agent_restarts_cleanly(
        mosquitto, make_config, agent_process, tmp_path, monkeypatch):
    from edge_agent.contract import Topics

    # With content delivery: its manifests are signed with the tests' key (signed_push) and applied.
    config_path, config = make_config(mosquitto, extra=content_section(tmp_path / "packs", keys={
        CONTENT_KEY_ID: public_key_hex(CONTENT_KEY)}))
    topics = Topics(config.store.id, config.device.id)
    notifications = Notifications(str(tmp_path / "notify.sock"))
    monkeypatch.setenv("NOTIFY_SOCKET", notifications.path)
    errors = Capture(mosquitto.port, topics.event("error"))
    health = Capture(mosquitto.port, HEALTH.topic_for(topics.store, topics.device))
    responses = Capture(mosquitto.port, [topics.response(name) for name in COMMANDS])
    pub = FastPublisher(mosquitto.port)
    agent = agent_process(config_path)
    db = None
    try:
        _serving(notifications, agent, pub, responses, topics)
        db = sqlite3.connect(f"file:{config.database.path}?mode=ro", uri=True)
        applied: list[str] = []
        rejected: dict[str, str] = {}

        def outcome(message_id: str):
            if db.execute("SELECT 1 FROM inbox_seen WHERE id = ?", (message_id,)).fetchone():
                return "applied"
            for report in errors.messages:
                data = report.json()["data"]
                if data["message_id"] == message_id:
                    return data
            return None

        @settings(max_examples=EXAMPLES, **PROFILE)
        @given(any_push)
        def push_one(push):
            message, payload = push
            message_id = new_id()
            pub.publish(message.topic_for(topics.store), wire(message, signed_push(message, payload), message_id))
            pub.flush()
            result = wait_until(lambda: outcome(message_id), 60,
                                f"{message.name} {message_id} applied or rejected ({agent.log()[-1500:]})")
            assert agent.alive, agent.log()[-3000:]
            if result == "applied":
                applied.append(message.name)
            else:
                assert result["reason"] and result["topic"] == message.topic_for(topics.store), result
                rejected[message_id] = f"{message.name}: {result['reason']}"

        push_one()
        assert len(applied) >= EXAMPLES // 3, rejected
        if EXAMPLES >= 100:
            assert set(applied) == set(PUSHES), f"never applied: {set(PUSHES) - set(applied)}; {rejected}"

        # Counted as rejected in health, every one.
        wait_until(lambda: any(m.json()["data"]["rejected_messages"] == len(rejected) for m in health.messages[-3:]),
                   60, f"health counting {len(rejected)} rejections "
                       f"({[m.json()['data'] for m in health.messages[-1:]]}; {agent.log()[-3000:]})")
        # Still answering what the offer index serves.
        for command, data in (("product", {"gtin": _gtin("0" * 13)}), ("offers", {"limit": 200}),
                              ("check-promo-code", {"code": "P0001"}), ("ping", {})):
            answer = _request(pub, responses, topics, command, data)
            assert answer["status"] == "ok" or answer["error"], answer
            if command in ("offers", "ping", "check-promo-code"):
                assert answer["status"] == "ok", answer
        assert "Traceback" not in agent.log(), agent.log()[-3000:]

        # And it stops and starts again cleanly on this database.
        assert agent.terminate() == 0, agent.log()[-3000:]
        again = agent_process(config_path)
        _serving(notifications, again, pub, responses, topics)
        assert _request(pub, responses, topics, "ping", {})["status"] == "ok"
        assert _request(pub, responses, topics, "offers", {"limit": 200})["status"] == "ok"
        assert again.terminate() == 0, again.log()[-3000:]
    finally:
        if db is not None:
            db.close()
        pub.close()
        for capture in (errors, health, responses):
            capture.close()
        notifications.close()


# --------------------------------------------------------------------------- the faults found, one by one

OFFER = PUSHES["offers"].example["offers"][0]
FOREVER = OFFER | {"offer": "altijd", "version": 1, "valid_from": "2026-01-01", "valid_until": "9999-12-31"}


@pytest.fixture
def wired_agent(mosquitto, make_config, agent_process, tmp_path, monkeypatch):
    """An agent process with its notification socket, a publisher and captures of errors and responses."""
    from edge_agent.contract import Topics

    config_path, config = make_config(mosquitto)
    notifications = Notifications(str(tmp_path / "notify.sock"))
    monkeypatch.setenv("NOTIFY_SOCKET", notifications.path)
    topics = Topics(config.store.id, config.device.id)
    errors = Capture(mosquitto.port, topics.event("error"))
    health = Capture(mosquitto.port, HEALTH.topic_for(topics.store, topics.device))
    responses = Capture(mosquitto.port, [topics.response(name) for name in COMMANDS])
    pub = FastPublisher(mosquitto.port)
    yield config_path, config, topics, notifications, errors, health, responses, pub, agent_process
    pub.close()
    for capture in (errors, health, responses):
        capture.close()
    notifications.close()


def _serving(notifications, process, pub, responses, topics) -> None:
    """READY=1 (which follows the SUBACK of the first connection), and a ping is answered."""
    assert notifications.wait_ready(), process.log()[-2000:]

    def pong() -> bool:
        try:
            return _request(pub, responses, topics, "ping", {}, timeout=2)["status"] == "ok"
        except TimeoutError:
            return False

    wait_until(pong, 60, f"a ping answered ({process.log()[-2000:]})")


def _answers_offer_requests(pub, responses, topics) -> None:
    """Product, offers and promo-code requests are answered (ok, or an error that says why)."""
    assert _request(pub, responses, topics, "offers", {"limit": 200})["status"] == "ok"
    assert _request(pub, responses, topics, "check-promo-code", {"code": "LENTE26"})["status"] == "ok"
    product = _request(pub, responses, topics, "product", {"gtin": _gtin("8712345000" + "02")})
    assert product["status"] == "ok" or "not in the catalogue" in product["error"], product


def test_an_offer_valid_until_9999_is_refused_by_the_contract_and_the_agent_keeps_answering(wired_agent):
    config_path, _, topics, notifications, errors, health, responses, pub, start = wired_agent
    agent = start(config_path)
    _serving(notifications, agent, pub, responses, topics)
    message_id = new_id()
    pub.publish(PUSHES["offers"].topic_for(topics.store),
                wire(PUSHES["offers"], {"offers": [FOREVER]}, message_id))
    pub.flush()
    report = errors.wait_for(lambda ms: any(m.json()["data"]["message_id"] == message_id for m in ms), timeout=60)
    reason = next(m.json()["data"]["reason"] for m in report if m.json()["data"]["message_id"] == message_id)
    assert "valid_until" in reason, reason
    assert "2000-01-01 to 2100-12-31" in reason, reason
    wait_until(lambda: any(m.json()["data"]["rejected_messages"] == 1 for m in health.messages[-3:]), 30,
               "the rejection counted in health")
    _answers_offer_requests(pub, responses, topics)
    assert agent.terminate() == 0
    again = start(config_path)
    _serving(notifications, again, pub, responses, topics)
    _answers_offer_requests(pub, responses, topics)


def _store_as_an_older_agent_did(db_path: str, record: dict) -> None:
    """Write ``record`` into the offers table as the agent before the date window stored it."""
    store = Store(db_path)
    try:
        with store.transaction(durable=True) as conn:
            from edge_agent.central import next_offer_seq

            seq = next_offer_seq(conn)
            conn.execute("INSERT INTO offers (offer, version, active, seq, data, updated) VALUES (?, ?, 1, ?, ?, 0)",
                         (record["offer"], record["version"], seq, json.dumps(record)))
    finally:
        store.close()


def test_an_agent_whose_database_holds_an_unindexable_offer_starts_and_reports_it(wired_agent):
    config_path, config, topics, notifications, errors, _, responses, pub, start = wired_agent
    _store_as_an_older_agent_did(config.database.path, FOREVER)
    _store_as_an_older_agent_did(config.database.path, OFFER | {"offer": "goed", "version": 1,
                                                                "valid_from": "2026-01-01",
                                                                "valid_until": "2099-12-31"})
    agent = start(config_path)
    _serving(notifications, agent, pub, responses, topics)
    report = errors.wait_for(lambda ms: len(ms) >= 1, timeout=60)[0].json()["data"]
    assert report["topic"] == PUSHES["offers"].topic_for(topics.store)
    assert "offer altijd" in report["reason"] and "9999-12-31" in report["reason"], report
    log = agent.log()
    assert "offer altijd stored in" in log and str(config.database.path) in log, log[-2000:]
    assert "Traceback" not in log, log[-3000:]
    offers = _request(pub, responses, topics, "offers", {"limit": 200})
    assert [offer["offer"] for offer in offers["data"]["offers"]] == ["goed"], offers
    _answers_offer_requests(pub, responses, topics)

    # The corrected offer arrives over the link and is served.
    corrected = FOREVER | {"version": 2, "valid_until": "2100-12-31"}
    message_id = new_id()
    pub.publish(PUSHES["offers"].topic_for(topics.store), wire(PUSHES["offers"], {"offers": [corrected]}, message_id))
    pub.flush()
    offers = wait_until(lambda: (answer := _request(pub, responses, topics, "offers", {"limit": 200}))
                        and len(answer["data"]["offers"]) == 2 and answer, 30, "the corrected offer served")
    assert {offer["offer"] for offer in offers["data"]["offers"]} == {"altijd", "goed"}

    # And the next start is a clean one.
    assert agent.terminate() == 0
    reports = len(errors.messages)
    again = start(config_path)
    _serving(notifications, again, pub, responses, topics)
    assert len(_request(pub, responses, topics, "offers", {"limit": 200})["data"]["offers"]) == 2
    assert len(errors.messages) == reports and "cannot be indexed" not in again.log()
    assert again.terminate() == 0


def test_an_agent_whose_offer_index_cannot_be_built_at_all_still_connects_and_reports_it(wired_agent):
    config_path, config, topics, notifications, errors, _, responses, pub, start = wired_agent
    _store_as_an_older_agent_did(config.database.path, OFFER | {"offer": "goed", "version": 1})
    with sqlite3.connect(config.database.path) as conn:
        conn.execute("DROP TABLE offer_customers")  # damaged: the index reads the named customers from it
    agent = start(config_path)
    _serving(notifications, agent, pub, responses, topics)
    report = errors.wait_for(lambda ms: len(ms) >= 1, timeout=60)[0].json()["data"]
    assert "offer index could not be built at start" in report["reason"], report
    assert f"offer index could not be built from {config.database.path}" in agent.log()
    assert _request(pub, responses, topics, "ping", {})["status"] == "ok"
    assert agent.alive


# Values the contract accepted before and the agent could not hold: each now refused with its message id,
# a reason naming the field, and counted.
BEYOND = [
    pytest.param("customer", PUSHES["customer"].example | {"version": 2**63}, "version", id="version-past-int64"),
    pytest.param("customer", PUSHES["customer"].example | {"points": 10**12}, "points", id="points"),
    pytest.param("customer", PUSHES["customer"].example | {"consents": [
        {"purpose": "recognition", "until": "2027-01-01T00:00:00Z"},
        {"purpose": "recognition", "until": "2028-01-01T00:00:00Z"}]}, "consents[1] repeats", id="two-consents"),
    pytest.param("customer", PUSHES["customer"].example | {"first_name": "An\ud800"}, "surrogate", id="surrogate"),
    pytest.param("order", PUSHES["order"].example | {"deadline": "9999-12-31T23:00:00-05:00"}, "deadline",
                 id="deadline-9999"),
    pytest.param("order", PUSHES["order"].example | {"ready_since": 253402300799}, "ready_since",
                 id="instant-as-number"),
    pytest.param("purchase-history", {"purchases": [PUSHES["purchase-history"].example["purchases"][0] | {
        "at": "0001-01-01T00:00:00+01:00"}]}, "at", id="purchase-in-year-1"),
]


@pytest.mark.parametrize(("push", "data", "named"), BEYOND)
def test_a_value_the_agent_cannot_hold_is_refused_with_its_message_id_and_counted(wired_agent, push, data, named):
    config_path, _, topics, notifications, errors, health, responses, pub, start = wired_agent
    agent = start(config_path)
    _serving(notifications, agent, pub, responses, topics)
    message_id = new_id()
    # ASCII JSON: a lone surrogate goes out as its escape, as a central system's JSON library writes it.
    pub.publish(PUSHES[push].topic_for(topics.store), envelope(PUSHES[push].schema_id, data, message_id=message_id))
    pub.flush()
    report = wait_until(lambda: [m for m in errors.messages if m.json()["data"]["message_id"] == message_id], 60,
                        f"the rejection of {message_id} reported ({agent.log()[-2000:]})")
    reason = report[0].json()["data"]["reason"]
    assert named in reason, reason
    wait_until(lambda: any(m.json()["data"]["rejected_messages"] == 1 for m in health.messages[-3:]), 30,
               "the rejection counted in health")
    assert _request(pub, responses, topics, "ping", {})["status"] == "ok"
    assert "Traceback" not in agent.log(), agent.log()[-3000:]
