"""The camera inside the agent, end to end: a video with a product barcode and a customer's app
QR code -> the kiosk's local topics and pseudonymous events upstream, through a real Mosquitto."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge_agent.agent import Agent
from edge_agent.camera.app_qr import issue_token, public_key_hex
from edge_agent.central import apply_customer
from edge_agent.contract import CustomerProfile
from edge_agent.credentials import Credentials
from edge_agent.store import Store
from tests.support.camera_scenes import code_image, codes_video
from tests.support.cards import E2E_CUSTOMER as CUSTOMER
from tests.support.mosquitto import free_port

EAN = "8712345678906"


def test_barcode_and_app_code_reach_the_kiosk_and_upstream_without_pixels(mosquitto, make_config, capture,
                                                                          tmp_path):
    key = Ed25519PrivateKey.generate()
    token = issue_token(key, CUSTOMER, ttl_s=120)
    video = tmp_path / "codes.avi"
    codes_video(video, [(None, 5), (code_image(EAN, "EAN13", scale=3), 20), (None, 10),
                        (code_image(token, "qr", scale=4), 20), (None, 10)])
    extra = (f'[nfc]\ndevice = "udp:127.0.0.1:{free_port()}"\n'
             f'[camera]\nsource = "{video}"\nloop = false\npace = "fast"\n'
             f'[camera.presence]\nenabled = false\n'
             f'[camera.app_qr]\npublic_keys = {{ "1" = "{public_key_hex(key)}" }}\n')
    _, config = make_config(mosquitto, extra=extra)
    until = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    store = Store(config.database.path)  # central's profile, as the inbox would have stored it
    with store.transaction(durable=True) as conn:
        apply_customer(conn, CustomerProfile(customer=CUSTOMER, version=1, first_name="Sanne",
                                             consents=[{"purpose": "recognition", "until": until}]), None)
    store.close()
    cap = capture(mosquitto, f"cs/v1/{config.store.id}/#")
    agent = Agent(config, Credentials({"CS_STORE_HMAC_KEY": "5a" * 32}))
    agent.start()
    try:
        scan = cap.wait_topic("/local/scan", timeout=20)[0].json()["data"]
        assert scan == {"gtin": "0" + EAN, "format": "ean-13"}
        assert cap.wait_topic("/event/scan")[0].json()["data"]["gtin"] == "0" + EAN
        session = cap.wait_topic("/local/session", timeout=20)[0].json()["data"]
        assert session["outcome"] == "recognised" and session["assurance"] == "app"
        assert session["customer"]["first_name"] == "Sanne"
        tap = cap.wait_topic("/event/tap")[0].json()["data"]
        assert tap["assurance"] == "app" and tap["customer"] == CUSTOMER
    finally:
        agent.stop()
    assert all(len(m.payload) < 2000 for m in cap.messages), "no message carries image data"
    assert not any(token.encode() in m.payload for m in cap.messages), "the app token itself is never published"
