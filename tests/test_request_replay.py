"""A request runs once: retained requests are refused, a repeated request id is not carried out again.

The agent runs as ``edge-agent run`` against the shipped store broker (``config/mosquitto/store.conf`` and its
ACL, :meth:`tests.support.mosquitto.Mosquitto.store`), each client with its own login: the kiosk app sends its
requests as ``kiosk-1-screen``, central watches the events as ``central-bridge``. "No second event" is
counted by event id (the outbox may send an event twice, with its id, after a reconnect) and proven by a
fresh request afterwards: events leave the outbox in order, so once the fresh one's event has arrived, an
event of the replay would have arrived before it.
"""

from __future__ import annotations

import json
import time

import pytest

from edge_agent.commands import RETAINED, Commands
from edge_agent.config import parse_config
from edge_agent.contract import COMMANDS, PingResult, Topics
from tests.support.agent import AgentProcess, config_text
from tests.support.mosquitto import LoginClient, Mosquitto
from tests.support.mqtt import envelope

STORE, DEVICE = "store-0042", "kiosk-1"  # the shipped ACL's example store and kiosk (as agent.example.toml)
SCREEN = f"{DEVICE}-screen"
LOGINS = {DEVICE: "agent-secret", SCREEN: "screen-secret", "central-bridge": "bridge-secret"}
TOPICS = Topics(STORE, DEVICE)
STAFF = COMMANDS["staff-assist"]


def wait_until(condition, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


class Store:
    """The shipped broker, the agent with its login, the kiosk app's login and central's, all persistent."""

    def __init__(self, folder, monkeypatch):
        self.broker = Mosquitto.store(folder / "broker", LOGINS).start()
        config = folder / "agent.toml"
        config.write_text(config_text(self.broker.port, folder / "agent.db", STORE, DEVICE))
        monkeypatch.setenv("CS_MQTT_USERNAME", DEVICE)
        monkeypatch.setenv("CS_MQTT_PASSWORD", LOGINS[DEVICE])
        self.agent = AgentProcess(config, folder / "agent.log").start()
        # Persistent sessions: what is published while the broker restarts waits for them.
        self.kiosk = LoginClient(self.broker.port, SCREEN, LOGINS[SCREEN], [(TOPICS.response("staff-assist"), 1)],
                                 clean_session=False)
        self.central = LoginClient(self.broker.port, "central-bridge", LOGINS["central-bridge"],
                                   [(TOPICS.event("staff-assist"), 1), (TOPICS.event("error"), 1),
                                    (TOPICS.state, 1)], clean_session=False)
        self.kiosk.wait_connected()
        self.central.wait_connected()
        self.wait_online(0)

    def states(self) -> list[str]:
        return [json.loads(p)["data"]["state"] for t, p in self.central.received if t == TOPICS.state]

    def wait_online(self, times: int) -> None:
        """Wait until the agent said online more than ``times`` times (a connection after ``times``)."""
        wait_until(lambda: self.states().count("online") > times, f"the agent online again: {self.agent.log()}")

    def responses(self, transaction: str) -> list[dict]:
        """The answers to ``transaction`` in their order, each once (QoS 1 may deliver one twice)."""
        answers: dict[str, dict] = {}
        for topic, payload in self.kiosk.received:
            answer = json.loads(payload)
            if topic == TOPICS.response("staff-assist") and answer.get("transaction") == transaction:
                answers.setdefault(answer["id"], answer)
        return list(answers.values())

    def staff_events(self) -> set[str]:
        """Distinct ids of the staff calls central received."""
        return {json.loads(p)["id"] for t, p in self.central.received if t == TOPICS.event("staff-assist")}

    def errors(self) -> list[str]:
        return [json.loads(p)["data"]["reason"] for t, p in self.central.received if t == TOPICS.event("error")]

    def call_staff(self, transaction: str, message_id: str | None = None, retain: bool = False) -> bytes:
        request = envelope(STAFF.schema_id, {"phase": "inform", "topic": "product-advice"},
                           transaction=transaction, message_id=message_id)
        self.kiosk.publish(STAFF.topic_for(STORE, DEVICE), request, qos=1, retain=retain)
        return request

    def then_a_fresh_call_is_the_only_other_event(self, before: set[str]) -> None:
        self.call_staff("fresh")
        wait_until(lambda: self.responses("fresh"), "the fresh call's answer")
        fresh = self.responses("fresh")[0]["data"]["event"]
        wait_until(lambda: fresh in self.staff_events(), "the fresh call's event at central")
        assert self.staff_events() == before | {fresh}, "the replayed request made no event of its own"

    def close(self) -> None:
        try:
            assert self.agent.terminate() == 0, self.agent.log()
        finally:
            self.kiosk.close()
            self.central.close()
            self.broker.close()


@pytest.fixture
def store(tmp_path, monkeypatch):
    store = Store(tmp_path, monkeypatch)
    yield store
    store.close()


def test_a_retained_staff_call_runs_once_and_is_refused_on_reconnect(store):
    store.call_staff("staff-1", retain=True)  # a live subscriber gets it without the retain flag: it runs
    wait_until(lambda: store.responses("staff-1"), "the staff call's answer")
    first = store.responses("staff-1")[0]
    assert first["status"] == "ok"
    wait_until(store.staff_events, "the staff call at central")
    called = store.staff_events()
    assert called == {first["data"]["event"]}

    for reconnect in (1, 2):  # every reconnect hands the retained request to the agent again
        store.broker.restart()
        store.wait_online(reconnect)
        wait_until(lambda n=reconnect: len(store.responses("staff-1")) > n, "the refusal after the reconnect")
        refusal = store.responses("staff-1")[reconnect]
        assert refusal["status"] == "error" and "retained" in refusal["error"]
    wait_until(lambda: sum(RETAINED in reason for reason in store.errors()) >= 2, "event/error for each refusal")

    store.agent.terminate()  # a restarted agent remembers no request: the retain flag alone refuses it
    store.agent.start()
    store.wait_online(3)
    wait_until(lambda: len(store.responses("staff-1")) > 3, "the refusal after the agent's restart")
    assert store.responses("staff-1")[3]["status"] == "error" and "retained" in store.responses("staff-1")[3]["error"]
    store.then_a_fresh_call_is_the_only_other_event(called)


def test_the_same_staff_call_sent_five_times_runs_once_and_says_so_four_times(store):
    request = store.call_staff("staff-5")
    for _ in range(4):
        store.kiosk.publish(STAFF.topic_for(STORE, DEVICE), request, qos=1)
    wait_until(lambda: len(store.responses("staff-5")) == 5, "five answers")
    answers = store.responses("staff-5")
    assert [answer["status"] for answer in answers] == ["ok"] + ["error"] * 4
    message_id = json.loads(request)["id"]
    assert all(f"request {message_id} was already served" in answer["error"] for answer in answers[1:])
    wait_until(store.staff_events, "the staff call at central")
    called = store.staff_events()
    assert called == {answers[0]["data"]["event"]}
    store.then_a_fresh_call_is_the_only_other_event(called)
    assert not store.errors(), "a redelivery is answered, not reported as an error upstream"


def commands() -> tuple[Commands, list[bytes]]:
    """The agent's commands, and the responses they publish."""
    config = parse_config(config_text(1883, "/nonexistent.db", STORE, DEVICE), "agent.toml")
    responses: list[bytes] = []
    return Commands(config, respond=lambda name, payload: responses.append(payload)), responses


def test_a_retained_ping_is_refused_with_its_transaction_and_not_carried_out():
    served, responses = commands()
    calls = []
    served.register("ping", lambda request: calls.append(request) or PingResult(uptime_s=1.0))
    error = served.handle("ping", envelope(COMMANDS["ping"].schema_id, {}, transaction="t-r"), retained=True)
    assert error == RETAINED and not calls
    answer = json.loads(responses[0])
    assert answer["status"] == "error" and answer["transaction"] == "t-r" and answer["error"] == RETAINED


def test_a_request_whose_handler_failed_unexpectedly_runs_when_it_is_delivered_again():
    served, responses = commands()
    attempts = []

    def flaky(request):
        attempts.append(request)
        if len(attempts) == 1:
            raise OSError("database or disk is full")
        return PingResult(uptime_s=1.0)

    served.register("ping", flaky)
    request = envelope(COMMANDS["ping"].schema_id, {}, transaction="t-f")
    error = served.handle("ping", request)
    assert error is not None and error.startswith("internal error: OSError"), error  # answered, never raised
    assert json.loads(responses[-1])["status"] == "error"
    assert served.handle("ping", request) is None, "the redelivery was carried out"
    assert len(attempts) == 2
    assert json.loads(responses[-1])["status"] == "ok"
    served.handle("ping", request)
    assert len(attempts) == 2, "once served, never again"
