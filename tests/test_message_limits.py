"""The message size limit is part of the contract: every push its schema allows fits it, and the document says so.

:data:`~edge_agent.contract.MESSAGE_LIMIT` (256 KiB) is what the agent reads of one message. Before, a
1,000-record catalogue that validated against the published schema (712 kB) was refused as too large. Now each
push's lists have a ``maxItems`` chosen so that the largest message the schema allows fits (computed from the
schema by :mod:`edge_agent.contract.limits`, checked here on the published document too), the largest such
message built by hand is accepted by the agent's decoder, and ``central push`` sends a bigger catalogue as
several messages that the agent applies.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from edge_agent.agent import Agent
from edge_agent.contract import MESSAGE_LIMIT, PUSHES, decode, encode, gtin_check_digit, json_schema
from edge_agent.contract.limits import Unbounded, worst_case_bytes
from edge_agent.credentials import Credentials
from edge_agent.errors import ContractError
from tests.support.faults import wait_until

ROOT = Path(__file__).resolve().parent.parent
DOCUMENT = ROOT / "docs" / "asyncapi.yaml"


@pytest.fixture(scope="module")
def document() -> dict:
    return yaml.safe_load(DOCUMENT.read_text(encoding="utf-8"))


@pytest.mark.parametrize("push", sorted(PUSHES))
def test_the_largest_schema_valid_message_of_every_push_encodes_under_the_limit(push, document):
    largest = worst_case_bytes(json_schema(PUSHES[push]))
    print(f"{push}: the largest valid message is {largest} bytes, {largest / MESSAGE_LIMIT:.0%} of the limit")
    assert largest <= MESSAGE_LIMIT
    # The same from the published document, as a sender reads it.
    published = document["components"]["messages"][push]
    assert worst_case_bytes(published["payload"], document["components"]["schemas"]) == largest
    assert published["x-largest-valid-message"] == largest


def test_the_document_states_the_limit_for_every_message(document):
    assert document["info"]["x-message-size-limit"] == MESSAGE_LIMIT
    assert f"A message is at most {MESSAGE_LIMIT} bytes (256 KiB)" in " ".join(document["info"]["description"].split())
    for name, message in document["components"]["messages"].items():
        assert message["x-message-size-limit"] == MESSAGE_LIMIT, name
        assert message["description"].startswith(f"At most {MESSAGE_LIMIT} bytes encoded"), name
    catalogue = document["components"]["messages"]["catalogue"]["description"]
    most = PUSHES["catalogue"].model.model_json_schema()["properties"]["products"]["maxItems"]
    assert f"`products` holds at most {most} records: send more as several messages." in catalogue


def test_a_list_without_maxitems_is_named_as_unbounded():
    schema = {"type": "object", "properties": {"data": {"type": "object", "properties": {
        "items": {"type": "array", "items": {"type": "string", "maxLength": 4}}}}}}
    with pytest.raises(Unbounded, match=r"^\.data\.items: a list without maxItems$"):
        worst_case_bytes(schema)
    with pytest.raises(Unbounded, match="text without maxLength"):
        worst_case_bytes({"type": "string"})


CONTROL = "\x01"  # the costliest character in JSON: written as \u0001, six bytes
INT64 = 2**63 - 1


def local_text() -> dict:
    return dict.fromkeys(("nl", "en", "fr"), CONTROL * 500)


def widest_product(n: int) -> dict:
    body = f"{n:013d}"
    url = "https://" + '"' * 500  # a quote is written \" in JSON: two bytes
    return {"gtin": body + str(gtin_check_digit(body)), "version": INT64, "active": False, "name": local_text(),
            "description": local_text(), "price_cents": 100_000_000, "category": "c" + "-" * 62,
            "images": [url] * 5, "stock": INT64, "shelf": CONTROL * 40, "video": url}


def test_the_widest_catalogue_the_schema_allows_is_accepted_and_fits_what_was_computed():
    message = PUSHES["catalogue"]
    most = message.model.model_json_schema()["properties"]["products"]["maxItems"]
    _, raw = encode(message, {"products": [widest_product(n) for n in range(most)]},
                    message_id="01a23358-48e3-74ec-9f57-ac817c859825")
    print(f"the widest catalogue of {most} records: {len(raw)} bytes")
    assert len(raw) <= worst_case_bytes(json_schema(message)) <= MESSAGE_LIMIT
    assert len(decode(message, raw).payload.products) == most  # the agent reads it: under the limit, valid
    # One record more is refused by the contract (maxItems), not by the size limit only.
    with pytest.raises(ContractError, match="products"):
        encode(message, {"products": [widest_product(n) for n in range(most + 1)]})


def test_the_widest_order_the_schema_allows_is_accepted():
    message = PUSHES["order"]
    most = message.model.model_json_schema()["$defs"]["OrderItem"]
    assert most["properties"]["name"]["maxLength"] == 200
    order = {"order_id": "A" * 40, "version": INT64, "customer": "c-" + "a" * 64, "status": "ready",
             "pickup": {"kind": "locker", "locker": CONTROL * 20},
             "ready_since": "2026-12-01T10:00:00.123456+01:00", "deadline": "2026-12-02T10:00:00.123456+01:00",
             "items": [{"name": CONTROL * 200, "quantity": INT64}] * 200}
    _, raw = encode(message, order)
    assert len(raw) <= worst_case_bytes(json_schema(message)) <= MESSAGE_LIMIT
    assert decode(message, raw).payload.order_id == "A" * 40


def central_push(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edge_agent", "central", "push", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=120, check=False, env=dict(os.environ))


def test_a_1000_record_catalogue_is_pushed_as_several_messages_and_every_record_applied(
        mosquitto, make_config, tmp_path):
    # The catalogue of the report: 1,000 records, ~712 kB, valid by the schema, refused whole before.
    records = []
    for n in range(1000):
        body = f"87123450{n:04d}"
        records.append({
            "gtin": body + str(gtin_check_digit(body)), "version": 1, "price_cents": 199 + n, "category": "tuin",
            "name": {"nl": f"Gazonmest universeel {n} kg", "en": f"Universal lawn feed {n} kg",
                     "fr": f"Engrais gazon universel {n} kg"},
            "description": {"nl": "Langwerkende mest voor een dicht, groen gazon. Korrels strooien op een droog "
                                  "gazon en daarna beregenen. Genoeg voor 200 m², werkt tot 100 dagen. " * 3},
            "images": [f"products/gazonmest-{n}.jpg", f"products/gazonmest-{n}-achterkant.jpg"],
            "shelf": "Gang 3, schap A", "video": "videos/gazon-bemesten.mp4"})
    fixtures = tmp_path / "catalogue.yaml"
    fixtures.write_text(yaml.safe_dump({"catalogue": records}, allow_unicode=True), encoding="utf-8")
    whole = len(json.dumps({"products": records}, ensure_ascii=False, separators=(",", ":")).encode())
    assert whole > 2 * MESSAGE_LIMIT  # too big for one message by far

    _, config = make_config(mosquitto)
    agent = Agent(config, Credentials({}))
    agent.start()
    try:
        assert agent.link.wait_connected(10)
        pushed = central_push(str(fixtures), "--host", "127.0.0.1", "--port", str(mosquitto.port),
                              "--store", config.store.id)
        assert pushed.returncode == 0, pushed.stderr
        most = PUSHES["catalogue"].model.model_json_schema()["properties"]["products"]["maxItems"]
        assert f"{1000 // most} message(s)" in pushed.stdout and "all acknowledged" in pushed.stdout
        wait_until(lambda: agent.inbox.applied >= 1000 // most, 60, "the agent applied every message")
        assert agent.inbox.rejected == 0
        with agent.store.reading() as conn:
            assert conn.execute("SELECT count(*) FROM products").fetchone()[0] == 1000
    finally:
        agent.stop()
