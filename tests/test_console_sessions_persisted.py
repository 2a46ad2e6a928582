"""Console logins outlast a restart of the console: kept in its SQLite under the SHA-256 of the cookie token,
never the token (edge_agent/console/sessions_store.py). A restarted console process still knows the browser's
cookie and its CSRF token; logging out, the idle time and central removing the member still end it, restart or
not; the database file holds no token a copy of it could log in with."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx

from edge_agent.console.database import ConsoleDatabase
from edge_agent.console.sessions import Sessions
from edge_agent.console.sessions_store import SessionStore
from edge_agent.contract import PUSHES, StaffRole
from tests.support.agent import new_store_id
from tests.support.console import ConsoleProcess, staff_push, write_console_config
from tests.support.mqtt import Publisher

WAIT = 60


def _sessions(path: Path, now: list[float]) -> Sessions:
    return Sessions(idle_s=600, clock=lambda: now[0], store=SessionStore(ConsoleDatabase(path)))


def test_a_login_is_found_again_after_a_restart_and_the_database_holds_no_token(tmp_path: Path):
    now = [1_800_000_000.0]
    path = tmp_path / "console.db"
    first = _sessions(path, now)
    anna = first.start("s-anna", "Anna", StaffRole.MANAGER)
    bob = first.start("s-bob", "Bob", StaffRole.STAFF)
    now[0] += 30
    again = _sessions(path, now)  # a new console process on the same file
    found = again.find(anna.token)
    assert found is not None and (found.id, found.staff, found.role, found.csrf) == (
        anna.id, "s-anna", StaffRole.MANAGER, anna.csrf)
    assert again.find("not-a-token") is None
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("console.db"))
    assert anna.token.encode() not in raw and bob.token.encode() not in raw
    # Logout and central's removal end a login in the store too: the next restart does not bring it back.
    assert again.end(anna.token) is not None
    assert again.end_staff("s-bob") == 1
    third = _sessions(path, now)
    assert third.find(anna.token) is None and third.find(bob.token) is None


def test_a_login_idle_too_long_across_a_restart_is_over(tmp_path: Path):
    now = [1_800_000_000.0]
    path = tmp_path / "console.db"
    anna = _sessions(path, now).start("s-anna", "Anna", StaffRole.STAFF)
    now[0] += 601
    assert _sessions(path, now).find(anna.token) is None


def test_a_console_restart_keeps_the_browser_logged_in_with_its_csrf_token(mosquitto, tmp_path: Path):
    store = new_store_id()
    config, port = write_console_config(tmp_path / "console", mosquitto.port, store)
    console = ConsoleProcess(config, port, tmp_path / "console.log").start()
    publisher = Publisher(mosquitto.port)
    client = httpx.Client(base_url=console.url, verify=False, headers={"Accept": "text/html"}, timeout=30)
    try:
        publisher.publish(PUSHES["staff"].topic_for(store), staff_push("s-anna", "2468"), qos=1)
        deadline = time.monotonic() + WAIT
        while True:
            token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
            if client.post("/login", data={"staff": "s-anna", "pin": "2468", "csrf": token}).status_code == 303:
                break
            assert time.monotonic() < deadline, f"no login:\n{console.log()}"
            time.sleep(0.5)
        home = client.get("/")
        assert home.status_code == 200 and "Anna" in home.text
        csrf = re.search(r'name="csrf" value="([^"]+)"', home.text).group(1)

        console.stop()
        console = ConsoleProcess(config, port, tmp_path / "console.log").start()
        again = client.get("/")
        assert again.status_code == 200 and "Anna" in again.text, "logged out by a restart"
        assert re.search(r'name="csrf" value="([^"]+)"', again.text).group(1) == csrf
        logout = client.post("/logout", data={"csrf": csrf})
        assert logout.status_code == 303 and logout.headers["location"] == "/login"
        assert client.get("/").status_code == 303  # to the login page: the login is over
    finally:
        client.close()
        publisher.close()
        console.stop()
