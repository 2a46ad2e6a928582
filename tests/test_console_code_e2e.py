"""The one-time code from a badge, end to end: Anna taps her staff badge at a real kiosk (Xvfb, nfcpy's UDP reader
with an emulated card), types her PIN, asks for "Code voor de telefoon"; the kiosk shows eight digits; she types
them on the console's login page in Chromium at phone size and is logged in. The same code again is refused; a
code left to expire is refused; wrong codes count toward the lockout. The code is in no log of the agent or the
console, and on the broker only in the agent's answer to its own kiosk (the console gets a verifier).

Real pieces: Mosquitto, the agent (in process), the kiosk app, the console process, Chromium.
"""

from __future__ import annotations

import json
import re
import time

import pytest
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from edge_agent.contract import EVENTS
from tests.support.agent import new_store_id
from tests.support.cards import STAFF_UID
from tests.support.console import PHONE, ConsoleProcess, browser, screenshot, write_console_config
from tests.test_staff_kiosk_e2e import ANNA_PIN, World, xvfb  # noqa: F401 (xvfb: the module's display fixture)

WAIT = 60
CODE = re.compile(r"^([0-9]{4}) ([0-9]{4})$")


def _wait(driver, predicate):
    return WebDriverWait(driver, WAIT, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)
                         ).until(predicate)


@pytest.fixture
def world(mosquitto, make_config, capture, xvfb, tmp_path):  # noqa: F811 (the imported fixture, by name)
    store = new_store_id()
    console_config, port = write_console_config(tmp_path / "console", mosquitto.port, store)
    console = ConsoleProcess(console_config, port, tmp_path / "console.log").start()
    def same_store(broker, extra="", store=None):  # World's agent in the console's store
        return make_config(broker, extra, store=console_store)

    console_store = store
    world = World(mosquitto, same_store, capture, xvfb, tmp_path)
    deadline = time.monotonic() + WAIT
    while "staff record s-anna version 1 applied" not in console.log():  # central's records reached the console
        assert time.monotonic() < deadline, f"the console never got Anna's record ({store}):\n{console.log()}"
        time.sleep(0.1)
    driver = browser(*PHONE)
    yield world, console, driver
    driver.quit()
    world.close()
    console.stop()


def _kiosk_code(world: World) -> str:
    """Ask for a code on the staff home; the eight digits the kiosk shows."""
    kiosk = world.kiosk
    assert kiosk is not None
    before = {text for text in (kiosk.status() or {}).get("texts", []) if CODE.match(text)}
    kiosk.click("staff-console-code")
    status = kiosk.wait(lambda s: any(CODE.match(t) and t not in before for t in s["texts"]), timeout=30)
    shown = next(t for t in status["texts"] if CODE.match(t) and t not in before)
    return shown.replace(" ", "")


def _type_code(driver, url: str, code: str) -> str:
    """Log in with ``code`` on a fresh login page; "in" when logged in, else the page's alert text."""
    driver.delete_all_cookies()
    driver.get(url + "/login")
    field = _wait(driver, lambda d: d.find_element(By.ID, "code"))
    field.send_keys(f"{code[:4]} {code[4:]}")
    driver.find_element(By.ID, "code-login").click()
    _wait(driver, lambda d: d.find_elements(By.CLASS_NAME, "who") or d.find_elements(By.CSS_SELECTOR, "[role=alert]"))
    if driver.find_elements(By.CLASS_NAME, "who"):
        return "in"
    return driver.find_element(By.CSS_SELECTOR, "[role=alert]").text


def _console_audits(world: World, store: str) -> list[dict]:
    topic = EVENTS["staff-audit"].topic_for(store, "console")
    return [json.loads(m.payload)["data"] for m in world.cap.messages if m.topic == topic]


def test_a_code_from_the_kiosk_logs_in_on_the_phone_once_and_not_again_nor_after_it_expired(world):
    world, console, driver = world
    store = world.config.store.id
    kiosk = world.start_kiosk("800x480")
    world.tap(STAFF_UID)
    kiosk.wait_screen("staff-pin", "Voer uw pincode in", timeout=20)
    world.pin(ANNA_PIN)
    kiosk.wait_screen("staff", "Anna · Manager", timeout=15)

    code = _kiosk_code(world)
    status = kiosk.wait_screen("staff", "Typ deze code op de telefoon")
    kiosk.keep(status, "staff-home-console-code")
    # The console got the offer (a verifier, never the code) before the phone types it.
    offer = world.cap.wait_topic("/local/console-code", timeout=WAIT)[0]
    assert offer.topic == f"cs/v1/{store}/{world.config.device.id}/local/console-code", offer.topic
    deadline = time.monotonic() + WAIT
    while "console code offer" not in console.log():
        assert time.monotonic() < deadline, f"the console never took the offer:\n{console.log()}"
        time.sleep(0.1)
    assert code not in offer.payload.decode() and "$argon2id$" in offer.json()["data"]["verifier"]
    assert not offer.retain

    assert _type_code(driver, console.url, code) == "in"
    assert "Anna" in driver.find_element(By.CLASS_NAME, "who").text
    screenshot(driver, "phone-logged-in-with-kiosk-code")
    # Once only: the same code again is refused.
    assert _type_code(driver, console.url, code) == "Onbekende of verlopen code."
    screenshot(driver, "phone-kiosk-code-refused")

    # A code left to expire is refused (the agent's validity shortened, so the test need not wait two minutes).
    assert world.agent is not None and world.agent.staff is not None
    world.agent.staff.console_codes.valid_s = 2.0
    expired = _kiosk_code(world)
    # The kiosk takes it off the screen once it expired (its valid_until, on the same clock as the console's).
    kiosk.wait(lambda s: not any(CODE.match(t) for t in s["texts"]), timeout=30)
    assert _type_code(driver, console.url, expired) == "Onbekende of verlopen code."

    # Every login attempt is audited under the console's level, never with the code.
    world.cap.wait_for(lambda _: [a["action"] for a in _console_audits(world, store)].count("code-attempt") >= 3,
                       timeout=WAIT)
    audits = _console_audits(world, store)
    assert ("console-code-login", "ok", "s-anna") in {(a["action"], a["result"], a["staff"]) for a in audits}
    assert [a["result"] for a in audits if a["action"] == "code-attempt"] == ["ok", "refused", "refused"]
    # The code is on the broker only in the agent's answer to its own kiosk, and in no log.
    carriers = {m.topic for m in world.cap.messages if code.encode() in m.payload}
    assert carriers == {f"cs/v1/{store}/{world.config.device.id}/local/response/staff-console-code"}, carriers
    assert code not in console.log() and code not in kiosk.log()


def test_five_wrong_codes_lock_the_phone_out_even_for_the_right_code(world):
    world, console, driver = world
    kiosk = world.start_kiosk("800x480")
    world.tap(STAFF_UID)
    kiosk.wait_screen("staff-pin", "Voer uw pincode in", timeout=20)
    world.pin(ANNA_PIN)
    kiosk.wait_screen("staff", "Anna · Manager", timeout=15)
    code = _kiosk_code(world)
    wrong = f"{(int(code) + 1) % 10 ** 8:08d}"
    for _ in range(4):
        assert _type_code(driver, console.url, wrong) == "Onbekende of verlopen code."
    assert _type_code(driver, console.url, wrong).startswith("Te vaak een verkeerde code")
    assert _type_code(driver, console.url, code).startswith("Te vaak een verkeerde code"), "locked: not checked"
