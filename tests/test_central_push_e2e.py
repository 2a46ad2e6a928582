"""`edge-agent central push` end to end: a subprocess publishes the example fixtures to a real Mosquitto,
the agent applies them, a card is tapped on nfcpy's simulated reader, and the kiosk's requests come back
with the customer's prices and offers while the actions go upstream as events.

Every message captured on the device's topics is validated against the contract's JSON Schema.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from jsonschema import Draft7Validator

from edge_agent.agent import Agent
from edge_agent.contract import ALL_MESSAGES, COMMANDS, PUSHES, json_schema
from edge_agent.credentials import Credentials
from edge_agent.identity import card_token
from edge_agent.nfc.emulator import CardEmulator, Type2Card, free_udp_port
from tests.support.faults import wait_until
from tests.support.mosquitto import ensure_installed
from tests.support.mqtt import envelope
from tests.support.uid_spellings import assert_no_uid

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config" / "central-fixtures.example.yaml"
HMAC_KEY = "5a" * 32
SANNE_UID = bytes.fromhex("04A1B2C3D4E5F6")
SANNE = "c-0000000000000000000000000000a001"
EVERYTHING = '["first_name", "offers", "orders", "personal_prices", "points", "purchase_history", "tier"]'


def central_push(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edge_agent", "central", "push", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=60, check=False,
                          env={**os.environ, "CS_STORE_HMAC_KEY": HMAC_KEY, **(env or {})})



def schema_errors(topic: str, payload: bytes, store: str, device: str) -> list[str]:
    for message in ALL_MESSAGES:
        if message.topic_for(store, device) == topic:
            validator = Draft7Validator(json_schema(message), format_checker=Draft7Validator.FORMAT_CHECKER)
            return [f"{message.name}: {error.message}" for error in validator.iter_errors(json.loads(payload))]
    return [f"{topic}: not a topic of the contract"]


@pytest.fixture
def agent(mosquitto, make_config, capture, publisher):
    device = f"udp:127.0.0.1:{free_udp_port()}"
    emulator = CardEmulator(device)
    _, config = make_config(mosquitto, extra=f'[nfc]\ndevice = "{device}"\npoll_interval_s = 0.02\n'
                                             f'[privacy]\nshow_at_uid = {EVERYTHING}\n')
    cap = capture(mosquitto, ["cs/#"])
    agent = Agent(config, Credentials({"CS_STORE_HMAC_KEY": HMAC_KEY}))
    agent.start()
    assert agent.link.wait_connected(10)
    assert emulator.wait_for_reader(10), "the agent's reader never polled"
    yield agent, emulator, cap, publisher(mosquitto), config
    emulator.close()
    agent.stop()


def test_central_push_then_a_shopper_gets_her_prices_and_her_actions_go_upstream(agent, mosquitto):
    agent, emulator, cap, pub, config = agent
    store, device = config.store.id, config.device.id
    pushed = central_push(str(EXAMPLE), "--host", "127.0.0.1", "--port", str(mosquitto.port), "--store", store)
    assert pushed.returncode == 0, pushed.stderr
    assert "14 message(s)" in pushed.stdout and "all acknowledged" in pushed.stdout
    wait_until(lambda: agent.inbox.applied >= 14, 15, "the agent applied every pushed message")
    assert agent.inbox.rejected == 0
    assert_no_uid("\n".join(m.payload.decode() for m in cap.messages), [SANNE_UID], "the published messages")

    emulator.tap(Type2Card(SANNE_UID), hold_s=0.25)
    started = cap.wait_for(lambda ms: any(m.topic.endswith("/local/session") for m in ms))
    session = next(m.json()["data"] for m in started if m.topic.endswith("/local/session"))
    assert session["outcome"] == "recognised"

    def ask(command: str, data: dict, transaction: str) -> dict:
        pub.publish(COMMANDS[command].topic_for(store, device),
                    envelope(f"request-{command}/1", data, transaction=transaction))
        answers = cap.wait_for(lambda ms: any(m.topic.endswith(f"/local/response/{command}")
                                              and m.json()["transaction"] == transaction for m in ms))
        return next(m.json() for m in answers if m.topic.endswith(f"/local/response/{command}")
                    and m.json()["transaction"] == transaction)

    sid = session["session"]
    shears = ask("product", {"session": sid, "gtin": "8712345000059"}, "p-1")
    assert shears["status"] == "ok", shears
    assert (shears["data"]["price"]["price_cents"], shears["data"]["price"]["reason"]) == (1995, "Goud-prijs")
    anonymous = ask("product", {"gtin": "8712345000059"}, "p-2")["data"]["price"]
    assert (anonymous["price_cents"], anonymous["source"]) == (2495, "shelf")
    offers = ask("offers", {"session": sid, "limit": 2}, "o-1")["data"]
    assert [deal["reason"] for deal in offers["deals"]] == ["Goud-prijs", "Voorjaarsactie −10%"]
    account = ask("account", {"session": sid}, "a-1")["data"]
    assert account["loyalty"]["tier"] == "goud" and account["orders"][0]["pickup"] == {"kind": "locker",
                                                                                       "locker": "4"}
    assert ask("activate-offer", {"session": sid, "offer": "maaierolie-actie"}, "x-1")["data"]["new"] is True
    assert ask("check-promo-code", {"session": sid, "code": "lente27"}, "c-1")["data"]["valid"] is True
    assert ask("feedback", {"session": sid, "score": 5, "phase": "convert"}, "f-1")["status"] == "ok"
    assert ask("staff-assist", {"session": sid, "topic": "product-advice"}, "s-1")["status"] == "ok"
    refused = ask("enrol", {"session": sid}, "e-1")
    assert refused["status"] == "error" and "unknown card" in refused["error"]
    unknown = ask("product", {"session": sid, "gtin": "8712345000097"}, "p-3")
    assert unknown["status"] == "error" and unknown["error"] == "this product is not in the catalogue"

    for name in ("offer-activation", "promo-code", "feedback", "staff-assist"):
        cap.wait_topic(f"/event/{name}")
    activation = cap.on("/event/offer-activation")[0].json()["data"]
    assert activation == {"session": sid, "customer": SANNE, "offer": "maaierolie-actie", "offer_version": 1}
    device_topics = [m for m in cap.messages if m.topic.startswith(f"cs/v1/{store}/{device}/")
                     and "/probe" not in m.topic]
    problems = [problem for m in device_topics for problem in schema_errors(m.topic, m.payload, store, device)]
    assert not problems, problems[:5]
    assert all(not m.retain for m in cap.messages if "/local/" in m.topic)
    token = card_token(bytes.fromhex(HMAC_KEY), SANNE_UID)
    with agent.store.reading() as conn:
        assert conn.execute("SELECT subject FROM card_links WHERE card = ?", (token,)).fetchone() == (SANNE,)


def test_printed_messages_are_what_mosquitto_pub_sends(agent, mosquitto):
    agent, _, _, _, config = agent
    printed = central_push(str(EXAMPLE), "--store", config.store.id, "--print")
    assert printed.returncode == 0, printed.stderr
    lines = printed.stdout.splitlines()
    assert len(lines) == 14 and "ok (" in printed.stderr
    topic, payload = lines[0].split(" ", 1)
    assert topic == PUSHES["catalogue"].topic_for(config.store.id)
    mosquitto_pub = ensure_installed("mosquitto-clients", binary="mosquitto_pub")
    subprocess.run([mosquitto_pub, "-h", "127.0.0.1", "-p", str(mosquitto.port), "-q", "1", "-t", topic,
                    "-m", payload], check=True, timeout=10)
    wait_until(lambda: agent.inbox.applied == 1, 10, "the catalogue sent by mosquitto_pub was applied")
    with agent.store.reading() as conn:
        assert conn.execute("SELECT count(*) FROM products").fetchone() == (6,)


def test_a_bad_fixture_names_file_and_record_and_nothing_is_published(tmp_path, mosquitto, capture):
    cap = capture(mosquitto, ["cs/v1/central/#"])
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "store: store-9\n"
        "catalogue:\n"
        "  - {gtin: \"8712345000011\", version: 1, name: {nl: Gazonmest}, price_cents: 1299, category: gazonmest}\n"
        "  - {gtin: 8712345000028, version: 1, name: {nl: Gazonmest}, price_cents: 0, category: gazonmest}\n"
        "offers:\n"
        "  - {offer: voorjaar, version: 1, kind: percentage-off, title: {nl: Voorjaar}, targeting: {everyone: true},\n"
        "     valid_from: 2026-05-01, valid_until: 2026-04-01, percent: 10}\n"
        "  - {offer: voorjaar, version: 1, kind: percentage-off, title: {nl: Voorjaar}, targeting: {everyone: true},\n"
        "     valid_from: 2026-04-01, valid_until: 2026-05-01, percent: 10}\n"
        "purchase_history:\n"
        "  - {line: R-1, version: 1, customer: klant-7, gtin: \"8712345000011\", quantity: 1,\n"
        "     at: 2026-03-01T10:00:00Z, channel: shop}\n"
        "kassabonnen: []\n")
    result = central_push(str(bad), "--host", "127.0.0.1", "--port", str(mosquitto.port))
    assert result.returncode == 2
    err = result.stderr
    assert f"{bad}: 5 problem(s)" in err, err
    assert f"{bad}:13: kassabonnen: unknown section (known: store, catalogue," in err
    assert f"{bad}:4: catalogue.1.gtin: Input should be a valid string (quote it" in err
    assert f"{bad}:4: catalogue.1.price_cents: Input should be greater than 0" in err
    assert f"{bad}:6: offers.0: the validity window ends before it starts" in err
    assert f"{bad}:11: purchase_history.0.customer: String should match pattern" in err
    assert cap.messages == []
    checked = central_push(str(EXAMPLE), "--check", env={"CS_STORE_HMAC_KEY": ""})
    assert checked.returncode == 2 and ".uid: needs the store's HMAC key" in checked.stderr
    assert f"{EXAMPLE}:" in checked.stderr and ": card_links.0.uid: " in checked.stderr


def test_large_sections_are_split_by_count_and_by_size(tmp_path):
    import yaml

    from edge_agent.central_push import MESSAGE_LIMIT, load, messages
    from edge_agent.contract import PUSHES as pushes
    from edge_agent.contract import decode, gtin_check_digit

    long_text = "Voor een groen en dicht gazon. " * 60  # ~1.9 KB per record: 256 KiB holds ~130
    records = []
    for n in range(300):
        body = f"87123450{n:04d}"
        records.append({"gtin": body + str(gtin_check_digit(body)), "version": 1, "name": {"nl": f"Product {n}"},
                        "description": {"nl": long_text}, "price_cents": 100 + n, "category": "gazonmest"})
    path = tmp_path / "big.yaml"
    path.write_text(yaml.safe_dump({"catalogue": records}))
    outgoing = messages(load(path), "store-1", batch=1000)
    assert len(outgoing) >= 3 and all(len(m.payload) <= MESSAGE_LIMIT for m in outgoing)
    assert sum(m.records for m in outgoing) == 300
    assert sum(len(decode(pushes["catalogue"], m.payload).payload.products) for m in outgoing) == 300
    assert [m.records for m in messages(load(path), "store-1", batch=100)] == [100, 100, 100]


def test_the_readme_shows_a_push_mosquitto_pub_can_send():
    import re

    from edge_agent.contract import PUSHES as pushes
    from edge_agent.contract import decode

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"mosquitto_pub [^\n]*-t (cs/v1/central/\S+/offers) \\\n\s+-m '(.*?)'\n", readme, re.DOTALL)
    assert found, "the README lost its mosquitto_pub example of a push"
    assert found.group(1) == pushes["offers"].topic_for("store-0042")
    assert decode(pushes["offers"], found.group(2).encode()).payload.offers[0].kind == "percentage-off"
