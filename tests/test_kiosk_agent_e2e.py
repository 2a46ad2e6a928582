"""The kiosk against the real agent: an emulated card on nfcpy's UDP reader, the agent with central's
fixtures (``config/central-fixtures.example.yaml``), a real Mosquitto and the kiosk on Xvfb.

Nothing stands in for the agent here: Begrijp shows the purchases and the ready order from the agent's
``account`` answer, Converteer its offers (activating one, a promo code typed on the on-screen
keyboard), Informeer its price for a product, Ontzorg the order and its pick-up place, and lifting
the card off the reader ends the session (``[sessions] end_on_card_removal``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from edge_agent import central_push as fixtures
from edge_agent.agent import Agent
from edge_agent.credentials import Credentials
from edge_agent.nfc.emulator import CardEmulator, Type2Card, free_udp_port
from tests.support.cards import SANNE_UID as SANNE
from tests.support.kiosk import KioskProcess
from tests.support.xvfb import Xvfb

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "config" / "central-fixtures.example.yaml"
HMAC_KEY = os.urandom(32)
UNKNOWN = bytes.fromhex("04999999999999")
PERSONAL = ("Sanne", "WEB-100234", "Gazonmest 10 kg", "kluis 4")



@pytest.fixture(scope="module")
def xvfb():
    with Xvfb() as display:
        yield display


@pytest.fixture
def world(mosquitto, make_config, capture, xvfb, tmp_path):
    device = f"udp:127.0.0.1:{free_udp_port()}"
    emulator = CardEmulator(device)
    _, config = make_config(mosquitto, extra=(
        f'[nfc]\ndevice = "{device}"\npoll_interval_s = 0.02\n'
        '[sessions]\nend_on_card_removal = true\n'
        # A UID card shows purchases here too (by default only a SUN card does), so Begrijp can say them.
        '[privacy]\nshow_at_uid = ["first_name", "tier", "offers", "orders", "purchase_history", '
        '"personal_prices"]\n'))
    cap = capture(mosquitto, ["cs/#"])
    agent = Agent(config, Credentials({"CS_STORE_HMAC_KEY": HMAC_KEY.hex()}))
    agent.start()
    assert agent.link.wait_connected(10)
    assert emulator.wait_for_reader(10), "the agent's reader never polled"
    outgoing = fixtures.messages(fixtures.load(FIXTURES, hmac_key=HMAC_KEY), config.store.id)
    fixtures.publish(outgoing, "127.0.0.1", mosquitto.port)
    cap.wait_for(lambda _: agent.inbox.applied >= len(outgoing), timeout=20)
    kiosk = KioskProcess(xvfb, mosquitto.port, config.store.id, config.device.id, tmp_path / "kiosk",
                         size="1920x1080", args=("--transition", "none")).start()
    try:
        yield agent, emulator, cap, kiosk
    finally:
        kiosk.stop()
        emulator.close()
        agent.stop()


def test_a_customer_sees_their_purchases_order_offers_and_prices_from_the_agent(world):
    agent, emulator, cap, kiosk = world
    emulator.hold(Type2Card(SANNE))  # the card stays on the reader
    status = kiosk.wait_screen("begrijp", "Sanne", "U bent Goud-lid van onze klantenclub.",
                               "Uw bestelling WEB-100234 ligt klaar: kluis 4.", "Vorige keer: Gazonmest 10 kg",
                               timeout=20)
    kiosk.keep(status, "begrijp-agent-1920x1080")

    kiosk.click("ready-order")
    status = kiosk.wait_screen("ontzorg", "Bestelling WEB-100234: Ligt klaar", "Ophalen bij: kluis 4",
                               "1 × Gazonmest 20 kg, 1 × Snoeischaar")
    kiosk.keep(status, "ontzorg-agent-1920x1080")

    kiosk.click("nav-converteer")
    status = kiosk.wait_screen("converteer", "Voorjaarsactie −10%", "Gratis tuinhandschoenen vanaf €50",
                               "€2 korting op maaierolie", timeout=15)
    kiosk.click("activate-maaierolie-actie")
    kiosk.wait_screen("converteer", "Actief: u krijgt dit voordeel bij de kassa.")
    assert cap.wait_topic("/event/offer-activation")[0].json()["data"]["offer"] == "maaierolie-actie"
    kiosk.click("promo-keyboard")
    for key in "LENTE27":
        kiosk.click(f"key-{key}")
    kiosk.click("key-back")
    kiosk.click("key-7")
    status = kiosk.click("promo-check")
    status = kiosk.wait_screen("converteer", "Gelukt! Lentecode −15% op 20 kg geldt nu voor u.")
    kiosk.keep(status, "converteer-agent-keyboard-1920x1080")
    event = cap.wait_topic("/event/promo-code")[0]
    assert b"LENTE27" not in event.payload, "the typed code never goes upstream"

    # A product held up to the camera: the pipeline's callback into the agent, which tells the kiosk; the
    # kiosk asks the agent for the product, priced for Sanne (the promo code she entered counts).
    agent._on_camera_event("scan", {"gtin": "08712345000035", "format": "ean-13"})
    status = kiosk.wait_screen("informeer", "Gazonmest 20 kg", "Normaal €\u00a0", "Te vinden in:", timeout=15)
    kiosk.keep(status, "informeer-agent-1920x1080")

    emulator.remove()  # lifting the card ends the session
    status = kiosk.wait_screen("bereik", "Tot ziens!", timeout=15)
    held = " ".join(status["held_texts"])
    assert not any(text in held for text in PERSONAL), held


def test_an_unknown_card_browses_the_offers_for_everyone(world):
    _agent, emulator, _cap, kiosk = world
    emulator.hold(Type2Card(UNKNOWN))  # lifting it would end the session here
    kiosk.wait_screen("enrolment", "Deze kaart kennen we nog niet.", timeout=15)
    kiosk.click("intent-converteer")
    status = kiosk.wait_screen("converteer", "Voorjaarsactie −10%", "Gratis tuinhandschoenen vanaf €50")
    assert not kiosk.shows(status, "maaierolie"), "a targeted offer is not for an unknown card"
    assert not any(name.startswith("activate-") for name in status["targets"])
    kiosk.keep(status, "converteer-anonymous-1920x1080")
