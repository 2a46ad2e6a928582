"""Damaged or unsafe state on disk: a clear word naming the file and what is wrong, never a traceback or nothing.

Real files throughout: a database that is a folder, whose folder cannot be made, with a garbage header,
truncated, or whose pages fail ``quick_check``; secrets and configuration files with the modes an operator's
slip gives them. The agent is the real ``edge-agent run`` against the shared Mosquitto where it matters.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from edge_agent.config import load_config
from edge_agent.credentials import Credentials
from edge_agent.errors import CredentialError
from edge_agent.problems import EXIT_FAILURE
from edge_agent.store import Store, StoreError
from tests.support.agent import ROOT, write_config
from tests.support.mqtt import Capture

# --------------------------------------------------------------------------- the database file


def a_database(path: Path, rows: int = 2000) -> bytes:
    """A real agent database with ``rows`` rows of some size (so it spans pages), checkpointed; its bytes."""
    store = Store(path)
    with store.transaction() as conn:
        conn.execute("CREATE TABLE filler (text TEXT)")
        conn.executemany("INSERT INTO filler VALUES (?)", [("x" * 200 + str(i),) for i in range(rows)])
    store.close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return path.read_bytes()


def garbage_header(path: Path) -> None:
    path.write_bytes(b"this is not an SQLite database, it is a log file that got in the way\n" * 100)


def truncated(path: Path) -> None:
    data = a_database(path)
    path.write_bytes(data[:len(data) // 2])


def freelist_broken(path: Path) -> None:
    # The header says five pages are free while the freelist holds none: every query still works, only a
    # check finds it (before, the agent started on such a file without a word).
    data = bytearray(a_database(path))
    data[36:40] = (5).to_bytes(4, "big")
    path.write_bytes(bytes(data))


def pages_overwritten(path: Path) -> None:
    data = bytearray(a_database(path))
    for offset in range(4096 * 20, 4096 * 21, 7):
        data[offset] = 0x55
    path.write_bytes(bytes(data))


DAMAGES = {
    "garbage-header": (garbage_header, "file is not a database (it does not start with 'SQLite format 3')"),
    "truncated": (truncated, "database disk image is malformed"),
    "freelist": (freelist_broken, "quick_check: Main freelist: size is 0 but should be 5"),
    "pages": (pages_overwritten, "database disk image is malformed"),
}


@pytest.mark.parametrize("damage", DAMAGES, ids=list(DAMAGES))
def test_a_damaged_database_is_moved_aside_and_the_store_starts_empty(tmp_path, damage, caplog):
    spoil, reason = DAMAGES[damage]
    path = tmp_path / "agent.db"
    spoil(path)
    damaged_bytes = path.read_bytes()
    store = Store(path)
    try:
        assert store.damaged is not None and store.damaged.path == path
        assert store.damaged.reason.startswith(reason), store.damaged.reason
        moved = store.damaged.moved_to
        assert moved.parent == tmp_path and moved.name.startswith("agent.db.damaged-")
        assert moved.read_bytes() == damaged_bytes  # kept as it was, for whoever wants to look at it
        message = f"database {path} was damaged ({store.damaged.reason}); moved to {moved} and started empty"
        assert message in caplog.text
        with store.reading() as conn:  # a fresh database, migrated
            assert conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"
            assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'filler'").fetchone()[0] == 0
    finally:
        store.close()
    again = Store(path)  # the fresh one is sound: nothing moved at the next start
    assert again.damaged is None and sorted(p.name for p in tmp_path.glob("agent.db.damaged-*")) == [moved.name]
    again.close()


def test_a_sound_database_with_a_wal_is_not_moved_aside(tmp_path):
    path = tmp_path / "agent.db"
    store = Store(path)
    with store.transaction() as conn:
        conn.execute("CREATE TABLE kept (x)")
        conn.execute("INSERT INTO kept VALUES (1)")
    again = Store(path)  # the first is still open: its WAL is there
    try:
        assert again.damaged is None
        with again.reading() as conn:
            assert conn.execute("SELECT x FROM kept").fetchall() == [(1,)]
    finally:
        again.close()
        store.close()


def test_a_damaged_database_with_its_wal_moves_both_aside(tmp_path):
    path = tmp_path / "agent.db"
    garbage_header(path)
    (tmp_path / "agent.db-wal").write_bytes(b"half a WAL")
    store = Store(path)
    moved = store.damaged.moved_to
    store.close()
    assert moved.with_name(moved.name + "-wal").read_bytes() == b"half a WAL"


def test_a_database_path_that_is_a_folder_is_refused_naming_it(tmp_path):
    (tmp_path / "agent.db").mkdir()
    with pytest.raises(StoreError) as caught:
        Store(tmp_path / "agent.db")
    assert str(caught.value) == f"database {tmp_path / 'agent.db'}: is a folder, not a database file"
    assert (tmp_path / "agent.db").is_dir()  # nothing moved: it is not a damaged database


def test_a_database_folder_that_cannot_be_created_is_refused_naming_it(tmp_path):
    (tmp_path / "state").write_text("a file where the folder should be")
    with pytest.raises(StoreError) as caught:
        Store(tmp_path / "state" / "agent.db")
    assert str(caught.value) == (f"database {tmp_path / 'state' / 'agent.db'}: {tmp_path / 'state'} "
                                 f"is not a folder")


def run_agent(config: Path, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edge_agent", "run", "-c", str(config)], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, env=env)


def test_the_agent_on_a_database_folder_exits_1_naming_the_file_without_a_traceback(tmp_path):
    config, parsed = write_config(tmp_path, 1)  # the broker is never reached: the database comes first
    parsed.database.path.mkdir()
    result = run_agent(config)
    assert result.returncode == EXIT_FAILURE, result.stderr
    assert result.stderr.strip() == f"error: database {parsed.database.path}: is a folder, not a database file"


def test_the_agent_on_a_damaged_database_starts_empty_and_tells_central(tmp_path, mosquitto, agent_process):
    config, parsed = write_config(tmp_path, mosquitto.port)
    freelist_broken(parsed.database.path)
    topics_root = f"cs/v1/{parsed.store.id}/{parsed.device.id}"
    capture = Capture(mosquitto.port, [f"{topics_root}/event/error", f"{topics_root}/state"])
    try:
        agent = agent_process(config)
        errors = capture.wait_topic("/event/error", 1, timeout=30)
        event = json.loads(errors[0].payload)["data"]
        moved = sorted(tmp_path.glob(f"{parsed.database.path.name}.damaged-*"))
        assert len(moved) == 1
        assert event["topic"] == f"cs/v1/central/{parsed.store.id}/"  # what central pushed there is gone
        assert event["reason"] == (f"database {parsed.database.path} was damaged (quick_check: Main freelist: size "
                                   f"is 0 but should be 5); moved to {moved[0]} and started empty: central must "
                                   f"push this store's data again")
        assert agent.alive
        assert "Traceback" not in agent.log()
        assert re.search(rf"ERROR +MainThread edge_agent.store: database {re.escape(str(parsed.database.path))} "
                         rf"was damaged", agent.log())
    finally:
        capture.close()


# --------------------------------------------------------------------------- secrets


def secret(folder: Path, folder_mode: int, file_mode: int, name: str = "mqtt-password") -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text("s3cret\n")
    path.chmod(file_mode)
    folder.chmod(folder_mode)
    return path


@pytest.mark.parametrize("folder_mode, file_mode", [(0o500, 0o400), (0o700, 0o600), (0o700, 0o644), (0o755, 0o600),
                                                    (0o750, 0o640)])
def test_secrets_only_their_owner_can_read_are_used(tmp_path, folder_mode, file_mode):
    secret(tmp_path / "credentials", folder_mode, file_mode)
    try:
        assert Credentials({"CREDENTIALS_DIRECTORY": str(tmp_path / "credentials")}).get("mqtt-password") == "s3cret"
    finally:
        (tmp_path / "credentials").chmod(0o700)


@pytest.mark.parametrize("folder_mode, file_mode, problem", [
    (0o755, 0o644, ("{file} is readable by everyone (mode 0644, folder 0755): chmod 600 {file}, or chmod 700 "
                   "{folder}")),
    (0o777, 0o600, "its folder {folder} is writable by others (mode 0777): chmod o-w {folder}"),
    (0o700, 0o666, "{file} is writable by others (mode 0666): chmod go-w {file}"),
    (0o700, 0o620, "{file} is writable by others (mode 0620): chmod go-w {file}"),
], ids=["readable-by-everyone", "folder-writable", "file-writable", "file-group-writable"])
def test_a_secret_others_may_read_or_replace_is_refused_naming_it(tmp_path, folder_mode, file_mode, problem):
    folder = tmp_path / "credentials"
    path = secret(folder, folder_mode, file_mode)
    try:
        with pytest.raises(CredentialError) as caught:
            Credentials({"CREDENTIALS_DIRECTORY": str(folder)}).get("mqtt-password")
    finally:
        folder.chmod(0o700)
    assert str(caught.value) == ("credential 'mqtt-password' is not private and was not used: "
                                 + problem.format(file=path, folder=folder))
    assert "s3cret" not in str(caught.value)


def test_the_agent_with_a_key_readable_by_everyone_exits_1_naming_it(tmp_path):
    config, _parsed = write_config(tmp_path, 1, extra='[nfc]\ndevice = "udp:127.0.0.1:1"\n')
    key = secret(tmp_path / "credentials", 0o755, 0o644, name="store-hmac-key")
    key.write_text("00" * 32)
    env = {name: value for name, value in os.environ.items() if not name.startswith("CS_")}
    result = run_agent(config, env={**env, "CREDENTIALS_DIRECTORY": str(tmp_path / "credentials")})
    assert result.returncode == EXIT_FAILURE, result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: credential 'store-hmac-key' is not private and was not used: {key} is readable by everyone "
        f"(mode 0644, folder 0755): chmod 600 {key}, or chmod 700 {tmp_path / 'credentials'}")


# --------------------------------------------------------------------------- the configuration file


def test_a_config_file_others_may_change_is_used_with_a_warning_naming_it(tmp_path, caplog):
    config, _parsed = write_config(tmp_path, 1883)
    config.chmod(0o666)
    assert load_config(config).store.id == _parsed.store.id
    assert (f"{config}: writable by others (mode 0666): whoever can change it controls the agent; chmod go-w "
            f"{config}") in caplog.text
    caplog.clear()
    config.chmod(0o664)
    load_config(config)
    assert f"{config}: writable by its group (mode 0664)" in caplog.text
    caplog.clear()
    config.chmod(0o644)
    load_config(config)
    assert caplog.text == ""


def test_a_config_file_in_a_folder_others_may_write_to_is_warned_about(tmp_path, caplog):
    folder = tmp_path / "etc"
    folder.mkdir()
    config, _parsed = write_config(folder, 1883)
    config.chmod(0o644)
    folder.chmod(0o777)
    try:
        load_config(config)
    finally:
        folder.chmod(0o755)
    assert (f"{config}: its folder {folder} is writable by others (mode 0777): anyone may replace the file; "
            f"chmod o-w {folder}") in caplog.text


def test_validate_config_shows_the_permission_warning(tmp_path):
    config, _parsed = write_config(tmp_path, 1883)
    config.chmod(0o666)
    result = subprocess.run([sys.executable, "-m", "edge_agent", "validate-config", str(config)], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert f"{config}: writable by others (mode 0666)" in result.stderr
