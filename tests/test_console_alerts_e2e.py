"""Calls for staff from a real kiosk to the store console in a real Chromium, and back, end to end.

The world of tests/test_staff_kiosk_e2e.py (the agent in process with nfcpy's UDP reader and emulated cards, a
real Mosquitto, central's fixtures, the kiosk on Xvfb driven by real clicks) plus ``store-console run`` for the
same store (tests/support/console.py) and a phone-sized headless Chromium logged in as Anna (PIN 2468).

- an anonymous shopper's call appears on the alerts page live (no reload), "Ik kom eraan" makes the kiosk show
  "Anna komt eraan", "Afgehandeld" closes it at both ends; the agent audits both answers;
- a recognised shopper's call shows who she is only after she said yes at the kiosk, and the view is in her
  data-use log, which she reads at the kiosk's Mijn gegevens.
"""

from __future__ import annotations

import time

import pytest
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from edge_agent.contract import PUSHES
from tests.support.cards import SANNE_UID
from tests.support.console import PHONE, ConsoleProcess, browser, log_in, screenshot, staff_push, write_console_config
from tests.support.mqtt import Publisher
from tests.test_staff_kiosk_e2e import ANNA_PIN, World, xvfb  # noqa: F401  (xvfb: the module's display fixture)

WAIT = 60
CALL = "li.alert.assist[data-device='kiosk-1']"


def _wait(driver, predicate, timeout: float = WAIT):
    return WebDriverWait(driver, timeout, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)
                         ).until(predicate)


@pytest.fixture
def world(mosquitto, make_config, capture, xvfb, tmp_path):  # noqa: F811  (xvfb is the imported fixture)
    world = World(mosquitto, make_config, capture, xvfb, tmp_path)
    yield world
    world.close()


@pytest.fixture
def console(world, mosquitto, tmp_path):
    config, port = write_console_config(tmp_path / "console", mosquitto.port, world.config.store.id)
    process = ConsoleProcess(config, port, tmp_path / "console" / "console.log").start()
    publisher = Publisher(mosquitto.port)  # central's record of Anna once more, now that the console listens
    publisher.publish(PUSHES["staff"].topic_for(world.config.store.id), staff_push("s-anna", ANNA_PIN,
                                                                                   role="manager"))
    publisher.close()
    yield process
    process.stop()


@pytest.fixture
def phone(console):
    driver = browser(*PHONE)
    deadline = time.monotonic() + WAIT
    while True:  # until the console has applied Anna's record
        log_in(driver, console.url, "s-anna", ANNA_PIN)
        _wait(driver, lambda d: d.find_elements(By.CLASS_NAME, "who") or d.find_elements(By.CSS_SELECTOR,
                                                                                           "[role=alert]"))
        if driver.find_elements(By.CLASS_NAME, "who"):
            break
        assert time.monotonic() < deadline, console.log()
        time.sleep(0.5)
    driver.get(console.url + "/alerts")
    _wait(driver, lambda d: d.find_element(By.TAG_NAME, "h1").text == "Meldingen")
    driver.execute_script("window.notReloaded = true;")
    yield driver
    driver.quit()


def _live(phone) -> bool:
    return phone.execute_script("return window.notReloaded === true;")


def test_a_call_made_at_the_kiosk_appears_live_and_coming_then_handled_show_at_the_kiosk(world, console, phone):
    kiosk = world.start_kiosk("800x480")
    kiosk.click("attract-continueer")  # a shopper without a card
    kiosk.click("staff-assist")
    kiosk.wait_screen("continueer", "Er komt zo een medewerker naar u toe.")
    alert = _wait(phone, lambda d: d.find_element(By.CSS_SELECTOR, CALL))
    assert _live(phone), "the call came by server-sent events, without reloading the page"
    assert "Continueer" in alert.text and "Ik kom eraan" in alert.text
    call = alert.get_attribute("data-call")
    screenshot(phone, "console-alerts-call-390x844")

    alert.find_element(By.CLASS_NAME, "coming-button").click()
    status = kiosk.wait_screen("continueer", "Anna komt eraan.", timeout=20)
    kiosk.keep(status, "continueer-anna-komt-eraan-800x480")
    _wait(phone, lambda d: "Anna komt eraan" in d.find_element(By.CSS_SELECTOR, CALL).text)
    screenshot(phone, "console-alerts-coming-390x844")

    phone.find_element(By.CSS_SELECTOR, f"{CALL} .handled-button").click()
    _wait(phone, lambda d: not d.find_elements(By.CSS_SELECTOR, CALL))
    kiosk.wait_screen("continueer", "Een medewerker heeft uw vraag opgepakt.", timeout=20)
    audits = [m.json()["data"] for m in world.cap.on("/event/staff-audit")]
    answered = [(a["staff"], a["action"], a["result"]) for a in audits if a["target"] == call]
    assert answered == [("s-anna", "call-coming", "ok"), ("s-anna", "call-handled", "ok")]


def test_a_recognised_shoppers_call_shows_her_name_only_after_she_agreed_and_the_view_is_in_her_data_use_log(
        world, console, phone):
    kiosk = world.start_kiosk("800x480")
    world.tap(SANNE_UID)
    kiosk.wait_screen("begrijp", "Sanne", timeout=20)
    kiosk.click("nav-continueer")
    kiosk.click("staff-assist")
    status = kiosk.wait_screen("continueer", "Mag de medewerker zien wie u bent?", timeout=20)
    kiosk.keep(status, "continueer-share-question-800x480")
    alert = _wait(phone, lambda d: d.find_element(By.CSS_SELECTOR, CALL))
    assert not alert.find_elements(By.CLASS_NAME, "shared") and "Sanne" not in phone.page_source, \
        "nothing about her before she agreed"

    kiosk.click("share-yes")
    kiosk.wait_screen("continueer", "De medewerker ziet wie u bent, alleen voor deze vraag.", timeout=20)
    shared = _wait(phone, lambda d: d.find_element(By.CSS_SELECTOR, f"{CALL} .shared"))
    assert shared.find_element(By.CLASS_NAME, "first-name").text == "Sanne"
    assert shared.find_element(By.CLASS_NAME, "tier").text == "Goud"
    assert _live(phone)
    screenshot(phone, "console-alerts-shared-390x844")

    kiosk.click("nav-mijn-gegevens")
    kiosk.wait_screen("mijn-gegevens", "Gezien door Anna (medewerker), voor uw vraag",
                      "Met uw toestemming gedeeld met een medewerker", timeout=20)

    phone.find_element(By.CSS_SELECTOR, f"{CALL} .handled-button").click()
    _wait(phone, lambda d: not d.find_elements(By.CSS_SELECTOR, CALL))
    assert "Sanne" not in phone.page_source, "gone from the console once the call is closed"
