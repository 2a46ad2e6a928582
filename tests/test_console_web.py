"""The store console in a real Chromium and over real HTTPS: login on a phone, lockout, CSRF, the route crawler,
the cookies' flags, a real agent on the devices page, and screenshots of every page (tests/artifacts/screens/).

One console process per module, on the session's Mosquitto, for a store of its own; central's staff records
are pushed as central does (argon2id verifiers), and the console applies them from its own subscription.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from edge_agent.console.web import build_app
from edge_agent.contract import BIRTH, CONTENT_SCHEDULE, PUSHES, STATE, encode
from tests.support.agent import new_store_id
from tests.support.console import (
    DESKTOP,
    PHONE,
    ConsoleProcess,
    browser,
    log_in,
    screenshot,
    staff_push,
    write_console_config,
)
from tests.support.mqtt import Publisher

ANNA = ("s-anna", "2468")  # staff
BOB = ("s-bob", "1357")  # manager
LOCKED = ("s-carl", "8642097")  # five wrong PINs in its test (7 digits: no port or time in a log has them)
WRONG = "9753108"
WAIT = 60


@pytest.fixture(scope="module")
def store() -> str:
    return new_store_id()


@pytest.fixture(scope="module")
def console(mosquitto, store, tmp_path_factory):
    folder = tmp_path_factory.mktemp("console")
    config, port = write_console_config(folder, mosquitto.port, store)
    process = ConsoleProcess(config, port, folder / "console.log").start()
    publisher = Publisher(mosquitto.port)
    topic = PUSHES["staff"].topic_for(store)
    publisher.publish(topic, staff_push(*ANNA, role="staff", display_name="Anna"))
    publisher.publish(topic, staff_push(*BOB, role="manager", display_name="Bob"))
    publisher.publish(topic, staff_push(*LOCKED, role="staff", display_name="Carl"))
    # A second kiosk as its agent would announce it, with a content schedule (the device page's controls).
    for message in (STATE, BIRTH, CONTENT_SCHEDULE):
        publisher.publish(message.topic_for(store, "kiosk-2"), encode(message, message.example)[1], retain=True)
    yield process
    publisher.close()
    process.stop()


def _client(console: ConsoleProcess) -> httpx.Client:
    return httpx.Client(base_url=console.url, verify=False, headers={"Accept": "text/html"}, timeout=30)


def _login_http(console: ConsoleProcess, staff: str, pin: str) -> tuple[httpx.Client, httpx.Response]:
    """Log in with httpx as a browser would (GET the form for its CSRF token, POST it); until the console has
    the staff record (pushed at the module's start)."""
    client = _client(console)
    deadline = time.monotonic() + WAIT
    while True:
        page = client.get("/login")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        response = client.post("/login", data={"staff": staff, "pin": pin, "csrf": token})
        if response.status_code == 303 or time.monotonic() > deadline:
            return client, response
        time.sleep(0.5)


def _wait(driver, predicate):
    """``predicate(driver)`` once it is truthy; a page that changes meanwhile is looked at again."""
    return WebDriverWait(driver, WAIT, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)
                         ).until(predicate)


@pytest.fixture
def phone():
    driver = browser(*PHONE)
    yield driver
    driver.quit()


def test_staff_member_logs_in_on_a_phone_sized_window_and_sees_the_overview(console, phone):
    _login_http(console, *ANNA)[0].close()  # the staff record has arrived
    log_in(phone, console.url, *ANNA)
    _wait(phone, lambda d: "Hallo" in d.find_element(By.TAG_NAME, "h1").text)
    assert "Anna" in phone.find_element(By.CLASS_NAME, "who").text
    # Phone first: the page is no wider than the window.
    assert phone.execute_script("return document.documentElement.scrollWidth") <= PHONE[0]


def test_five_wrong_pins_lock_the_staff_id_and_then_even_the_right_pin_is_refused(console, phone):
    _login_http(console, *ANNA)[0].close()
    for attempt in range(5):
        log_in(phone, console.url, LOCKED[0], WRONG)
        alert = _wait(phone, lambda d: d.find_element(By.CSS_SELECTOR, "[role=alert]"))
        expected = "Te vaak" if attempt == 4 else "verkeerde pincode"
        assert expected in alert.text, (attempt, alert.text)
    log_in(phone, console.url, *LOCKED)
    alert = _wait(phone, lambda d: d.find_element(By.CSS_SELECTOR, "[role=alert]"))
    assert "Te vaak" in alert.text
    assert phone.current_url.endswith("/login")
    assert LOCKED[1] not in console.log() and WRONG not in console.log()  # no PIN in the log


def test_a_form_posted_without_its_csrf_token_is_refused_and_changes_nothing(console):
    client, response = _login_http(console, *ANNA)
    assert response.status_code == 303
    refused = client.post("/logout", data={})
    assert refused.status_code == 403
    assert client.get("/", follow_redirects=False).status_code == 200  # still logged in: logout was not done
    wrong = client.post("/logout", data={"csrf": "not-the-token"})
    assert wrong.status_code == 403
    login_without = _client(console).post("/login", data={"staff": ANNA[0], "pin": ANNA[1]})
    assert login_without.status_code == 403
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/").text).group(1)
    assert client.post("/logout", data={"csrf": token}, follow_redirects=False).status_code == 303
    assert client.get("/", follow_redirects=False).status_code == 303  # now logged out
    client.close()


def test_a_staff_member_is_refused_the_managers_page_and_a_manager_sees_it(console):
    staff, _ = _login_http(console, *ANNA)
    refused = staff.get("/staff")
    assert refused.status_code == 403 and "manager" in refused.text
    assert 'href="/staff"' not in staff.get("/").text  # not in a staff member's menu
    manager, _ = _login_http(console, *BOB)
    page = manager.get("/staff")
    assert page.status_code == 200 and "Anna" in page.text and "Bob" in page.text
    assert "argon2" not in page.text
    staff.close()
    manager.close()


def _paths() -> list[tuple[str, str, bool]]:
    """(method, path, public) of every route of the app, path parameters filled in."""
    from starlette.routing import Mount, Route

    found = []
    for route in build_app.__globals__["routes"]():
        if isinstance(route, Mount):
            continue
        assert isinstance(route, Route)
        public = getattr(route.endpoint, "console_public", None)
        assert public is not None, f"{route.path} was not made with web.page/public_page"
        path = re.sub(r"\{[^}]+\}", "kiosk-1", route.path)
        found += [(method, path, public) for method in sorted(route.methods or ()) if method != "HEAD"]
    return found


def test_crawler_without_a_session_gets_only_the_login_page_on_every_route(console):
    routes = _paths()
    assert {path for _, path, public in routes if public} == {"/login", "/health"}
    assert len(routes) >= 8
    client = _client(console)
    for method, path, public in routes:
        if public:
            continue
        response = client.request(method, path, follow_redirects=True, data={"csrf": "x"} if method == "POST" else None)
        assert response.url.path == "/login", (method, path, response.status_code)
        assert 'name="pin"' in response.text, (method, path)
        assert 'class="device' not in response.text and "Anna" not in response.text, (method, path)  # no data
    sse = client.get("/events", headers={"Accept": "text/event-stream"})
    assert sse.status_code == 401
    client.close()


def test_login_cookie_is_httponly_samesite_strict_and_secure(console, phone):
    _, response = _login_http(console, *ANNA)
    header = response.headers["set-cookie"]
    session = next(part for part in response.headers.get_list("set-cookie") if "__Host-console-session" in part)
    flags = {flag.strip().lower() for flag in session.split(";")[1:]}
    assert {"httponly", "secure", "samesite=strict", "path=/"} <= flags, header
    log_in(phone, console.url, *ANNA)
    _wait(phone, lambda d: d.get_cookie("__Host-console-session") is not None)
    cookie = phone.get_cookie("__Host-console-session")
    assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Strict"
    assert phone.execute_script("return document.cookie").find("__Host-console-session") == -1


def test_devices_page_shows_a_real_agent_online_with_its_version(console, store, mosquitto, tmp_path,
                                                                 agent_process, phone):
    from tests.support.agent import write_config

    config, _ = write_config(tmp_path, mosquitto.port, store=store)
    agent = agent_process(config)
    _login_http(console, *ANNA)[0].close()
    log_in(phone, console.url, *ANNA)
    _wait(phone, lambda d: d.find_elements(By.CLASS_NAME, "who"))
    phone.get(console.url + "/devices")
    row = _wait(phone,
        lambda d: d.find_element(By.CSS_SELECTOR, "li.device.online[data-device='kiosk-1']"))
    assert "0.1.0" in row.text
    # Live (SSE -> the list fragment, no reload): the agent is killed, its last will turns the row offline.
    phone.execute_script("window.consoleMark = 1")
    agent.kill()
    _wait(phone, lambda d: d.find_element(By.CSS_SELECTOR, "li.device.offline[data-device='kiosk-1']"))
    assert phone.execute_script("return window.consoleMark") == 1  # the same page: updated, not reloaded


# Every page (the preview, which needs a real agent's answer, is taken in tests/test_console_content_e2e.py; the
# alerts with a call in tests/test_console_alerts_e2e.py, the charts of a generated day in
# tests/test_console_analytics_web.py; here both as a store without any yet).
PAGES = ["/login", "/", "/alerts", "/devices", "/devices/kiosk-2", "/devices/unknown", "/analytics", "/staff"]


@pytest.mark.parametrize(("label", "size"), [("phone", PHONE), ("desktop", DESKTOP)])
def test_screenshots_of_every_page_at_phone_and_desktop_width(console, label, size):
    _login_http(console, *BOB)[0].close()
    driver = browser(*size)
    try:
        driver.get(console.url + "/login")
        screenshot(driver, f"{label}-login")
        log_in(driver, console.url, *BOB)
        _wait(driver, lambda d: d.find_elements(By.CLASS_NAME, "who"))
        for path in PAGES[1:]:
            driver.get(console.url + path)
            _wait(driver, lambda d: d.find_element(By.TAG_NAME, "main"))
            name = path.strip("/").replace("/", "-") or "overview"
            shot: Path = screenshot(driver, f"{label}-{name}")
            assert shot.stat().st_size > 1000
            assert driver.execute_script("return document.documentElement.scrollWidth") <= size[0] + 1, path
    finally:
        driver.quit()
