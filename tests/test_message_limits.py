"""The message size limit is part of the contract and the document, and batches bigger than it are split.

:data:`~edge_agent.contract.MESSAGE_LIMIT` (256 KiB) is what the agent reads of one message. Before, a
1,000-record catalogue that validated against the published schema (712 kB) was refused as too large and the
limit was nowhere in ``docs/asyncapi.yaml``. Now the document states the limit on ``info`` and on every message,
says that a batch push bigger than it is sent as several messages (each applied on its own: records are
upserted by version, never replaced as a set), and ``edge-agent central push`` splits by size. A message over
the limit is refused with a reason naming the limit and never applied.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from edge_agent.agent import Agent
from edge_agent.central_push import SECTIONS, load, messages, section_maximum
from edge_agent.commands import Commands
from edge_agent.config import parse_config
from edge_agent.contract import MESSAGE_LIMIT, PUSHES, Topics, decode, encode, gtin_check_digit
from edge_agent.credentials import Credentials
from edge_agent.inbox import Inbox
from edge_agent.link import Received
from edge_agent.outbox import Outbox
from edge_agent.store import Store
from tests.support.cards import STORE_HMAC_KEY_HEX
from tests.support.faults import wait_until

ROOT = Path(__file__).resolve().parent.parent
DOCUMENT = ROOT / "docs" / "asyncapi.yaml"
EXAMPLE = ROOT / "config" / "central-fixtures.example.yaml"
BATCHES = sorted({section.push for section in SECTIONS.values() if section.batch_field is not None})


@pytest.fixture(scope="module")
def document() -> dict:
    return yaml.safe_load(DOCUMENT.read_text(encoding="utf-8"))


def test_the_document_states_the_limit_for_every_message(document):
    assert document["info"]["x-message-size-limit"] == MESSAGE_LIMIT
    introduction = " ".join(document["info"]["description"].split())
    assert f"A message is at most {MESSAGE_LIMIT} bytes (256 KiB)" in introduction
    assert "a batch larger than the size limit must be split into several messages, each applied on its own" \
        in introduction
    for name, message in document["components"]["messages"].items():
        assert message["x-message-size-limit"] == MESSAGE_LIMIT, name
        assert message["description"].startswith(f"At most {MESSAGE_LIMIT} bytes encoded"), name
        assert "x-largest-valid-message" not in message, name
    assert BATCHES == ["catalogue", "offers", "price-list", "purchase-history"]
    for push in BATCHES:
        described = document["components"]["messages"][push]["description"]
        assert f"A batch larger than {MESSAGE_LIMIT} bytes must be split into several messages" in described, push
    catalogue = document["components"]["messages"]["catalogue"]["description"]
    assert "`products` holds at most 1000 records." in catalogue
    assert "One offer is never split" in document["components"]["messages"]["offers"]["description"]


def inbox_on(path: Path) -> tuple[Inbox, Store]:
    store = Store(path)
    topics = Topics("store-1", "kiosk-1")
    config = parse_config('[store]\nid="store-1"\n[device]\nid="kiosk-1"\n')
    return Inbox(store, Outbox(store, topics, max_rows=10_000), topics, Commands(config, lambda *a: None),
                 on_probe=lambda r: None), store


TABLES = {"catalogue": ["products"], "price-list": ["price_groups", "group_prices"],
          "offers": ["offers", "offer_customers"], "purchase-history": ["purchases"]}


def test_a_batch_split_into_one_record_a_message_is_applied_as_the_whole_batch_for_every_batch_push(tmp_path):
    fixtures = load(EXAMPLE, hmac_key=bytes.fromhex(STORE_HMAC_KEY_HEX))
    states = []
    for batch in (1000, 1):
        inbox, store = inbox_on(tmp_path / f"batch-{batch}.db")
        outgoing = messages(fixtures, "store-1", batch=batch)
        for message in outgoing:
            inbox.handle(Received(None, message.topic, message.payload, 0, 1, False))
        assert inbox.rejected == 0 and inbox.applied == len(outgoing)
        with store.reading() as conn:
            states.append({table: _rows(conn, table) for push in BATCHES for table in TABLES[push]})
        store.close()
    whole, split = states
    for push in BATCHES:
        assert whole[TABLES[push][0]], f"the example fixtures push no {push}"
        for table in TABLES[push]:
            assert split[table] == whole[table], table


def _rows(conn: sqlite3.Connection, table: str) -> list[tuple]:
    """Every row of ``table`` but when it was stored (``updated``; the offers' change counter ``seq``)."""
    columns = [row[1] for row in conn.execute(f"PRAGMA table_info({table})") if row[1] not in ("updated", "seq")]
    return sorted(tuple(row) for row in conn.execute(f"SELECT {', '.join(columns)} FROM {table}"))


def realistic_catalogue(count: int) -> list[dict]:
    """The catalogue of the report: ~700 bytes a record, valid by the schema."""
    records = []
    for n in range(count):
        body = f"87123450{n:04d}"
        records.append({
            "gtin": body + str(gtin_check_digit(body)), "version": 1, "price_cents": 199 + n, "category": "tuin",
            "name": {"nl": f"Gazonmest universeel {n} kg", "en": f"Universal lawn feed {n} kg",
                     "fr": f"Engrais gazon universel {n} kg"},
            "description": {"nl": "Langwerkende mest voor een dicht, groen gazon. Korrels strooien op een droog "
                                  "gazon en daarna beregenen. Genoeg voor 200 m², werkt tot 100 dagen. " * 3},
            "images": [f"products/gazonmest-{n}.jpg", f"products/gazonmest-{n}-achterkant.jpg"],
            "shelf": "Gang 3, schap A", "video": "videos/gazon-bemesten.mp4"})
    return records


def central_push(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edge_agent", "central", "push", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=120, check=False, env=dict(os.environ))


def test_a_1000_record_catalogue_is_pushed_as_several_messages_and_every_record_applied(
        mosquitto, make_config, tmp_path):
    records = realistic_catalogue(1000)
    assert len(records) == section_maximum(SECTIONS["catalogue"])  # as many as the schema allows in one message
    whole = len(json.dumps({"products": records}, ensure_ascii=False, separators=(",", ":")).encode())
    assert whole > 2 * MESSAGE_LIMIT  # valid by the schema, too big for one message by far
    fixtures = tmp_path / "catalogue.yaml"
    fixtures.write_text(yaml.safe_dump({"catalogue": records}, allow_unicode=True), encoding="utf-8")
    outgoing = messages(load(fixtures), "store-1")
    print(f"1000 records, {whole} bytes: {len(outgoing)} messages of {[len(m.payload) for m in outgoing]} bytes")
    assert len(outgoing) >= 3 and all(len(message.payload) <= MESSAGE_LIMIT for message in outgoing)
    assert sum(message.records for message in outgoing) == 1000

    _, config = make_config(mosquitto)
    agent = Agent(config, Credentials({}))
    agent.start()
    try:
        assert agent.link.wait_connected(10)
        pushed = central_push(str(fixtures), "--host", "127.0.0.1", "--port", str(mosquitto.port),
                              "--store", config.store.id)
        assert pushed.returncode == 0, pushed.stderr
        assert f"-> {len(outgoing)} message(s)" in pushed.stdout and "all acknowledged" in pushed.stdout
        wait_until(lambda: agent.inbox.applied >= len(outgoing), 60, "the agent applied every message")
        assert agent.inbox.rejected == 0
        with agent.store.reading() as conn:
            assert conn.execute("SELECT count(*) FROM products").fetchone()[0] == 1000
    finally:
        agent.stop()


def test_a_message_over_the_limit_is_refused_naming_the_limit_and_never_applied(
        mosquitto, make_config, capture, publisher):
    _, config = make_config(mosquitto)
    message = PUSHES["catalogue"]
    message_id, raw = encode(message, {"products": realistic_catalogue(1000)})  # valid, 700 kB
    assert len(raw) > MESSAGE_LIMIT
    agent = Agent(config, Credentials({}))
    cap = capture(mosquitto, ["cs/#"])
    agent.start()
    try:
        assert agent.link.wait_connected(10)
        publisher(mosquitto).publish(message.topic_for(config.store.id), raw, qos=1)
        errors = cap.wait_for(lambda seen: any(m.topic.endswith("/event/error") for m in seen), 30)
        reason = next(m.json()["data"]["reason"] for m in errors if m.topic.endswith("/event/error"))
        assert reason == f"payload too large ({len(raw)} bytes, at most {MESSAGE_LIMIT})"
        assert agent.inbox.rejected == 1 and agent.inbox.applied == 0
        with agent.store.reading() as conn:
            assert conn.execute("SELECT count(*) FROM products").fetchone()[0] == 0
            assert conn.execute("SELECT count(*) FROM inbox_seen WHERE id = ?", (message_id,)).fetchone()[0] == 0
    finally:
        agent.stop()


def offer_naming(customers: int, digits: int) -> dict:
    return {"offer": "actie-vaste-klanten", "version": 1, "kind": "percentage-off", "percent": 10,
            "title": {"nl": "Vaste klanten -10%"}, "categories": ["tuin"],
            "targeting": {"customers": [f"c-{n:0{digits}x}" for n in range(customers)]},
            "valid_from": "2026-12-01", "valid_until": "2026-12-31"}


def test_an_offer_naming_5000_customers_fits_one_message_as_the_document_says():
    message = PUSHES["offers"]
    _, raw = encode(message, {"offers": [offer_naming(5000, 32)]})
    print(f"an offer naming 5,000 customers of 32 hex digits: {len(raw)} bytes")
    assert 180_000 < len(raw) < 190_000  # "about 185 kB"
    assert len(decode(message, raw).payload.offers[0].targeting.customers) == 5000


def test_a_record_too_big_for_one_message_is_refused_by_central_push_naming_it_and_nothing_is_published(
        tmp_path):
    fixtures = tmp_path / "offers.yaml"
    fixtures.write_text(yaml.safe_dump({"offers": [offer_naming(10, 32), offer_naming(5000, 64) | {
        "offer": "actie-iedereen-bij-naam"}]}), encoding="utf-8")
    checked = central_push(str(fixtures), "--store", "store-1", "--print")
    assert checked.returncode == 2 and checked.stdout == ""
    lines = fixtures.read_text(encoding="utf-8").splitlines()
    line = next(n for n, text in enumerate(lines, 1) if "actie-iedereen-bij-naam" in text)
    problem = next(text for text in checked.stderr.splitlines() if "offers.1" in text)
    assert problem.startswith(f"{fixtures}:") and "offers.1: " in problem, checked.stderr
    assert problem.endswith(f"bytes encoded: a record is never split, and one message holds at most "
                            f"{MESSAGE_LIMIT} bytes with its envelope"), problem
    assert abs(int(problem.split(":")[1]) - line) < 20, (problem, line)  # the record's own line
