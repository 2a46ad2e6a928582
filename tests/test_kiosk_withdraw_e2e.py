"""Mijn gegevens and "forget me" end to end: an emulated card on nfcpy's UDP reader, the real agent,
a real Mosquitto and the kiosk on Xvfb, clicked with a real pointer.

The shopper taps their card, opens Mijn gegevens (the agent answers ``my-data``
with consents and the data-use log), withdraws consent in two taps and a
confirmation; the agent erases the customer and sends the consent events
upstream, the kiosk forgets everything and the card is unknown afterwards.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from edge_agent.agent import Agent
from edge_agent.contract import PUSHES, encode
from edge_agent.credentials import Credentials
from edge_agent.identity import card_token
from edge_agent.nfc.emulator import CardEmulator, Type2Card, free_udp_port
from tests.support.cards import E2E_CUSTOMER as GOLD
from tests.support.cards import SANNE_UID as GOLD_UID
from tests.support.cards import STORE_HMAC_KEY_HEX as HMAC_KEY
from tests.support.kiosk import KioskProcess
from tests.support.xvfb import Xvfb


@pytest.fixture
def world(mosquitto, make_config, capture, publisher, tmp_path):
    device = f"udp:127.0.0.1:{free_udp_port()}"
    emulator = CardEmulator(device)
    _, config = make_config(mosquitto, extra=f'[nfc]\ndevice = "{device}"\npoll_interval_s = 0.02\n')
    cap = capture(mosquitto, ["cs/#"])
    pub = publisher(mosquitto)
    agent = Agent(config, Credentials({"CS_STORE_HMAC_KEY": HMAC_KEY}))
    agent.start()
    assert agent.link.wait_connected(10)
    assert emulator.wait_for_reader(10), "the agent's reader never polled"
    now = datetime.now(UTC)
    pushes = [
        ("customer", {"customer": GOLD, "version": 1, "first_name": "Sanne", "language": "nl", "tier": "goud",
                      "points": 5120,
                      "consents": [{"purpose": "recognition", "until": (now + timedelta(days=365)).isoformat()},
                                   {"purpose": "personal-offers", "until": (now + timedelta(days=90)).isoformat()}]}),
        ("card-link", {"card": card_token(bytes.fromhex(HMAC_KEY), GOLD_UID), "version": 1, "kind": "customer",
                       "customer": GOLD}),
    ]
    for kind, data in pushes:
        pub.publish(PUSHES[kind].topic_for(config.store.id), encode(PUSHES[kind], data)[1])
    cap.wait_for(lambda _: agent.inbox.applied >= len(pushes), timeout=15)
    xvfb = Xvfb().start()
    kiosk = KioskProcess(xvfb, mosquitto.port, config.store.id, config.device.id, tmp_path / "kiosk").start()
    try:
        yield agent, emulator, cap, kiosk
    finally:
        kiosk.stop()
        xvfb.close()
        emulator.close()
        agent.stop()


def test_a_shopper_sees_their_data_and_withdraws_consent_in_two_taps_and_a_confirmation(world):
    agent, emulator, cap, kiosk = world
    emulator.tap(Type2Card(GOLD_UID), hold_s=0.25)
    kiosk.wait_screen("begrijp", "Sanne", "U bent Goud-lid van onze klantenclub.", timeout=15)

    kiosk.click("intent-mijn-gegevens")  # tap 1
    status = kiosk.wait(lambda s: s["screen"] == "mijn-gegevens" and s["my_data_status"] == "loaded")
    for text in ("Wat de winkel van u weet", "Sanne", "Goud", "Herkenning aan de kiosk", "Persoonlijke aanbiedingen",
                 "Wanneer uw gegevens zijn gebruikt", "Herkend aan de kiosk (voornaam, ", "Eigen gegevens bekeken ("):
        assert kiosk.shows(status, text), text
    assert sum(text.startswith("tot ") for text in status["texts"]) == 2, "each consent with its end date"
    kiosk.keep(status, "mijn-gegevens-800x480")

    kiosk.click("withdraw")  # tap 2
    status = kiosk.wait_screen("mijn-gegevens", "Weet u het zeker?", "Ja, wis mijn gegevens")
    assert "withdraw" not in status["targets"]
    kiosk.keep(status, "mijn-gegevens-confirm-800x480")
    kiosk.click("withdraw-confirm")  # the confirmation

    status = kiosk.wait_screen("bereik", "Uw toestemming is ingetrokken en uw gegevens zijn gewist.")
    kiosk.keep(status, "bereik-after-withdrawal-800x480")
    held = " ".join(status["held_texts"])
    assert "Sanne" not in held and "Goud" not in held and "Herkenning" not in held
    response = cap.wait_topic("/local/response/withdraw-consent")[0].json()
    assert response["status"] == "ok" and sorted(response["data"]["withdrawn"]) == ["personal-offers", "recognition"]
    consent = cap.wait_topic("/event/consent", count=2)
    assert {m.json()["data"]["purpose"] for m in consent} == {"recognition", "personal-offers"}
    with agent.store.reading() as conn:
        assert conn.execute("SELECT count(*) FROM customers WHERE customer = ?", (GOLD,)).fetchone()[0] == 0

    emulator.tap(Type2Card(GOLD_UID), hold_s=0.25)
    kiosk.wait_screen("enrolment", "Deze kaart kennen we nog niet.", timeout=15)
