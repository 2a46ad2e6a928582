"""The kiosk really reports what it shows, end to end: the kiosk on Xvfb driven by real clicks, the real agent
(in process) and a real Mosquitto. Its screen and play reports arrive on the local request topics, fit the
contract and name nobody; the agent puts them into its hourly buckets and sends the hour upstream through the
outbox as event/analytics-hourly, with the session counts below k held back."""

from __future__ import annotations

import json

import pytest

from edge_agent.agent import Agent
from edge_agent.contract import COMMANDS, EVENTS, Topics, decode
from edge_agent.credentials import Credentials
from tests.support.kiosk import KioskProcess, publish_session
from tests.support.mqtt import BUSY_MACHINE_WAIT_S


@pytest.fixture
def agent(mosquitto, make_config):
    _, config = make_config(mosquitto, extra="[analytics]\nk = 2\nflush_s = 0.5\n")
    agent = Agent(config, Credentials({"CS_STORE_HMAC_KEY": "5a" * 32}))
    agent.start()
    assert agent.link.wait_connected(10)
    yield agent
    agent.stop()


def buckets(agent: Agent) -> dict[tuple[str, str], tuple[int, int | None, float]]:
    with agent.store.reading() as conn:
        return {(metric, dim): (count, sessions, total) for metric, dim, count, sessions, total in conn.execute(
            "SELECT metric, dim, sum(count), sum(sessions), sum(total) FROM analytics_buckets "
            "GROUP BY metric, dim")}


def test_the_kiosk_reports_its_screens_and_attract_items_and_the_agent_buckets_and_sends_them(
        agent, mosquitto, capture, publisher, xvfb, tmp_path):
    store, device = agent.config.store.id, agent.config.device.id
    cap = capture(mosquitto, [f"cs/v1/{store}/{device}/#"])
    kiosk = KioskProcess(xvfb, mosquitto.port, store, device, tmp_path / "kiosk",
                         args=("--transition", "none")).start()
    try:
        kiosk.wait_screen("bereik")
        # A browse without a card: two screens, then Klaar (back to the attract loop).
        kiosk.click("attract-inspireer")
        kiosk.wait_screen("inspireer")
        kiosk.click("nav-ontzorg")
        kiosk.wait_screen("ontzorg")
        kiosk.click("klaar")
        kiosk.wait_screen("bereik")
        screens = COMMANDS["report-screen"].topic_for(store, device)
        plays = COMMANDS["report-play"].topic_for(store, device)
        cap.wait_for(lambda messages: sum(m.topic == screens for m in messages) >= 2
                     and any(m.topic == plays for m in messages), timeout=BUSY_MACHINE_WAIT_S)
        # A recognised customer's session (its message as the agent's session service sends it), then its end.
        pub = publisher(mosquitto)
        topics = Topics(store, device)
        session = publish_session(pub, topics, "recognised", first_name="Sanne")
        kiosk.wait_screen("begrijp", "Sanne")
        publish_session(pub, topics, "recognised", sid=session, state="ended", reason="done")
        kiosk.wait_screen("bereik")
        cap.wait_for(lambda messages: sum(m.topic == screens for m in messages) >= 3, timeout=BUSY_MACHINE_WAIT_S)
    finally:
        kiosk.stop()
    reports = [decode(COMMANDS["report-screen"], m.payload).payload for m in cap.messages if m.topic == screens]
    assert [(r.screen, r.phase.value, r.kind.value, r.ends_visit) for r in reports] == [
        ("inspireer", "inspire", "browse", False), ("ontzorg", "after-care", "browse", True),
        ("begrijp", "understand", "recognised", True)]
    assert len({r.visit for r in reports}) == 2, "two visits"
    assert all(r.touched for r in reports[:2]), "both screens were touched (the clicks)"
    assert not reports[2].touched, "nobody touched the greeting"
    usage = b"".join(m.payload for m in cap.messages if "/local/request/report-" in m.topic)
    assert session.encode() not in usage and b"Sanne" not in usage, "no session id, no name in a report"
    played = [decode(COMMANDS["report-play"], m.payload).payload for m in cap.messages if m.topic == plays]
    assert played and played[0].item == "builtin" and played[0].media == "text"
    for message in cap.messages:
        if "/local/request/report-" in message.topic:
            assert set(json.loads(message.payload)["data"]) <= {
                "visit", "kind", "screen", "phase", "started", "shown_s", "touched", "ends_visit", "item",
                "media", "pack"}, "no session, card or customer in a report"
    # the agent took them: answered ok, and into its buckets at the next flush
    answered = [m for m in cap.messages if m.topic.endswith("/local/response/report-screen")]
    assert answered and all(json.loads(m.payload)["status"] == "ok" for m in answered)
    cap.wait_for(lambda _: ("sessions", "recognised") in buckets(agent), timeout=BUSY_MACHINE_WAIT_S)
    rows = buckets(agent)
    assert rows[("sessions", "browse")][:2] == (1, 1) and rows[("sessions", "recognised")][:2] == (1, 1)
    assert rows[("phase-reached", "inspire")][1] == 1 and rows[("phase-exit", "after-care")][1] == 1
    assert rows[("play", "builtin")][0] >= 1
    # Two hours later (the service's clock moved): the hour is complete and goes upstream through the outbox.
    later = agent.analytics._clock() + 2 * 3600
    agent.analytics._clock = lambda: later
    agent.analytics.flush()
    assert agent.analytics.publish_due()
    hourly = EVENTS["analytics-hourly"].topic_for(store, device)
    cap.wait_for(lambda messages: any(m.topic == hourly for m in messages), timeout=BUSY_MACHINE_WAIT_S)
    event = decode(EVENTS["analytics-hourly"], next(m for m in cap.messages if m.topic == hourly).payload).payload
    published = {(row.metric.value, row.dim) for row in event.rows}
    assert ("play", "builtin") in published
    assert ("sessions", "browse") not in published and ("sessions", "recognised") not in published, (
        "one session of each kind, below k = 2: held back for the day")
    assert all(row.sessions is None or row.sessions >= 2 for row in event.rows)
