"""Malformed messages on every topic the agent listens to, through a real Mosquitto.

The promise (edge_agent.contract, inbox.py): every pushed message and request is
applied or rejected with a reason; a rejection is logged, counted and
reported upstream as ``event/error`` without the payload (it may hold
personal data); a bad request gets an error response; and nothing a sender
puts on the wire takes the agent down or its connection with it.

One agent serves the whole hypothesis run (it is created outside ``@given``);
every example publishes one malformed payload on each topic. A failure names
its seed: ``FUZZ_SEED=<seed>`` replays that run, ``FUZZ_EXAMPLES=<n>`` sizes it.
"""

from __future__ import annotations

import json
import logging
import os
import random
import secrets
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from edge_agent.agent import Agent
from edge_agent.contract import ALL_MESSAGES, COMMANDS, MESSAGE_LIMIT, PROBE, PUSHES, Message, Topics, new_id, now_ts
from tests.support.faults import FastPublisher, wait_until
from tests.support.mqtt import Capture, envelope

pytestmark = pytest.mark.slow

# Payloads carry this in their values; it must never show up in a log line,
# an error event or an error response. Upper case and hex: it fits no
# identifier pattern of the contract, so it never makes a field valid.
MARKER = "ZQX" + secrets.token_hex(6).upper()
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "250"))  # x one message per target (13): 3,250 messages
MIN_MESSAGES = 1 if "FUZZ_EXAMPLES" in os.environ else 2000
FUZZ_SEED = int(os.environ.get("FUZZ_SEED", random.randrange(2**32)))


@dataclass(frozen=True)
class Target:
    """A topic the agent subscribes to, and what a well-formed message on it would look like."""

    label: str
    topic: str
    message: Message | None  # None: a topic the contract does not define
    command: bool = False

    @property
    def schema(self) -> str:
        return self.message.schema_id if self.message else "nonsense/1"

    @property
    def example(self) -> dict:
        return dict(self.message.example) if self.message else {"anything": 1}

    @property
    def required(self) -> list[str]:
        if self.message is None:
            return []
        return [name for name, field in self.message.model.model_fields.items() if field.is_required()]


def targets_for(topics: Topics) -> list[Target]:
    store, device = topics.store, topics.device
    targets = [Target(f"push:{name}", message.topic_for(store), message) for name, message in PUSHES.items()]
    targets += [Target(f"command:{name}", message.topic_for(store, device), message, command=True)
                for name, message in COMMANDS.items()]
    targets += [Target("probe", topics.probe, PROBE),
                Target("push:nonsense", f"{topics.central_root}nonsense", None),
                Target("command:nonsense", f"{topics.device_root}/request/nonsense", None, command=True)]
    return targets


# --------------------------------------------------------------------------- strategies

# Text with lone surrogates now and then (JSON's "\ud800" escapes): valid JSON, not valid Unicode.
any_text = st.text(st.characters() | st.characters(categories=["Cs"]), max_size=8)
marked_text = st.builds(lambda before, after: before + MARKER + after, any_text, any_text)

# Values no field of any payload accepts: no field is a dict or takes a list of
# arbitrary things. (Numbers are not here: pydantic reads them as timestamps.)
wrong_values = st.one_of(
    st.builds(lambda text: {"k": text}, marked_text),
    st.builds(lambda text: [text, 1], marked_text),
    st.builds(lambda text: [[{"k": text}]], marked_text),
)

# Integers beyond 4300 digits and lone surrogates in a transaction have their
# own tests at the end.
json_scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**64) | st.floats() | any_text | marked_text
json_values = st.recursive(json_scalars, lambda children: st.lists(children, max_size=5)
                           | st.dictionaries(any_text, children, max_size=5), max_leaves=25)


def document(target: Target, data, transaction: str | None = None) -> dict:
    doc = {"id": new_id(), "ts": now_ts(), "schema": target.schema, "data": data}
    if target.command:
        doc["transaction"] = transaction or f"fz-{new_id()[-12:]}"
    return doc


def dumps(doc) -> bytes:
    return json.dumps(doc).encode()


def random_bytes(target: Target):
    return st.binary(max_size=400)


def random_json(target: Target):
    return json_values.map(dumps)


def invalid_utf8(target: Target):
    """A plausible message whose bytes are not UTF-8 (and not an encoded surrogate either)."""
    bad = st.sampled_from([b"\xff", b"\xfe\xfe", b"\xc3\x28", b"\xe2\x82", b"\xf0\x28\x8c\x28", b"\x80", b"\xc0\xaf"])

    def build(field: str, garbage: bytes) -> bytes:
        data = target.example | {field: MARKER}
        return dumps(document(target, data)).replace(MARKER.encode(), MARKER.encode() + garbage, 1)

    return st.builds(build, st.sampled_from(list(target.example) or ["k"]), bad)


ENVELOPE_KEYS = ["id", "ts", "schema", "data"]
OTHER_SCHEMAS = sorted({m.schema_id for m in ALL_MESSAGES} | {"order/2", "", "order", "/1"})


def broken_envelope(target: Target):
    """A valid message with one envelope defect: a required key missing or a key of the wrong kind."""
    drop = st.sampled_from(ENVELOPE_KEYS + (["transaction"] if target.command else [])).map(lambda key: ("drop", key))
    bad_id = st.one_of(marked_text, st.just(new_id().upper()), st.just(new_id()[:-1]), wrong_values,
                       st.none()).map(lambda value: ("id", value))
    bad_ts = st.one_of(marked_text, st.just("2026-04-01T09:30:00"), st.just("yesterday"), wrong_values,
                       st.none()).map(lambda value: ("ts", value))
    bad_schema = st.one_of(st.sampled_from([s for s in OTHER_SCHEMAS if s != target.schema]), st.none(),
                           st.integers(), wrong_values).map(lambda value: ("schema", value))
    bad_transaction = st.one_of(st.just(""), st.just("t" * 129), st.integers(), wrong_values).map(
        lambda value: ("transaction", value))
    bad_data = st.one_of(st.lists(json_scalars, max_size=3), marked_text, st.integers(), st.none()).map(
        lambda value: ("data", value))
    extra = marked_text.map(lambda value: ("extra", value))

    def build(defect) -> bytes:
        doc = document(target, target.example)
        key, value = defect
        if key == "drop":
            doc.pop(value, None)
        else:
            doc[key] = value
        return dumps(doc)

    return st.one_of(drop, bad_id, bad_ts, bad_schema, bad_transaction, bad_data, extra).map(build)


def wrong_data(target: Target):
    """A valid envelope around data of the wrong shape: one field of the wrong type, or missing."""
    fields = list(target.example)
    options = [st.builds(lambda value: target.example | {"unexpected": value}, marked_text)]
    if fields:
        options.append(st.builds(lambda field, value: target.example | {field: value}, st.sampled_from(fields),
                                 wrong_values))
    if target.required:
        options.append(st.sampled_from(target.required).map(
            lambda field: {k: v for k, v in target.example.items() if k != field}))
    return st.one_of(options).map(lambda data: dumps(document(target, data)))


def oversized(target: Target):
    """A message over the size limit, the bulk in one string."""

    def build(extra: int, field: str) -> bytes:
        data = target.example | {field: MARKER * (MESSAGE_LIMIT // len(MARKER) + 1) + "x" * extra}
        return dumps(document(target, data))

    return st.builds(build, st.integers(0, 5000), st.sampled_from(list(target.example) or ["k"]))


def deep_nesting(target: Target):
    """Arrays nested deeper than a parser likes, alone or inside a message."""

    def build(depth: int, wrapped: bool) -> bytes:
        nested = "[" * depth + json.dumps(MARKER) + "]" * depth
        if not wrapped:
            return nested.encode()
        text = dumps(document(target, {"k": "@"})).decode()
        return text.replace('"@"', nested, 1).encode()

    return st.builds(build, st.sampled_from([50, 900, 1000, 3000, 100_000]), st.booleans())


# Each message's kind is drawn from these: the envelope and data defects twice
# as often, payloads over the size limit (a quarter megabyte each) rarely.
# Hypothesis favours the first entry.
KINDS = [wrong_data, broken_envelope, random_json, invalid_utf8, deep_nesting, random_bytes,
         broken_envelope, wrong_data] * 2 + [oversized]
pick_kind = st.integers(0, 2**32).map(lambda n: n % len(KINDS))


# --------------------------------------------------------------------------- the run


@pytest.fixture
def fuzzed_agent(mosquitto, make_config, caplog):
    caplog.set_level(logging.DEBUG, logger="edge_agent")
    _, config = make_config(mosquitto)
    agent = Agent(config)
    agent.start()
    assert agent.link.wait_connected(10)
    yield agent
    agent.stop()


def test_malformed_messages_on_every_topic_are_rejected_without_echo_and_agent_stays_up(
        fuzzed_agent, mosquitto, caplog):
    agent = fuzzed_agent
    topics = agent.topics
    targets = targets_for(topics)
    errors = Capture(mosquitto.port, topics.event("error"))
    responses = Capture(mosquitto.port, [topics.response(name) for name in COMMANDS])
    pub = FastPublisher(mosquitto.port)
    sent: dict[str, int] = dict.fromkeys((t.label for t in targets), 0)
    # Built once: hypothesis spends most of its time building strategies otherwise.
    strategies = [[kind(target) for kind in KINDS] for target in targets]
    try:
        @seed(FUZZ_SEED)
        @settings(max_examples=EXAMPLES, deadline=None, database=None, phases=[Phase.generate],
                  suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                         HealthCheck.data_too_large, HealthCheck.large_base_example])
        @given(st.data())
        def publish_malformed(data):
            for number, target in enumerate(targets):
                kind = data.draw(pick_kind)
                payload = data.draw(strategies[number][kind], label=f"{target.label} {KINDS[kind].__name__}")
                pub.publish(target.topic, payload)
                sent[target.label] += 1

        publish_malformed()
        pub.flush()
        total = sum(sent.values())
        context = f"seed {FUZZ_SEED}, {total} messages"
        assert total >= MIN_MESSAGES, context

        # The agent still applies a valid push and answers a ping, after everything above.
        order = PUSHES["order"].example | {"order_id": "FUZZ-1"}
        pub.publish(PUSHES["order"].topic_for(topics.store), envelope("order/1", order))
        pub.publish(COMMANDS["ping"].topic_for(topics.store, topics.device),
                    envelope("request-ping/1", {}, transaction="after-fuzz"))
        pub.flush()
        pong = responses.wait_for(lambda ms: any(m.json()["transaction"] == "after-fuzz" for m in ms), timeout=60)
        assert next(m.json() for m in pong if m.json()["transaction"] == "after-fuzz")["status"] == "ok"

        def stored_order():
            with agent.store.reading() as conn:
                return conn.execute("SELECT status FROM orders WHERE order_id = 'FUZZ-1'").fetchone()

        assert wait_until(stored_order, 10, "the valid order was applied")[0] == "ready"

        # Every malformed message was rejected exactly once; the ping was handled after all of them.
        assert agent.inbox.rejected == total, context
        assert agent.link.connected and agent.link.alive(), context
        assert agent.link.stats.reconnects == 0, f"the connection dropped during the fuzz ({context})"

        # ...answered when it was a request for a known command...
        requests = sum(n for label, n in sent.items() if label.startswith("command:") and label != "command:nonsense")
        answers = responses.wait_for(lambda ms: len(ms) >= requests + 1, timeout=30)
        bad = [m.json() for m in answers if m.json()["transaction"] != "after-fuzz"]
        assert len(bad) == requests, context
        assert all(r["status"] == "error" and r["data"] is None and r["error"] for r in bad), context
        assert not [r for r in bad if MARKER in r["error"]], f"an error response echoes the payload ({context})"

        # ...reported upstream once each, without the payload...
        reports = errors.wait_for(lambda ms: len(ms) >= total, timeout=60)
        assert len({m.json()["id"] for m in reports}) == total, context
        assert {m.json()["data"]["topic"] for m in reports} <= {t.topic for t in targets}
        echoed = [m for m in reports if MARKER.encode() in m.payload]
        assert not echoed, f"an error event echoes the payload ({context})"

        # ...and logged without it, with nothing raising on the way.
        assert MARKER not in caplog.text, f"a log line echoes the payload ({context})"
        raised = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert not raised, f"{raised[0].getMessage()} ({context}, {len(raised)} such)"
        assert sum("rejected message" in r.getMessage() for r in caplog.records) == total
    finally:
        pub.close()
        errors.close()
        responses.close()


# --------------------------------------------------------------------------- faults the fuzz found
# Each was a bug (a request left unanswered, a push neither applied nor
# rejected, sender text echoed into logs); fixed, and pinned down here.

DIGITS = "7" * 5000  # json.loads refuses integers over 4300 digits with a bare ValueError


@pytest.fixture
def wired(fuzzed_agent, mosquitto):
    """The agent with a publisher and captures of its error events and responses."""
    topics = fuzzed_agent.topics
    errors = Capture(mosquitto.port, topics.event("error"))
    responses = Capture(mosquitto.port, [topics.response(name) for name in COMMANDS])
    pub = FastPublisher(mosquitto.port)
    yield fuzzed_agent, pub, errors, responses
    pub.close()
    errors.close()
    responses.close()


def ping_after(agent, pub, responses, rejected: int) -> None:
    """Publish a ping and wait for its answer, and for ``rejected`` rejections: everything published
    before has been handled. (The ping alone does not say so: device commands have their own lane, so a
    ping can be answered before a push sent ahead of it is rejected.)"""
    transaction = f"after-{new_id()[-12:]}"
    pub.publish(COMMANDS["ping"].topic_for(agent.topics.store, agent.topics.device),
                envelope("request-ping/1", {}, transaction=transaction))
    pub.flush()
    responses.wait_for(lambda ms: any(m.json()["transaction"] == transaction for m in ms), timeout=20)
    wait_until(lambda: agent.inbox.rejected >= rejected, 60, f"{rejected} rejection(s)")


def assert_nothing_raised(caplog) -> None:
    raised = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not raised, raised[0].getMessage()


def test_integer_too_long_to_parse_is_rejected_and_request_answered(wired, caplog):
    agent, pub, errors, responses = wired
    push = f'{{"id": "x", "data": {{"version": {DIGITS}}}}}'.encode()
    request = f'{{"transaction": "t-digits", "data": {DIGITS}}}'.encode()
    pub.publish(PUSHES["order"].topic_for(agent.topics.store), push)
    pub.publish(COMMANDS["ping"].topic_for(agent.topics.store, agent.topics.device), request)
    ping_after(agent, pub, responses, rejected=2)
    assert agent.inbox.rejected == 2
    answer = [m.json() for m in responses.messages if m.json()["transaction"] in ("t-digits", None)]
    assert answer and answer[0]["status"] == "error"
    errors.wait_for(lambda ms: len(ms) >= 2, timeout=20)
    assert_nothing_raised(caplog)


@pytest.mark.parametrize("payload", [
    pytest.param(b'{"transaction": "t-\\ud800", "data": 1}', id="json-escape"),
    pytest.param(b'{"transaction": "t-\xed\xa0\x80", "data": 1}', id="encoded-surrogate"),
])
def test_request_with_unencodable_transaction_gets_error_response(wired, caplog, payload):
    agent, pub, _errors, responses = wired
    pub.publish(COMMANDS["ping"].topic_for(agent.topics.store, agent.topics.device), payload)
    ping_after(agent, pub, responses, rejected=1)
    assert next(m.json()["status"] for m in responses.messages) == "error"
    assert agent.inbox.rejected == 1
    assert_nothing_raised(caplog)




@pytest.mark.parametrize(("target", "document"), [
    pytest.param("order", lambda: {"id": new_id(), "ts": now_ts(), "schema": "order/1", "data": {},
                                   "note-" + MARKER: 1}, id="unknown-envelope-key"),
    pytest.param("ping", lambda: {"id": new_id(), "ts": now_ts(), "schema": "request-ping/1",
                                  "transaction": "t-key", "data": {"note-" + MARKER: 1}},
                 id="unknown-data-key"),
    pytest.param("order", lambda: {"id": new_id(), "ts": now_ts(), "schema": "order/" + MARKER, "data": {}},
                 id="schema-value"),
    pytest.param("order", lambda: {"id": new_id(), "ts": now_ts(), "schema": "order/1",
                                   "data": PUSHES["order"].example | {"status": MARKER}}, id="field-value"),
])
def test_rejection_reason_never_echoes_the_payload(wired, caplog, target, document):
    agent, pub, errors, responses = wired
    topic = (PUSHES[target].topic_for(agent.topics.store) if target in PUSHES
             else COMMANDS[target].topic_for(agent.topics.store, agent.topics.device))
    pub.publish(topic, json.dumps(document()).encode())
    ping_after(agent, pub, responses, rejected=1)
    assert agent.inbox.rejected == 1
    reports = errors.wait_for(lambda ms: len(ms) >= 1, timeout=20)
    assert MARKER.encode() not in reports[0].payload
    assert not [m for m in responses.messages if MARKER in (m.json()["error"] or "")]
    assert MARKER not in caplog.text
