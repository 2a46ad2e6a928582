"""The customer app's QR token: valid, expired, tampered, wrong key, replayed; real QR codes in a video."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge_agent.camera.app_qr import (
    PREFIX,
    AppTokenError,
    AppTokenVerifier,
    is_app_token,
    issue_token,
    parse_token,
    public_key_from_hex,
    public_key_hex,
)
from edge_agent.camera.barcodes import BarcodeReader
from edge_agent.identity import Assurance, CardLink, Outcome, decide
from tests.support.camera_scenes import code_image, codes_video, collecting, run_file
from tests.support.cards import CUSTOMER

NOW = 1_800_000_000.0
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
OTHER_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))


class Clock:
    def __init__(self, now: float = NOW):
        self.now = now

    def __call__(self) -> float:
        return self.now


def verifier(clock: Clock | None = None, **options) -> AppTokenVerifier:
    return AppTokenVerifier({1: KEY.public_key()}, now=clock or Clock(), **options)


def refused(verifier_: AppTokenVerifier, token: str) -> str:
    with pytest.raises(AppTokenError) as info:
        verifier_.verify(token)
    return info.value.reason


# --------------------------------------------------------------------------- the token


def test_valid_token_identifies_the_customer_with_assurance_app():
    token = issue_token(KEY, CUSTOMER, ttl_s=60, now=NOW)
    assert token.startswith(PREFIX) and is_app_token(token)
    assert set(token[len(PREFIX):]) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")  # QR alphanumeric mode
    identification = verifier().verify(token)
    assert identification.customer == CUSTOMER
    assert identification.assurance is Assurance.APP
    assert identification.expires == NOW + 60
    assert identification.key_id == 1


@pytest.mark.parametrize("customer", ["c-0123456789abcdef", "c-" + "f" * 64, "c-0123456789abcdef1"])
def test_customer_ids_of_any_allowed_length_round_trip(customer):
    assert verifier().verify(issue_token(KEY, customer, now=NOW)).customer == customer


def test_expired_token_is_refused_after_the_leeway():
    clock = Clock()
    token = issue_token(KEY, CUSTOMER, ttl_s=30, now=NOW)
    clock.now = NOW + 30 + 9
    assert verifier(clock, leeway_s=10).verify(token).customer == CUSTOMER  # within the clock leeway
    clock.now = NOW + 30 + 11
    assert refused(verifier(clock, leeway_s=10), issue_token(KEY, CUSTOMER, ttl_s=30, now=NOW)) == "expired"


def test_token_claiming_a_long_life_is_refused():
    assert refused(verifier(max_ttl_s=300), issue_token(KEY, CUSTOMER, ttl_s=3600, now=NOW)) == "expiry-too-far"


def test_tampered_token_is_refused():
    token = issue_token(KEY, CUSTOMER, now=NOW)
    raw = bytearray(base64.b32decode(token[len(PREFIX):] + "=" * (-len(token[len(PREFIX):]) % 8)))
    raw[-70] ^= 0x01  # a bit of the customer id
    tampered = PREFIX + base64.b32encode(bytes(raw)).decode().rstrip("=")
    assert parse_token(tampered)[2] != CUSTOMER
    assert refused(verifier(), tampered) == "bad-signature"
    raw = bytearray(base64.b32decode(token[len(PREFIX):] + "=" * (-len(token[len(PREFIX):]) % 8)))
    raw[1:5] = int(NOW + 200).to_bytes(4, "big")  # a later expiry
    assert refused(verifier(), PREFIX + base64.b32encode(bytes(raw)).decode().rstrip("=")) == "bad-signature"


def test_token_signed_with_another_key_is_refused():
    assert refused(verifier(), issue_token(OTHER_KEY, CUSTOMER, now=NOW)) == "bad-signature"
    assert refused(verifier(), issue_token(KEY, CUSTOMER, key_id=7, now=NOW)) == "unknown-key"


def test_key_rotation_accepts_both_key_ids():
    rotating = AppTokenVerifier({1: KEY.public_key(), 2: OTHER_KEY.public_key()}, now=Clock())
    assert rotating.verify(issue_token(OTHER_KEY, CUSTOMER, key_id=2, now=NOW)).key_id == 2
    assert rotating.verify(issue_token(KEY, CUSTOMER, key_id=1, now=NOW)).key_id == 1


def test_a_token_is_good_for_one_presentation():
    token = issue_token(KEY, CUSTOMER, now=NOW)
    checker = verifier()
    checker.verify(token)
    assert refused(checker, token) == "replayed"
    assert checker.verify(issue_token(KEY, CUSTOMER, ttl_s=61, now=NOW)).customer == CUSTOMER  # a fresh one


def test_used_tokens_are_forgotten_once_expired():
    clock = Clock()
    checker = verifier(clock)
    for index in range(50):
        checker.verify(issue_token(KEY, f"c-{index:016x}", ttl_s=10 + index % 5, now=NOW))
    clock.now = NOW + 100
    checker.verify(issue_token(KEY, CUSTOMER, ttl_s=60, now=clock.now))
    assert len(checker._used) == 1


@pytest.mark.parametrize("text", ["", "CSA1:", "CSA1:!!!!", "CSA1:" + "A" * 20, "CSA1:" + "A" * 400,
                                  "https://example.com", "CSA1:" + base64.b32encode(b"\x01" * 90).decode()])
def test_malformed_text_is_refused_as_malformed(text):
    assert refused(verifier(), text) == "malformed"


def test_public_keys_are_64_hex_digits():
    assert public_key_hex(public_key_from_hex(public_key_hex(KEY))) == public_key_hex(KEY)
    for bad in ("00", "zz" * 32, "00" * 33):
        with pytest.raises(ValueError):
            public_key_from_hex(bad)
    with pytest.raises(ValueError):
        AppTokenVerifier({})


def test_app_identification_follows_the_same_consent_rules_as_a_card():
    identification = verifier().verify(issue_token(KEY, CUSTOMER, now=NOW))
    now = datetime.fromtimestamp(NOW, UTC)
    link = CardLink("customer", identification.customer)
    consented = decide(link, {"recognition": now + timedelta(days=30)}, identification.assurance, now)
    assert consented.outcome is Outcome.RECOGNISED and consented.assurance is Assurance.APP
    assert decide(link, {}, identification.assurance, now).outcome is Outcome.ANONYMOUS


# --------------------------------------------------------------------------- real QR codes through the pipeline


def test_app_qr_codes_in_a_video_become_identifications_and_refusals(tmp_path):
    import time

    now = time.time()
    valid = issue_token(KEY, CUSTOMER, ttl_s=120, now=now)
    expired = issue_token(KEY, CUSTOMER, ttl_s=30, now=now - 120)
    wrong_key = issue_token(OTHER_KEY, CUSTOMER, ttl_s=120, now=now)
    raw = bytearray(base64.b32decode(valid[len(PREFIX):] + "=" * (-len(valid[len(PREFIX):]) % 8)))
    raw[-1] ^= 0x80
    tampered = PREFIX + base64.b32encode(bytes(raw)).decode().rstrip("=")
    video = tmp_path / "app-qr.avi"
    spans = codes_video(video, [(None, 5), (code_image(valid), 12), (None, 30), (code_image(expired), 8), (None, 30),
                                (code_image(tampered), 8), (None, 30), (code_image(wrong_key), 8), (None, 30),
                                (code_image(valid), 8), (None, 3)], width=480, height=360)
    processor = collecting(reader=BarcodeReader(), verifier=AppTokenVerifier({1: KEY.public_key()}))
    events = run_file(video, processor)
    assert [(kind, data["customer"], data["reason"]) for _, kind, data in events] == [
        ("app-identification", CUSTOMER, None),
        ("app-identification", None, "expired"),
        ("app-identification", None, "bad-signature"),
        ("app-identification", None, "bad-signature"),
        ("app-identification", None, "replayed"),  # the same code shown again after 8 s
    ]
    first_seq, _, first = events[0]
    assert spans[1][0] <= first_seq <= spans[1][0] + 2  # read within two frames of being held up
    assert first["assurance"] == "app" and first["expires"].endswith("Z")
    assert all(data["assurance"] == "none" and data["expires"] is None for _, _, data in events[1:])


def test_app_qr_codes_are_ignored_without_a_public_key(tmp_path, caplog):
    video = tmp_path / "no-key.avi"
    codes_video(video, [(code_image(issue_token(KEY, CUSTOMER)), 6)], width=320, height=240)
    processor = collecting(reader=BarcodeReader())
    assert run_file(video, processor) == []
    assert "no app QR public key is configured" in caplog.text


def test_the_documented_example_token_verifies():
    text = (Path(__file__).resolve().parent.parent / "docs" / "app-qr.md").read_text(encoding="utf-8")
    token = next(line.strip() for line in text.splitlines() if re.fullmatch(r"CSA1:[A-Z2-7]+", line.strip()))
    key = public_key_from_hex("03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8")
    checker = AppTokenVerifier({1: key}, now=Clock(1775035800.0))
    identification = checker.verify(token)
    assert (identification.customer, identification.expires) == (CUSTOMER, 1775035860.0)
