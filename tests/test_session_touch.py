"""The kiosk's touches count as use on the agent: a ``touch`` request at most every few seconds while the
screen is touched, which restarts the agent's idle limit of the session (its absolute limit stays)."""

import pytest

from edge_agent.commands import CommandError
from edge_agent.contract import COMMANDS, SessionRequest, Topics, TouchResult, encode
from edge_agent.nfc.emulator import CardEmulator, Type2Card, free_udp_port
from kiosk.bridge import KIOSK_COMMANDS
from kiosk.state import TOUCH_EVERY_S, KioskState, Request
from tests.support.agent import config_text, new_store_id
from tests.support.cards import STORE_HMAC_KEY_HEX as HMAC_KEY_HEX
from tests.support.cards import UNKNOWN_UID
from tests.test_kiosk_state import FakeClock, session
from tests.test_sessions import GOLD_UID, ended_messages, limited, read, world  # noqa: F401 - world: fixture


def test_session_touched_within_idle_s_without_requests_is_kept_by_the_agent_until_max_s(world):  # noqa: F811
    _, _, published, _, _ = world
    boot = {"s": 1000.0}
    service = limited(world, idle_s=60, max_s=600, clock=lambda: boot["s"])
    service.on_tap(read(GOLD_UID))
    started = published[-1]["data"]["session"]
    for _ in range(11):  # browsing: a touch every 50 s, no other request, 550 s in all
        boot["s"] += 50
        assert service.expire() is False, "a session in use was ended as idle"
        assert service.touch(SessionRequest(session=started)) == TouchResult(active=True)
    boot["s"] += 50
    with pytest.raises(CommandError, match=r"session ended \(open for 600 s\)"):
        service.touch(SessionRequest(session=started))
    assert [m["reason"] for m in ended_messages(published, started)] == ["max-duration"]
    service.close()


def test_touch_for_a_session_that_is_not_the_current_one_says_so_and_keeps_nothing_alive(world):  # noqa: F811
    _, _, published, _, _ = world
    boot = {"s": 1000.0}
    service = limited(world, idle_s=60, clock=lambda: boot["s"])
    service.on_tap(read(GOLD_UID))
    started = published[-1]["data"]["session"]
    assert service.touch(SessionRequest(session="01a20735-b502-769a-a830-637530718552")) == TouchResult(active=False)
    boot["s"] += 61
    assert service.expire() is True and [m["reason"] for m in ended_messages(published, started)] == ["idle"]
    service.close()


def test_kiosk_touched_during_a_session_tells_the_agent_at_most_every_few_seconds_and_not_when_untouched():
    assert "touch" in KIOSK_COMMANDS and "touch" in COMMANDS
    clock = FakeClock()
    state = KioskState(idle_timeout_s=45, countdown_s=10, clock=clock)
    assert state.tick() == [], "no session: nothing to tell"
    sid = session().session
    state.on_session(session(sid=sid))
    sent = []
    for _ in range(40):  # 20 s of touches every 0.5 s, ticking every 0.25 s
        clock.now += 0.25
        sent += state.tick()
        clock.now += 0.25
        state.touched()
        sent += state.tick()
    assert sent == [Request("touch", sid)] * 4, f"{len(sent)} touches in 20 s (every {TOUCH_EVERY_S} s at most)"
    for _ in range(30):  # 15 s untouched (within the idle timeout): the agent hears nothing
        clock.now += 0.5
        sent += state.tick()
    assert len(sent) == 4
    state.touched()
    clock.now += 0.25
    assert state.tick() == [Request("touch", sid)]
    assert state.on_response("touch", sid, True, TouchResult(active=True), None) == []


def test_agent_process_answers_the_kiosks_touch_for_its_live_session_over_mqtt_and_not_for_another(
        mosquitto, tmp_path, agent_process, capture, publisher, monkeypatch):
    monkeypatch.setenv("CS_STORE_HMAC_KEY", HMAC_KEY_HEX)
    device = f"udp:127.0.0.1:{free_udp_port()}"
    store = new_store_id()
    config_path = tmp_path / "agent.toml"
    config_path.write_text(config_text(mosquitto.port, tmp_path / "agent.db", store, extra=(
        f'[nfc]\ndevice = "{device}"\npoll_interval_s = 0.02\n[sessions]\nidle_s = 600\nmax_s = 900\n')))
    topics = Topics(store, "kiosk-1")
    cap = capture(mosquitto, ["cs/#"])
    pub = publisher(mosquitto)
    with CardEmulator(device) as emulator:
        agent_process(config_path)
        cap.wait_for(lambda ms: any(m.topic == topics.birth for m in ms), timeout=30)
        assert emulator.wait_for_reader(30), "the agent's reader never polled"
        emulator.hold(Type2Card(UNKNOWN_UID))  # any card opens a session (here an anonymous one)
        try:
            cap.wait_for(lambda ms: any(m.topic == topics.session for m in ms), timeout=30)
        finally:
            emulator.remove()
        live = next(m.json()["data"]["session"] for m in cap.messages if m.topic == topics.session)
        for transaction, sid in (("t-live", live), ("t-other", "01a20735-b502-769a-a830-637530718552")):
            _, raw = encode(COMMANDS["touch"], {"session": sid}, transaction=transaction)
            pub.publish(COMMANDS["touch"].topic_for(store, "kiosk-1"), raw)
        answers = cap.wait_for(lambda ms: len([m for m in ms if m.topic == topics.response("touch")]) >= 2, 30)
        got = {m.json()["transaction"]: (m.json()["status"], m.json()["data"]) for m in answers
               if m.topic == topics.response("touch")}
        assert got == {"t-live": ("ok", {"active": True}), "t-other": ("ok", {"active": False})}
