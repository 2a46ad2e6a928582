"""The console's alerts and their state survive a restart of the console and of the broker, over real HTTPS.

A Mosquitto of this test's own (persistence on, as shipped), ``store-console run``, and a kiosk's agent played by
a publisher sending what an agent sends (``event/staff-assist``, ``event/stock``, its retained ``state`` with
the last will's offline). Anna logs in over HTTPS as a browser would (the form and its CSRF token) and says
"Ik kom eraan" to the empty shelf (an alert the console answers itself, audited by it). Then the console is
stopped and started again, then the broker: every alert is still there with its state and its waiting time, a
call published while the console was down arrives once it is back (its persistent session), and one made after
the broker's restart arrives too.
"""

from __future__ import annotations

import re
import time

import httpx

from edge_agent.contract import EVENTS, PUSHES, STATE, encode
from tests.support.agent import new_store_id
from tests.support.console import ConsoleProcess, staff_push, write_console_config
from tests.support.mqtt import Publisher

WAIT = 60
DEVICE = "kiosk-1"


def _log_in(console: ConsoleProcess) -> httpx.Client:
    client = httpx.Client(base_url=console.url, verify=False, headers={"Accept": "text/html"}, timeout=30)
    deadline = time.monotonic() + WAIT
    while True:
        token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
        if client.post("/login", data={"staff": "s-anna", "pin": "2468", "csrf": token}).status_code == 303:
            return client
        assert time.monotonic() < deadline, console.log()
        time.sleep(0.5)


def _alerts(client: httpx.Client) -> dict[str, str]:
    """The open alerts on the page: id -> its list item's HTML."""
    page = client.get("/alerts/list").text
    items = re.finditer(r'<li class="alert[^"]*" data-alert="(\w+)".*?</li>', page, re.S)
    return {match.group(1): match.group(0) for match in items}


def _until(client: httpx.Client, predicate, what: str) -> dict[str, str]:
    deadline = time.monotonic() + WAIT
    while True:
        try:
            alerts = _alerts(client)
            if predicate(alerts):
                return alerts
        except httpx.HTTPError:
            pass  # the console is starting
        assert time.monotonic() < deadline, what
        time.sleep(0.3)


def _call(publisher: Publisher, store: str) -> str:
    call, raw = encode(EVENTS["staff-assist"], {"session": None, "phase": "inform", "topic": None})
    publisher.publish(EVENTS["staff-assist"].topic_for(store, DEVICE), raw)
    return call


def test_alerts_and_their_state_survive_a_console_restart_and_a_broker_restart(own_mosquitto, tmp_path):
    store = new_store_id()
    config, port = write_console_config(tmp_path / "console", own_mosquitto.port, store)
    console = ConsoleProcess(config, port, tmp_path / "console.log").start()
    publisher = Publisher(own_mosquitto.port)
    try:
        publisher.publish(PUSHES["staff"].topic_for(store), staff_push("s-anna", "2468"))
        client = _log_in(console)
        first = _call(publisher, store)
        publisher.publish(EVENTS["stock"].topic_for(store, DEVICE), encode(EVENTS["stock"], {
            "zone": "gazonmest-10kg", "gtin": "08712345000028", "state": "out-of-stock", "out_s": 30.0})[1])
        publisher.publish(STATE.topic_for(store, "shelf-1"), encode(STATE, {"state": "offline",
                                                                            "reason": "last-will"})[1], retain=True)
        before = _until(client, lambda a: len(a) == 3, "call, empty shelf and offline shelf")
        shelf = next(key for key, html in before.items() if 'data-kind="stock"' in html)
        page = client.get("/alerts").text
        token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        assert client.post(f"/alerts/{shelf}/coming", data={"csrf": token}).status_code == 303
        assert "Anna komt eraan" in _alerts(client)[shelf]
        client.close()

        console.stop()
        while_down = _call(publisher, store)  # queued for the console's persistent session
        console.start()
        client = _log_in(console)
        after = _until(client, lambda a: len(a) == 4, "the call made while the console was down")
        assert before.keys() <= after.keys()
        assert "Anna komt eraan" in after[shelf], "its state survived the restart"
        assert f'data-call="{first}"' in after[next(k for k in before if 'data-kind="assist"' in before[k])]
        assert any(f'data-call="{while_down}"' in html for html in after.values())

        own_mosquitto.restart()
        publisher.close()
        publisher = Publisher(own_mosquitto.port)
        again = _until(client, lambda a: len(a) == 4, "the alerts after the broker's restart")
        assert "Anna komt eraan" in again[shelf]
        later = _call(publisher, store)
        _until(client, lambda a: any(f'data-call="{later}"' in html for html in a.values()),
               "a call after the broker's restart (the console reconnected and subscribed)")
        client.close()
    finally:
        publisher.close()
        console.stop()
