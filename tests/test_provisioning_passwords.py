"""Mosquitto password-file hashes written by Python (:mod:`edge_agent.provisioning.passwords`), against
Mosquitto's own tool and a real broker.

The format (``$7$<iterations>$<base64 12-byte salt>$<base64 64-byte PBKDF2-HMAC-SHA512>``) is Mosquitto's
(``mosquitto_passwd``'s default since 2.0): what ``mosquitto_passwd`` writes must verify here, and what is
written here must let a client log in to Mosquitto, at Mosquitto's default iteration count and at others.
"""

from __future__ import annotations

import base64
import hashlib
import re
import subprocess

import pytest

from edge_agent.provisioning.passwords import (
    ITERATIONS,
    check_login_name,
    hash_password,
    new_password,
    password_file,
    read_password_file,
    verify_password,
)
from tests.support.mosquitto import LoginClient, Mosquitto
from tests.support.system import ensure_installed

HASH = re.compile(r"^\$7\$(\d+)\$([A-Za-z0-9+/]{16})\$([A-Za-z0-9+/]{86}==)$")


def test_a_hash_has_mosquittos_pbkdf2_sha512_layout_and_a_fresh_salt_each_time():
    first, second = hash_password("s3cret"), hash_password("s3cret")
    match = HASH.match(first)
    assert match, first
    assert int(match.group(1)) == ITERATIONS
    salt, digest = base64.b64decode(match.group(2)), base64.b64decode(match.group(3))
    assert len(salt) == 12 and len(digest) == 64
    assert digest == hashlib.pbkdf2_hmac("sha512", b"s3cret", salt, ITERATIONS)
    assert first != second, "a new salt per hash"
    assert verify_password("s3cret", first) and not verify_password("s3cret!", first)


def test_a_hash_mosquitto_passwd_wrote_verifies_here(tmp_path):
    tool = ensure_installed("mosquitto", binary="mosquitto_passwd")
    path = tmp_path / "passwd"
    subprocess.run([tool, "-b", "-c", str(path), "kiosk-1", "agent-secret"], check=True)
    hashes = read_password_file(path.read_text())
    assert HASH.match(hashes["kiosk-1"]), "mosquitto_passwd writes the same layout"
    assert verify_password("agent-secret", hashes["kiosk-1"])
    assert not verify_password("agent-secret ", hashes["kiosk-1"])


@pytest.mark.parametrize("iterations", [101, ITERATIONS, 20_000])
def test_mosquitto_lets_in_a_login_hashed_here_and_refuses_a_wrong_password(tmp_path, iterations):
    passwd = tmp_path / "passwd"
    passwd.write_text(password_file({"kiosk-1": hash_password("agent-secret", iterations=iterations)}))
    with Mosquitto(workdir=tmp_path / "broker", extra=f"password_file {passwd}\n") as broker:
        broker.config_path.write_text(broker.config_path.read_text().replace("allow_anonymous true",
                                                                             "allow_anonymous false"))
        broker.restart()
        good = LoginClient(broker.port, "kiosk-1", "agent-secret")
        good.wait_connected()
        good.close()
        bad = LoginClient(broker.port, "kiosk-1", "agent-secret!")
        bad.disconnected.wait(30)
        assert bad.connect_result not in (None, 0), "a wrong password is refused"
        bad.close()


def test_malformed_or_foreign_hashes_never_verify():
    for encoded in ("", "$6$abc$def", "$7$x$AAAA$AAAA", "$7$10$not base64!$AAAA", "plain-text"):
        assert not verify_password("anything", encoded), encoded


def test_bad_input_is_refused_saying_what():
    with pytest.raises(ValueError, match="empty password"):
        hash_password("")
    with pytest.raises(ValueError, match="iterations"):
        hash_password("x", iterations=0)
    with pytest.raises(ValueError, match="12 bytes"):
        hash_password("x", salt=b"short")
    for name in ("a:b", "dev/1", "#", "with space", ""):
        with pytest.raises(ValueError, match="cannot be a broker login"):
            check_login_name(name)


def test_new_passwords_are_long_random_and_safe_in_a_password_file():
    passwords = {new_password() for _ in range(200)}
    assert len(passwords) == 200
    assert all(len(p) == 43 and ":" not in p and p.isprintable() for p in passwords)


def test_a_password_file_reads_back_login_by_login():
    hashes = {"kiosk-1": hash_password("a"), "kiosk-1-screen": hash_password("b")}
    assert read_password_file("# comment\n\n" + password_file(hashes)) == hashes
