"""The devices page's content controls reach a real agent: a staff member logged in at the console on a phone
switches an attract item off and moves another; the agent applies it (its retained schedule changes), audits
it under the staff member's id like a change made at the kiosk, and the console shows the new state. The
console's own actions (PIN attempt, login) go upstream as ``event/staff-audit`` under the console's device
level. A request for a staff id the agent does not know is refused by the agent and audited.

Real pieces: Mosquitto, the agent (with nfcpy's UDP reader, so it has staff mode, and a content pack), the
console process, Chromium. Central's records come from config/central-fixtures.example.yaml (Anna, manager,
PIN 2468), pushed once to both the agent and the console.
"""

from __future__ import annotations

import json
import os
import time

import pytest
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from edge_agent import central_push as fixtures
from edge_agent.agent import Agent
from edge_agent.contract import COMMANDS, CONTENT_SCHEDULE, EVENTS, decode, encode
from edge_agent.credentials import Credentials
from edge_agent.nfc.emulator import free_udp_port
from tests.support.console import PHONE, ConsoleProcess, browser, log_in, screenshot, write_console_config
from tests.test_content_control_e2e import FIXTURES, write_pack

HMAC_KEY = os.urandom(32)
WAIT = 60


def _wait(driver, predicate):
    return WebDriverWait(driver, WAIT, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)
                         ).until(predicate)


@pytest.fixture
def world(mosquitto, make_config, capture, tmp_path):
    pack = tmp_path / "pack"
    write_pack(pack, "1")
    _, config = make_config(mosquitto, extra=(
        f'[nfc]\ndevice = "udp:127.0.0.1:{free_udp_port()}"\npoll_interval_s = 0.05\n'
        f'[content]\nfolder = "{pack}"\ncheck_s = 0.5\n'))
    store = config.store.id
    cap = capture(mosquitto, ["cs/#"])
    console_config, port = write_console_config(tmp_path / "console", mosquitto.port, store)
    console = ConsoleProcess(console_config, port, tmp_path / "console.log").start()
    agent = Agent(config, Credentials({"CS_STORE_HMAC_KEY": HMAC_KEY.hex()}))
    agent.start()
    assert agent.link.wait_connected(10)
    outgoing = fixtures.messages(fixtures.load(FIXTURES, hmac_key=HMAC_KEY), store)
    fixtures.publish(outgoing, "127.0.0.1", mosquitto.port)
    cap.wait_for(lambda _: agent.inbox.applied >= len(outgoing), timeout=30)
    driver = browser(*PHONE)
    yield store, agent, console, cap, driver
    driver.quit()
    agent.stop()
    console.stop()


def _schedule(cap, store: str) -> dict:
    message = cap.on(CONTENT_SCHEDULE.topic_for(store, "kiosk-1"))[-1]
    return decode(CONTENT_SCHEDULE, message.payload).payload.model_dump(mode="json")


def _audits(cap, store: str, device: str) -> list[dict]:
    topic = EVENTS["staff-audit"].topic_for(store, device)
    return [json.loads(m.payload)["data"] for m in cap.messages if m.topic == topic]


def test_staff_at_the_console_switch_an_item_off_and_move_one_and_the_agent_applies_and_audits_it(world):
    store, _agent, console, cap, driver = world
    deadline = time.monotonic() + WAIT
    while True:  # the console has Anna's record once a login works
        log_in(driver, console.url, "s-anna", "2468")
        _wait(driver, lambda d: d.find_elements(By.CLASS_NAME, "who") or d.find_elements(By.CSS_SELECTOR,
                                                                                          "[role=alert]"))
        if driver.find_elements(By.CLASS_NAME, "who"):
            break
        assert time.monotonic() < deadline, "the console never took Anna's staff record"
        time.sleep(0.5)
    driver.get(console.url + "/devices/kiosk-1")
    item = _wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, "li.item.on[data-item='attract/klantenpas']"))
    item.find_element(By.CSS_SELECTOR, "button[value=disable]").click()
    _wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, "[role=status]"))
    screenshot(driver, "phone-devices-kiosk-1-content-changed")
    # The console shows the agent's new schedule (retained content-schedule, live in the model).
    driver.get(console.url + "/devices/kiosk-1")
    _wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, "li.item.off[data-item='attract/klantenpas']"))
    schedule = _schedule(cap, store)
    assert [entry["enabled"] for entry in schedule["attract"] if entry["id"] == "klantenpas"] == [False]
    item = _wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, "li.item[data-item='attract/gazon']"))
    item.find_element(By.CSS_SELECTOR, "button[value=move-up]").click()
    _wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, "[role=status]"))
    cap.wait_for(lambda _: [e["id"] for e in _schedule(cap, store)["attract"]][:2] == ["gazon", "lente"],
                 timeout=WAIT)
    # Today only: off until tomorrow, then as the pack schedules it again.
    item = _wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, "li.item.on[data-item='attract/lente']"))
    item.find_element(By.CSS_SELECTOR, "button[value=disable-today]").click()
    _wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, "[role=status]"))
    cap.wait_for(lambda _: [(e["enabled"], e["until"] is not None) for e in _schedule(cap, store)["attract"]
                            if e["id"] == "lente"] == [(False, True)], timeout=WAIT)
    # The agent audited them under Anna's id, as if made at the kiosk; the console audited her login.
    cap.wait_for(lambda _: {(a["action"], a["result"]) for a in _audits(cap, store, "kiosk-1")}
                 >= {("content-disable", "ok"), ("content-move-up", "ok")}, timeout=WAIT)
    assert {a["staff"] for a in _audits(cap, store, "kiosk-1") if a["action"].startswith("content-")} == {"s-anna"}
    cap.wait_for(lambda _: {a["action"] for a in _audits(cap, store, "console")} >= {"pin-attempt", "console-login"},
                 timeout=WAIT)
    assert all("2468" not in json.dumps(a) for a in _audits(cap, store, "console"))
    # The preview link: what the kiosk shows at a chosen moment, answered by the agent (audited there too).
    driver.get(console.url + "/devices/kiosk-1/preview?at=2030-06-01T10:00")
    shown = _wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, "section.card"))
    assert "gazon" in shown.text and "klantenpas" not in shown.text
    screenshot(driver, "phone-devices-kiosk-1-preview")
    cap.wait_for(lambda _: ("content-preview", "ok") in {(a["action"], a["result"])
                                                         for a in _audits(cap, store, "kiosk-1")}, timeout=WAIT)


def test_a_console_request_naming_a_staff_id_the_agent_does_not_know_is_refused_and_audited(world, publisher,
                                                                                              mosquitto):
    store, _agent, _console, cap, _driver = world
    command = COMMANDS["console-content-control"]
    _, raw = encode(command, {"session": "01a20735-b502-769a-a830-637530718552", "staff": "s-nobody",
                              "action": "disable", "section": "attract", "item": "lente"}, transaction="t-1")
    publisher(mosquitto).publish(command.topic_for(store, "kiosk-1"), raw)
    response = cap.wait_topic("kiosk-1/local/response/console-content-control", timeout=WAIT)[-1].json()
    assert response["status"] == "error" and "no active staff member" in response["error"]
    cap.wait_for(lambda _: ("content-disable", "refused") in {(a["action"], a["result"])
                                                              for a in _audits(cap, store, "kiosk-1")}, timeout=WAIT)
    assert [e["enabled"] for e in _schedule(cap, store)["attract"] if e["id"] == "lente"] == [True]
