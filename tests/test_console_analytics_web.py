"""The console's charts in a real Chromium over real HTTPS: two kiosks' generated day reaches the console as the
agents send it (event/analytics-hourly on the session's Mosquitto), the charts page shows it per device and for
the store (SVG with titles and the numbers as text), the CSV export has the same numbers, a new hour appears
live, and screenshots at phone and desktop width (tests/artifacts/screens/analytics-*.png)."""

from __future__ import annotations

import base64
import csv
import io
import json
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

from edge_agent.contract import EVENTS, PUSHES, AnalyticsEvent, encode
from tests.support.agent import new_store_id
from tests.support.console import (
    DESKTOP,
    PHONE,
    SCREENS,
    ConsoleProcess,
    browser,
    log_in,
    screenshot,
    staff_push,
    write_console_config,
)
from tests.support.mqtt import Publisher
from tests.test_analytics import TZ
from tests.test_console_analytics import agent_day
from tests.test_console_web import _login_http, _wait

ANNA = ("s-anna", "2468")
WAIT = 60
# Yesterday in the store: within the console's 90 days, and a complete day.
DAY = datetime.combine(datetime.now(TZ).date() - timedelta(days=1), datetime.min.time(), tzinfo=TZ)


@pytest.fixture(scope="module")
def store() -> str:
    return new_store_id()


@pytest.fixture(scope="module")
def console(mosquitto, store, tmp_path_factory):
    folder = tmp_path_factory.mktemp("console-analytics")
    config, port = write_console_config(folder, mosquitto.port, store)
    process = ConsoleProcess(config, port, folder / "console.log").start()
    publisher = Publisher(mosquitto.port)
    publisher.publish(PUSHES["staff"].topic_for(store), staff_push(*ANNA, role="staff", display_name="Anna"))
    days = {device: agent_day(folder, device, DAY) for device in ("kiosk-1", "kiosk-2")}
    for device, envelopes in days.items():
        for envelope in envelopes:
            publisher.publish(EVENTS["analytics-hourly"].topic_for(store, device), json.dumps(envelope).encode())
    client, response = _login_http(process, *ANNA)
    assert response.status_code == 303
    deadline = time.monotonic() + WAIT
    while "kiosk-2" not in client.get("/analytics").text:  # both devices' events have arrived
        assert time.monotonic() < deadline, process.log()
        time.sleep(0.3)
    client.close()
    process.publisher = publisher  # type: ignore[attr-defined]  # for the live test
    yield process
    publisher.close()
    process.stop()


def query(device: str = "", view: str = "day") -> str:
    return f"/analytics?device={device}&view={view}&date={DAY.date().isoformat()}"


def numbers(driver, chart: str) -> dict[str, str]:
    """The table of numbers beside ``chart`` (its text, read even while the table is folded)."""
    section = driver.find_element(By.ID, chart).find_element(By.XPATH, "./following-sibling::details[1]")
    return {row.find_element(By.TAG_NAME, "th").get_attribute("textContent"):
            row.find_element(By.TAG_NAME, "td").get_attribute("textContent")
            for row in section.find_elements(By.TAG_NAME, "tr")}


@pytest.fixture
def phone():
    driver = browser(*PHONE)
    yield driver
    driver.quit()


def test_the_charts_page_shows_the_generated_day_for_the_store_and_per_device(console, phone):
    log_in(phone, console.url, *ANNA)
    _wait(phone, lambda d: d.find_elements(By.CLASS_NAME, "who"))
    phone.get(console.url + query())
    _wait(phone, lambda d: d.find_element(By.ID, "chart-footfall"))
    footfall = phone.find_element(By.ID, "chart-footfall")
    assert footfall.get_attribute("role") == "img"
    assert "Bezoekers per uur" in footfall.find_element(By.TAG_NAME, "title").get_attribute("textContent")
    assert numbers(phone, "chart-footfall")["09"] == "36", "two kiosks, 18 each at 09:00"
    funnel = numbers(phone, "chart-funnel")
    assert funnel["Begrijp"] == "40" and funnel["Converteer"] == "22"
    assert numbers(phone, "chart-plays") == {"voorjaar": "8", "gazon-video": "8"}
    kinds = numbers(phone, "chart-sessions")
    assert kinds["Herkend"] == "26" and kinds["Aanmelding"] == "10" and "Zonder pas" not in kinds
    assert "26" in phone.find_element(By.ID, "chart-sessions").get_attribute("textContent"), "numbers as text"
    phone.get(console.url + query("kiosk-1"))
    _wait(phone, lambda d: "kiosk-1" in d.find_element(By.ID, "period").text)
    assert numbers(phone, "chart-footfall")["09"] == "18"
    phone.get(console.url + query(view="week"))
    _wait(phone, lambda d: d.find_element(By.ID, "chart-footfall"))
    assert numbers(phone, "chart-footfall")[DAY.strftime("%d-%m")] == str(2 * 18 * 4)
    assert phone.execute_script("return document.documentElement.scrollWidth") <= PHONE[0]


def test_the_csv_export_has_the_same_numbers_as_the_page(console, phone):
    client, _ = _login_http(console, *ANNA)
    response = client.get(query().replace("/analytics", "/analytics.csv"))
    client.close()
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    table = {(row["chart"], row["label"]): row["value"] for row in rows}
    log_in(phone, console.url, *ANNA)
    _wait(phone, lambda d: d.find_elements(By.CLASS_NAME, "who"))
    phone.get(console.url + query())
    _wait(phone, lambda d: d.find_element(By.ID, "chart-footfall"))
    for chart, key in (("chart-footfall", "footfall"), ("chart-plays", "play-count"), ("chart-exits", "funnel-exit")):
        for label, value in numbers(phone, chart).items():
            assert table[(key, label if chart != "chart-exits" else _phase(label))] == value, (chart, label)
    href = phone.find_element(By.ID, "csv").get_attribute("href")
    assert href.endswith(query().replace("/analytics?", "/analytics.csv?"))


def _phase(dutch: str) -> str:
    from edge_agent.console.analytics import PHASES

    return {name: phase for phase, name in (*PHASES, ("other", "Overige"))}[dutch]


def test_an_hour_that_arrives_while_the_page_is_open_appears_without_a_reload(console, phone, store):
    log_in(phone, console.url, *ANNA)
    _wait(phone, lambda d: d.find_elements(By.CLASS_NAME, "who"))
    phone.get(console.url + query("kiosk-3"))
    _wait(phone, lambda d: d.find_element(By.ID, "chart-footfall"))
    assert numbers(phone, "chart-footfall")["20"] == "0"
    phone.execute_script("window.analyticsMark = 1")
    event = AnalyticsEvent.model_validate({"period": "hour", "start": DAY.replace(hour=20).isoformat(),
                                           "end": DAY.replace(hour=21).isoformat(), "k": 5,
                                           "rows": [{"metric": "footfall", "count": 7}]})
    console.publisher.publish(EVENTS["analytics-hourly"].topic_for(store, "kiosk-3"),
                              encode(EVENTS["analytics-hourly"], event)[1])
    _wait(phone, lambda d: numbers(d, "chart-footfall")["20"] == "7")
    assert phone.execute_script("return window.analyticsMark") == 1, "updated in place, not reloaded"


def whole_page(driver, name: str) -> Path:
    """The whole page, beyond the window, as ``tests/artifacts/screens/<name>.png`` (Chromium's DevTools)."""
    metrics = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
    width, height = metrics["cssContentSize"]["width"], metrics["cssContentSize"]["height"]
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": width, "height": min(height, 8000), "scale": 1}})
    SCREENS.mkdir(parents=True, exist_ok=True)
    path = SCREENS / f"{name}.png"
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


@pytest.mark.parametrize(("label", "size"), [("phone", PHONE), ("desktop", DESKTOP)])
def test_screenshots_of_the_charts_at_phone_and_desktop_width(console, label, size):
    driver = browser(*size)
    try:
        log_in(driver, console.url, *ANNA)
        _wait(driver, lambda d: d.find_elements(By.CLASS_NAME, "who"))
        pages = (("day-store", query()), ("day-kiosk-1", query("kiosk-1")), ("week-store", query(view="week")))
        for name, path in pages:
            driver.get(console.url + path)
            _wait(driver, lambda d: d.find_element(By.ID, "chart-footfall"))
            screenshot(driver, f"analytics-{label}-{name}")
            shot = whole_page(driver, f"analytics-{label}-{name}-full")
            assert shot.stat().st_size > 1000
            assert driver.execute_script("return document.documentElement.scrollWidth") <= size[0] + 1, path
    finally:
        driver.quit()
