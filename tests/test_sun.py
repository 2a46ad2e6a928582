"""NTAG 424 DNA SUN messages: published vectors, round trips and every way a message is refused.

Vector sources (see docs/sun.md):
- NXP AN12196 "NTAG 424 DNA and NTAG 424 DNA TagTamper features and hints":
  the SUN example with both keys 00..00 (e=EF96.., c=94EE..), the session key
  example with SDMFileReadKey 5ACE7E50.., and the example whose MAC input is
  "<SDMENCFileData hex>&cmac=".
- NXP AN10922 "Symmetric key diversifications", section 2.2.1, AES-128 example.
- nfc-developer/sdm-backend's tests (real tags): distinct meta and file keys,
  and a plain (unencrypted) mirror, so swapped keys or a big-endian counter fail.
"""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.credentials import Credentials
from edge_agent.errors import CredentialError, EdgeAgentError
from edge_agent.nfc.sun import (
    DEFAULT_SYSTEM_IDENTIFIER,
    PiccData,
    SunError,
    SunFormatError,
    SunKeys,
    SunMacError,
    SunPiccDataError,
    SunReplayError,
    SunResult,
    an10922_diversify,
    cmac_subkeys,
    decrypt_picc_data,
    encrypt_picc_data,
    make_sun_message,
    parse_sun_url,
    sdm_mac,
    session_mac_key,
    sun_url,
    truncate_mac,
    verify_sun,
    verify_sun_command,
    verify_sun_message,
)
from tests.support.uid_spellings import assert_no_uid

ZERO = bytes(16)
h = bytes.fromhex

# AN12196, SUN example with SDMMetaReadKey = SDMFileReadKey = 00..00, empty MAC input.
AN_URL = "https://ntag.nxp.com/424?e=EF963FF7828658A599F3041510671E88&c=94EED9EE65337086"
AN_ENC = "EF963FF7828658A599F3041510671E88"
AN_MAC = "94EED9EE65337086"
AN_PLAIN = h("C704DE5F1EACC0403D0000DA5CF60941")
AN_UID = h("04DE5F1EACC040")
AN_COUNTER = 0x3D
AN_SESSION_KEY = h("3FB5F6E3A807A03D5E3570ACE393776F")
AN_FULL_CMAC = h("E194C7EE12D9F7EE8A65C8331B704386")

# AN12196, example with SDMENCFileData: the card MACs "<enc hex>&cmac=".
AN_T5_URL = (
    "https://www.my424dna.com/?picc_data=FD91EC264309878BE6345CBE53BADF40"
    "&enc=CEE9A53E3E463EF1F459635736738962&cmac=ECC1E7F6C6C73BF6"
)
AN_T5_MAC_INPUT = b"CEE9A53E3E463EF1F459635736738962&cmac="

ZERO_KEYS = SunKeys.fixed(ZERO, ZERO)


def flip_hex_bit(text: str, bit: int) -> str:
    data = bytearray(bytes.fromhex(text))
    data[bit // 8] ^= 0x80 >> (bit % 8)
    return data.hex().upper()


def ecb_encrypt(key: bytes, block: bytes) -> bytes:
    encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return encryptor.update(block) + encryptor.finalize()


def std_cmac(key: bytes, data: bytes) -> bytes:
    mac = CMAC(algorithms.AES(key))
    mac.update(data)
    return mac.finalize()


# --- AN12196 vectors --------------------------------------------------------


def test_an12196_picc_data_decrypts_to_published_uid_and_little_endian_counter():
    picc = decrypt_picc_data(ZERO, h(AN_ENC))
    assert picc.tag == 0xC7
    assert picc.uid == AN_UID
    assert picc.counter == 61  # 3D 00 00, least significant byte first


def test_an12196_card_side_encryption_reproduces_the_published_ciphertext():
    # The published plaintext ends in the chip's random padding DA5CF60941.
    assert encrypt_picc_data(ZERO, AN_UID, AN_COUNTER, padding=AN_PLAIN[11:]) == h(AN_ENC)


def test_an12196_session_mac_key_from_sv2():
    assert session_mac_key(ZERO, AN_UID, AN_COUNTER) == AN_SESSION_KEY
    # SV2 = 3CC3 0001 0080 || UID || SDMReadCtr (LE): exactly one block, no padding.
    assert std_cmac(ZERO, h("3CC30001008004DE5F1EACC0403D0000")) == AN_SESSION_KEY


def test_an12196_session_key_with_nonzero_file_read_key():
    key = h("5ACE7E50AB65D5D51FD5BF5A16B8205B")
    assert session_mac_key(key, h("04C767F2066180"), 1) == h("3A3E8110E05311F7A3FCF0D969BF2B48")


def test_an12196_mac_over_empty_input_is_the_odd_bytes_of_the_cmac():
    assert std_cmac(AN_SESSION_KEY, b"") == AN_FULL_CMAC
    assert truncate_mac(AN_FULL_CMAC) == h(AN_MAC)
    assert AN_FULL_CMAC[1::2] == h(AN_MAC)  # indices 1, 3, ..., 15
    assert AN_FULL_CMAC[0::2] != h(AN_MAC)
    assert sdm_mac(ZERO, AN_UID, AN_COUNTER) == h(AN_MAC)


def test_an12196_full_url_verifies():
    result = verify_sun(AN_URL, ZERO_KEYS, last_counter=None)
    assert result == SunResult(uid=AN_UID, counter=61)


def test_an12196_card_side_generator_reproduces_the_published_message():
    assert make_sun_message(AN_UID, 61, ZERO, ZERO, padding=AN_PLAIN[11:]) == (AN_ENC, AN_MAC)


def test_an12196_example_with_nonempty_mac_input():
    picc = decrypt_picc_data(ZERO, h("FD91EC264309878BE6345CBE53BADF40"))
    assert (picc.uid, picc.counter) == (h("04958CAA5C5E80"), 8)
    assert session_mac_key(ZERO, picc.uid, picc.counter) == h("3ED0920E5E6A0320D823D5987FEAFBB1")
    result = verify_sun(AN_T5_URL, ZERO_KEYS, None, mac_input=AN_T5_MAC_INPUT)
    assert result == SunResult(uid=h("04958CAA5C5E80"), counter=8)
    with pytest.raises(SunMacError):
        verify_sun(AN_T5_URL, ZERO_KEYS, None)  # the default empty MAC input is not what this card MACs


def test_real_tag_with_distinct_meta_and_file_keys_catches_swapped_keys():
    # sdm-backend test_sun3_custom: the card MACs the SDMENCFileData hex.
    url = "https://x.test/?picc_data=8ACADDEF0A9B62CDAE39A16B83FC14DE&cmac=238B2543A8DEBAD8"
    meta, file = h("42aff114f2cb3b6141be6dc95dfc5416"), h("b62a9baf092439bd43c62aee96b970c5")
    mac_input = b"B8436E11F627BB7F543FCC0C1E0D1A89"
    result = verify_sun(url, SunKeys.fixed(meta, file), None, mac_input)
    assert result == SunResult(uid=h("041d3c8a2d6b80"), counter=291)
    with pytest.raises((SunPiccDataError, SunMacError)):
        verify_sun(url, SunKeys.fixed(file, meta), None, mac_input)


def test_counter_is_little_endian_in_sv2():
    # sdm-backend test_plain_sdm: counter 6 mirrored in clear; SV2 carries 06 00 00.
    assert sdm_mac(ZERO, h("041E3C8A2D6B80"), 6) == h("4B00064004B0B3D3")
    assert sdm_mac(ZERO, h("041E3C8A2D6B80"), 0x060000) != h("4B00064004B0B3D3")


# --- AN10922 vector -----------------------------------------------------------

AN10922_MASTER = h("00112233445566778899AABBCCDDEEFF")
AN10922_UID = h("04782E21801D80")
AN10922_AID = h("3042F5")
AN10922_SYSTEM_IDENTIFIER = b"NXP Abu"  # 4E585020416275
AN10922_KEY = h("A8DD63A3B89D54B37CA802473FDA9175")


def test_an10922_cmac_subkeys():
    assert cmac_subkeys(AN10922_MASTER) == (
        h("FBC9F75C9413C041DFEE452D3F0706D1"),
        h("F793EEB928278083BFDC8A5A7E0E0D25"),
    )


def test_an10922_aes128_diversification_vector():
    m = AN10922_UID + AN10922_AID + AN10922_SYSTEM_IDENTIFIER
    assert m == h("04782E21801D803042F54E585020416275")
    assert an10922_diversify(AN10922_MASTER, m) == AN10922_KEY


def test_sun_keys_for_card_diversifies_with_an10922():
    keys = SunKeys(ZERO, AN10922_MASTER, AN10922_AID + AN10922_SYSTEM_IDENTIFIER)
    assert keys.diversified
    assert keys.for_card(AN10922_UID) == AN10922_KEY


def test_an10922_pads_short_input_to_two_blocks_unlike_plain_cmac():
    # 0x01 || M longer than one block: AN10922 equals AES-CMAC. Up to one block
    # (M of 1..15 bytes) AN10922 still pads to 32 bytes, where CMAC uses one block.
    for length in (16, 20, 31):
        m = bytes(range(1, length + 1))
        assert an10922_diversify(AN10922_MASTER, m) == std_cmac(AN10922_MASTER, b"\x01" + m)
    for length in (1, 7, 15):
        m = bytes(range(1, length + 1))
        assert an10922_diversify(AN10922_MASTER, m) != std_cmac(AN10922_MASTER, b"\x01" + m)


def test_an10922_rejects_bad_lengths():
    with pytest.raises(ValueError):
        an10922_diversify(AN10922_MASTER, b"")
    with pytest.raises(ValueError):
        an10922_diversify(AN10922_MASTER, bytes(32))
    with pytest.raises(ValueError):
        an10922_diversify(AN10922_MASTER[:8], b"x")


def test_default_system_identifier_and_per_card_keys_differ():
    keys = SunKeys(ZERO, AN10922_MASTER)
    assert keys.system_identifier == DEFAULT_SYSTEM_IDENTIFIER == b"ConnectedStore"
    assert keys.for_card(AN10922_UID) == an10922_diversify(AN10922_MASTER, AN10922_UID + b"ConnectedStore")
    assert keys.for_card(AN10922_UID) != keys.for_card(h("04000000000001"))
    assert SunKeys.fixed(ZERO, AN10922_MASTER).for_card(AN10922_UID) == AN10922_MASTER


def test_sun_keys_validate_and_never_show_keys():
    secret = h("DEADBEEF" * 4)
    for keys in (SunKeys(secret, secret), SunKeys.fixed(secret, secret)):
        assert "dead" not in repr(keys).lower() and "\\xde" not in repr(keys)
    with pytest.raises(ValueError):
        SunKeys(ZERO[:15], ZERO)
    with pytest.raises(ValueError):
        SunKeys(ZERO, ZERO, b"x" * 25)  # UID + identifier must fit AN10922's 31 bytes
    with pytest.raises(ValueError):
        SunKeys(ZERO)
    with pytest.raises(ValueError):
        SunKeys(ZERO, ZERO, file_read_key=ZERO)
    with pytest.raises(ValueError):
        SunKeys(ZERO, ZERO).for_card(b"\x04\x01\x02\x03")


def test_sun_keys_from_credentials(tmp_path):
    (tmp_path / "sun-meta-read-key").write_text("00" * 16 + "\n")
    env = {"CREDENTIALS_DIRECTORY": str(tmp_path), "CS_SUN_FILE_READ_MASTER_KEY": AN10922_MASTER.hex()}
    keys = SunKeys.from_credentials(Credentials(env), AN10922_AID + AN10922_SYSTEM_IDENTIFIER)
    assert keys.meta_read_key == ZERO
    assert keys.for_card(AN10922_UID) == AN10922_KEY
    with pytest.raises(CredentialError):
        SunKeys.from_credentials(Credentials({"CS_SUN_META_READ_KEY": "00" * 16}))
    with pytest.raises(CredentialError):
        SunKeys.from_credentials(Credentials({"CS_SUN_META_READ_KEY": "00", "CS_SUN_FILE_READ_MASTER_KEY": "00" * 16}))


# --- round trips --------------------------------------------------------------

keys16 = st.binary(min_size=16, max_size=16)
uids = st.binary(min_size=7, max_size=7)
counters = st.integers(min_value=0, max_value=0xFFFFFF)


@settings(max_examples=200)
@given(uid=uids, counter=counters, meta=keys16, file=keys16, mac_input=st.binary(max_size=80))
def test_make_sun_message_round_trips(uid, counter, meta, file, mac_input):
    picc_hex, mac_hex = make_sun_message(uid, counter, meta, file, mac_input)
    assert len(picc_hex) == 32 and len(mac_hex) == 16 and picc_hex == picc_hex.upper()
    result = verify_sun_message(h(picc_hex), h(mac_hex), SunKeys.fixed(meta, file), counter - 1, mac_input)
    assert (result.uid, result.counter) == (uid, counter)
    assert decrypt_picc_data(meta, h(picc_hex)) == PiccData(uid=uid, counter=counter)


@settings(max_examples=100)
@given(
    uid=uids,
    counter=counters,
    meta=keys16,
    master=keys16,
    naming=st.sampled_from(["picc_data", "e"]),
    base=st.sampled_from(["https://cs.example/t", "https://cs.example/t?store=7", "http://h/", "https://h/p?"]),
)
def test_sun_url_round_trips_with_diversified_keys(uid, counter, meta, master, naming, base):
    keys = SunKeys(meta, master)
    url = sun_url(base, uid, counter, keys, naming=naming)
    assert f"{naming}=" in url
    assert verify_sun(url, keys, None) == SunResult(uid=uid, counter=counter)
    # Another card's file key (another master) does not verify it.
    with pytest.raises(SunMacError):
        verify_sun(url, SunKeys(meta, bytes(b ^ 1 for b in master)), None)


def test_padding_is_random_like_the_chip():
    encs = {make_sun_message(AN_UID, 5, ZERO, ZERO)[0] for _ in range(20)}
    assert len(encs) == 20
    for enc in encs:
        verify_sun(f"https://x/?e={enc}&c={make_sun_message(AN_UID, 5, ZERO, ZERO)[1]}", ZERO_KEYS, 4)


def test_card_side_rejects_bad_arguments():
    with pytest.raises(ValueError):
        make_sun_message(AN_UID[:6], 1, ZERO, ZERO)
    with pytest.raises(ValueError):
        make_sun_message(AN_UID, 0x1000000, ZERO, ZERO)
    with pytest.raises(ValueError):
        make_sun_message(AN_UID, -1, ZERO, ZERO)
    with pytest.raises(ValueError):
        make_sun_message(AN_UID, 1, ZERO, ZERO, padding=b"\x00")
    with pytest.raises(ValueError):
        sun_url("https://x/", AN_UID, 1, ZERO_KEYS, naming="sun")


# --- URL conventions ------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        AN_URL,
        AN_URL.lower(),
        f"https://x.test/t?picc_data={AN_ENC}&cmac={AN_MAC}",
        f"https://x.test/t?cmac={AN_MAC.lower()}&store=3&picc_data={AN_ENC}",
        f"https://x.test/t?e={AN_ENC}&store=3&c={AN_MAC}#top",
    ],
)
def test_both_parameter_conventions_and_hex_cases_verify(url):
    assert parse_sun_url(url)[0].upper() == AN_ENC
    assert verify_sun(url, ZERO_KEYS, 60) == SunResult(uid=AN_UID, counter=61)


# --- replay ----------------------------------------------------------------------


@pytest.mark.parametrize("last", [61, 62, 0xFFFFFF])
def test_replayed_or_equal_counter_is_refused_after_the_mac_checks(last):
    with pytest.raises(SunReplayError) as info:
        verify_sun(AN_URL, ZERO_KEYS, last_counter=last)
    assert info.value.reason == "replayed-counter"
    assert (info.value.uid, info.value.counter, info.value.last_counter) == (AN_UID, 61, last)
    assert_no_uid(str(info.value), [AN_UID], "the error")


@pytest.mark.parametrize("last", [None, -1, 0, 60])
def test_counter_strictly_above_the_last_is_accepted(last):
    assert verify_sun(AN_URL, ZERO_KEYS, last_counter=last).counter == 61


def test_forged_message_with_old_counter_is_bad_mac_not_replay():
    bad = AN_URL[:-1] + ("7" if AN_URL[-1] != "7" else "8")
    with pytest.raises(SunMacError):
        verify_sun(bad, ZERO_KEYS, last_counter=100)


# --- tampering: every bit ----------------------------------------------------------


@pytest.mark.parametrize("naming", ["picc_data", "e"])
def test_every_single_bit_flip_of_picc_data_is_refused(naming):
    picc_name, mac_name = ("picc_data", "cmac") if naming == "picc_data" else ("e", "c")
    reasons = set()
    for bit in range(128):
        url = f"https://x.test/?{picc_name}={flip_hex_bit(AN_ENC, bit)}&{mac_name}={AN_MAC}"
        with pytest.raises((SunPiccDataError, SunMacError)) as info:
            verify_sun(url, ZERO_KEYS, None)
        reasons.add(info.value.reason)
    assert reasons <= {"bad-picc-tag", "bad-mac"}


@pytest.mark.parametrize("naming", ["picc_data", "e"])
def test_every_single_bit_flip_of_the_mac_is_refused(naming):
    picc_name, mac_name = ("picc_data", "cmac") if naming == "picc_data" else ("e", "c")
    for bit in range(64):
        url = f"https://x.test/?{picc_name}={AN_ENC}&{mac_name}={flip_hex_bit(AN_MAC, bit)}"
        with pytest.raises(SunMacError) as info:
            verify_sun(url, ZERO_KEYS, None)
        assert info.value.reason == "bad-mac"


@settings(max_examples=50)
@given(uid=uids, counter=counters, meta=keys16, master=keys16, bit=st.integers(0, 191))
def test_every_bit_flip_of_a_diversified_message_is_refused(uid, counter, meta, master, bit):
    keys = SunKeys(meta, master)
    picc_hex, mac_hex = make_sun_message(uid, counter, meta, keys.for_card(uid))
    if bit < 128:
        picc_hex = flip_hex_bit(picc_hex, bit)
    else:
        mac_hex = flip_hex_bit(mac_hex, bit - 128)
    with pytest.raises((SunPiccDataError, SunMacError)):
        verify_sun(f"https://x/?e={picc_hex}&c={mac_hex}", keys, None)


# --- PICCDataTag ------------------------------------------------------------------


@pytest.mark.parametrize(
    "tag",
    [
        0x87,  # no counter mirrored: no replay protection
        0x47,  # no UID mirrored
        0xC4,  # 4-byte UID
        0xCA,  # 10-byte UID
        0xD7,  # RFU bit 4
        0xE7,  # RFU bit 5
        0x00,
    ],
)
def test_bad_picc_data_tags_are_refused(tag):
    enc = ecb_encrypt(ZERO, bytes([tag]) + AN_PLAIN[1:])
    with pytest.raises(SunPiccDataError) as info:
        decrypt_picc_data(ZERO, enc)
    assert info.value.reason == "bad-picc-tag"


def test_wrong_meta_read_key_is_bad_picc_tag():
    wrong = h("000102030405060708090A0B0C0D0E0F")
    with pytest.raises(SunPiccDataError):
        verify_sun(AN_URL, SunKeys.fixed(wrong, ZERO), None)


def test_decrypt_refuses_wrong_length():
    with pytest.raises(SunFormatError) as info:
        decrypt_picc_data(ZERO, h(AN_ENC)[:15])
    assert info.value.reason == "bad-length"
    with pytest.raises(SunFormatError):
        verify_sun_message(h(AN_ENC), h(AN_MAC)[:7], ZERO_KEYS, None)


# --- malformed URLs -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://x.test/", "missing-parameter"),
        (f"https://x.test/?cmac={AN_MAC}", "missing-parameter"),
        (f"https://x.test/?picc_data={AN_ENC}", "missing-parameter"),
        (f"https://x.test/?e={AN_ENC}", "missing-parameter"),
        (f"https://x.test/?picc_data={AN_ENC}&c={AN_MAC}", "missing-parameter"),  # conventions don't mix
        (f"https://x.test/?e={AN_ENC}&cmac={AN_MAC}", "missing-parameter"),
        (f"https://x.test/?PICC_DATA={AN_ENC}&CMAC={AN_MAC}", "missing-parameter"),
        (f"https://x.test/#e={AN_ENC}&c={AN_MAC}", "missing-parameter"),
        (f"https://x.test/?e={AN_ENC}&e={AN_ENC}&c={AN_MAC}", "duplicate-parameter"),
        (f"https://x.test/?e={AN_ENC}&c={AN_MAC}&c={AN_MAC}", "duplicate-parameter"),
        (f"https://x.test/?e={AN_ENC}&c={AN_MAC}&picc_data={AN_ENC}&cmac={AN_MAC}", "duplicate-parameter"),
        (f"https://x.test/?e={AN_ENC[:-1]}G&c={AN_MAC}", "bad-hex"),
        (f"https://x.test/?e={AN_ENC}&c={AN_MAC[:-1]}z", "bad-hex"),
        (f"https://x.test/?e={AN_ENC[:-2]}%20%20&c={AN_MAC}", "bad-hex"),  # bytes.fromhex would skip spaces
        (f"https://x.test/?e=0x{AN_ENC[2:]}&c={AN_MAC}", "bad-hex"),
        (f"https://x.test/?e={AN_ENC[:-2]}\u0661\u0662&c={AN_MAC}", "bad-hex"),  # Arabic-Indic digits
        (f"https://x.test/?e={AN_ENC}&c={AN_MAC}%0A", "bad-hex"),
        (f"https://x.test/?e={AN_ENC}00&c={AN_MAC}", "bad-length"),
        (f"https://x.test/?e={AN_ENC[:-2]}&c={AN_MAC}", "bad-length"),
        (f"https://x.test/?e={AN_ENC[:-1]}&c={AN_MAC}", "bad-length"),
        (f"https://x.test/?e={AN_ENC}&c={AN_MAC}00", "bad-length"),
        (f"https://x.test/?e={AN_ENC}&c={AN_MAC[:-2]}", "bad-length"),
        (f"https://x.test/?e=&c={AN_MAC}", "bad-length"),
        (f"https://x.test/?e={AN_ENC}&c=", "bad-length"),
        ("http://[::1/?e=1&c=2", "bad-url"),
        (f"https://x.test/{'a' * 3000}?e={AN_ENC}&c={AN_MAC}", "bad-url"),
        ("https://x.test/?" + "&".join(f"p{i}=1" for i in range(100)), "bad-url"),
        (None, "bad-url"),
        (b"https://x.test/", "bad-url"),
    ],
)
def test_malformed_urls_are_refused_with_their_reason(url, reason):
    with pytest.raises(SunFormatError) as info:
        verify_sun(url, ZERO_KEYS, None)
    assert info.value.reason == reason
    assert verify_sun_command(url, ZERO.hex(), ZERO.hex()) == {
        "valid": False,
        "reason": reason,
        "uid": None,
        "counter": None,
    }


def test_sun_errors_belong_to_the_agent_exception_family():
    for cls in (SunFormatError, SunPiccDataError, SunMacError, SunReplayError):
        assert issubclass(cls, SunError) and issubclass(cls, EdgeAgentError)


# --- the CLI's JSON --------------------------------------------------------------------


def test_verify_sun_command_valid():
    assert verify_sun_command(AN_URL, "00" * 16, "00" * 16) == {"valid": True, "uid": "04de5f1eacc040", "counter": 61}


def test_verify_sun_command_bad_mac_gives_no_uid():
    bad = f"https://x.test/?e={AN_ENC}&c={flip_hex_bit(AN_MAC, 0)}"
    assert verify_sun_command(bad, "00" * 16, "00" * 16) == {
        "valid": False,
        "reason": "bad-mac",
        "uid": None,
        "counter": None,
    }


def test_verify_sun_command_replay_gives_the_authentic_uid_and_counter():
    assert verify_sun_command(AN_URL, "00" * 16, "00" * 16, last_counter=61) == {
        "valid": False,
        "reason": "replayed-counter",
        "uid": "04de5f1eacc040",
        "counter": 61,
    }


def test_verify_sun_command_with_a_master_key_diversifies():
    keys = SunKeys(ZERO, AN10922_MASTER)
    url = sun_url("https://cs.example/t", AN_UID, 7, keys, naming="e")
    master_hex = AN10922_MASTER.hex().upper()
    assert verify_sun_command(url, "00" * 16, master_hex, file_key_is_master=True)["valid"] is True
    assert verify_sun_command(url, "00" * 16, master_hex)["reason"] == "bad-mac"


@pytest.mark.parametrize("bad", ["", "00" * 15, "00" * 17, "zz" * 16, None])
def test_verify_sun_command_refuses_malformed_keys_without_echoing_them(bad):
    with pytest.raises(CredentialError) as info:
        verify_sun_command(AN_URL, bad, "00" * 16)
    if bad:
        assert bad not in str(info.value)
    with pytest.raises(CredentialError):
        verify_sun_command(AN_URL, "00" * 16, bad)


def test_results_do_not_show_the_uid():
    result = verify_sun(AN_URL, ZERO_KEYS, None)
    picc = decrypt_picc_data(ZERO, h(AN_ENC))
    for text in (repr(result), str(result), repr(picc)):
        assert_no_uid(text, [AN_UID], "a result's repr")
        assert "\\xde" not in text
