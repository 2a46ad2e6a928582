"""The store console's answers to a call and clienteling by consent, in process on a real database.

The store holds the example fixtures (config/central-fixtures.example.yaml: Sanne, gold, with purchases; Anna of
staff), pushed through the inbox as central would. The services are wired as the agent wires them: shopping,
then staff (which records each call and answers the console), then clienteling (which follows the calls).
What the agent publishes straight to the broker is captured; events are read back from the outbox.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from edge_agent.central_push import load, messages
from edge_agent.clienteling import Clienteling
from edge_agent.commands import CommandError, Commands
from edge_agent.config import LoyaltyConfig, StaffConfig, parse_config
from edge_agent.contract import (
    CLIENTELING,
    SEEN_USE,
    SHARED_USE,
    STAFF_CALL,
    CallAnswerRequest,
    CallShareRequest,
    ClientelingViewed,
    SessionRequest,
    StaffAssistRequest,
    Topics,
)
from edge_agent.identity import Assurance, Category
from edge_agent.inbox import Inbox
from edge_agent.link import Received
from edge_agent.matching import MatchService
from edge_agent.nfc.reader import CardRead
from edge_agent.outbox import Outbox
from edge_agent.sessions import SessionService
from edge_agent.shopping import ShoppingService
from edge_agent.staff import StaffService
from edge_agent.store import Store
from tests.support.cards import PIET_UID, SANNE, SANNE_UID, STORE_HMAC_KEY_HEX

ROOT = Path(__file__).resolve().parent.parent
KEY = bytes.fromhex(STORE_HMAC_KEY_HEX)
EXAMPLE = ROOT / "config" / "central-fixtures.example.yaml"
STORE, DEVICE = "demo-store", "kiosk-1"
TOPICS = Topics(STORE, DEVICE)
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
GAZONMEST_5, SNOEISCHAAR = "08712345000011", "08712345000059"
EVERYTHING = {assurance: frozenset(Category) for assurance in (Assurance.UID, Assurance.SUN, Assurance.APP)}
SHARED_TOPIC = CLIENTELING.topic_for(STORE, DEVICE)
CALL_TOPIC = STAFF_CALL.topic_for(STORE, DEVICE)


class World:
    """The agent's services on one database, wired as edge_agent.agent wires them."""

    def __init__(self, tmp_path: Path, policy=None):
        self.published: list[tuple[str, dict]] = []
        self.store = Store(tmp_path / "agent.db")
        self.outbox = Outbox(self.store, TOPICS, max_rows=10_000)
        config = parse_config(f'[store]\nid="{STORE}"\n[device]\nid="{DEVICE}"\n')
        self.commands = Commands(config, lambda *a: None)
        inbox = Inbox(self.store, self.outbox, TOPICS, self.commands, on_probe=lambda r: None)
        for message in messages(load(EXAMPLE, hmac_key=KEY), STORE):
            inbox.handle(Received(None, message.topic, message.payload, 0, 1, False))
        assert inbox.rejected == 0

        def publish(topic: str, payload: bytes) -> bool:
            self.published.append((topic, json.loads(payload)))
            return True

        self.sessions = SessionService(self.store, self.outbox, publish, device=DEVICE, session_topic=TOPICS.session,
                                       hmac_key=KEY, policy=policy, now=lambda: NOW)
        rules = LoyaltyConfig().rules()
        ShoppingService(self.store, self.outbox, MatchService(self.store, "Europe/Amsterdam", now=lambda: NOW),
                        rules, self.sessions).register(self.commands)
        self.staff = StaffService(self.store, self.outbox, self.sessions, publish, STORE, DEVICE, StaffConfig())
        self.staff.register(self.commands)
        self.clienteling = Clienteling(self.store, self.sessions, self.staff.calls, self.staff.answers, rules,
                                       publish, SHARED_TOPIC)
        self.clienteling.register(self.commands)

    def run(self, command: str, request):
        handler = self.commands.handler(command)
        assert handler is not None, command
        return handler(request)

    def tap(self, uid: bytes) -> str:
        self.sessions.on_tap(CardRead(uid=uid, tag_type="Type2Tag", ndef_uri=None, problem=None))
        session = self.sessions._session
        assert session is not None
        return session.id

    def call(self, session: str | None, gtin: str | None = None) -> str:
        return self.run("staff-assist", StaffAssistRequest(session=session, phase="inform", gtin=gtin)).event

    def on(self, topic: str) -> list[dict]:
        return [data["data"] for t, data in self.published if t == topic]

    def audits(self) -> list[tuple[str, str, str]]:
        return [(d["staff"], d["action"], d["result"]) for d in
                (json.loads(p.payload)["data"] for p in self.outbox.after(0, 10_000)
                 if p.topic.endswith("/event/staff-audit"))]

    def data_use(self) -> list[tuple[str, list[str]]]:
        with self.store.reading() as conn:
            return [(use, json.loads(categories)) for use, categories in
                    conn.execute("SELECT use, categories FROM data_use WHERE customer = ? ORDER BY id", (SANNE,))]


@pytest.fixture
def world(tmp_path):
    world = World(tmp_path, policy=EVERYTHING)
    yield world
    world.sessions.close()
    world.store.close()


@pytest.fixture
def uid_world(tmp_path):
    """The default privacy policy: a UID-only card may show first name and tier, not the purchase history."""
    world = World(tmp_path)
    yield world
    world.sessions.close()
    world.store.close()


def _share(world: World, session: str, call: str, share: bool = True):
    return world.run("staff-call-share", CallShareRequest(session=session, call=call, share=share))


def _view(world: World, call: str, staff: str = "s-anna"):
    return world.run("console-clienteling-viewed", ClientelingViewed(call=call, staff=staff))


def test_a_shoppers_call_is_anonymous_until_she_agrees_then_staff_see_name_tier_and_purchases_of_that_category(
        world):
    session = world.tap(SANNE_UID)
    call = world.call(session, GAZONMEST_5)
    event = next(json.loads(p.payload)["data"] for p in world.outbox.after(0, 10_000)
                 if p.topic.endswith("/event/staff-assist"))
    assert event == {"session": session, "phase": "inform", "topic": None, "gtin": GAZONMEST_5}
    assert world.on(SHARED_TOPIC) == [], "nothing about her before she said yes"
    assert not any(use == SHARED_USE for use, _ in world.data_use())

    assert _share(world, session, call).shared is True
    [shared] = world.on(SHARED_TOPIC)
    assert (shared["call"], shared["state"], shared["first_name"], shared["tier"]) == (call, "shared", "Sanne", "Goud")
    assert (shared["product"], shared["category"], shared["phase"]) == ("Gazonmest 5 kg", "gazonmest", "inform")
    # Her purchases in the category of the product she was on: the lawn fertiliser, not the mower oil or rain barrel.
    assert [(line["name"], line["channel"]) for line in shared["purchases"]] == [("Gazonmest 10 kg", "shop")]
    assert world.data_use()[-1] == (SHARED_USE, ["first_name", "tier", "purchase_history"])


def test_a_no_keeps_the_call_anonymous_and_a_view_reported_for_it_is_not_logged(world):
    session = world.tap(SANNE_UID)
    call = world.call(session)
    assert _share(world, session, call, share=False).shared is False
    assert world.on(SHARED_TOPIC) == []
    before = world.data_use()
    assert _view(world, call).logged is False
    assert world.data_use() == before
    with pytest.raises(CommandError, match="no open call of this session"):
        _share(world, session, call)  # the answer was no, for this call: not asked again


def test_every_view_by_staff_is_in_her_data_use_log_and_handling_the_call_ends_the_sharing(world):
    session = world.tap(SANNE_UID)
    call = world.call(session, SNOEISCHAAR)
    _share(world, session, call)
    assert _view(world, call).logged is True
    assert _view(world, call).logged is True
    views = [entry for entry in world.data_use() if entry[0].startswith(SEEN_USE)]
    assert views == [(SEEN_USE + "Anna", ["first_name", "tier"])] * 2, \
        "no purchases of the shears' category: none shown, none logged"
    my_data = world.sessions.my_data(SessionRequest(session=session))
    assert SEEN_USE + "Anna" in [entry.use for entry in my_data.data_use], \
        "she reads it at the kiosk"

    world.run("console-call-answer", CallAnswerRequest(call=call, answer="handled", staff="s-anna"))
    assert world.on(SHARED_TOPIC)[-1] == {"call": call, "state": "ended", "first_name": None, "tier": None,
                                          "phase": None, "gtin": None, "product": None, "category": None,
                                          "purchases": []}
    assert _view(world, call).logged is False
    assert len([entry for entry in world.data_use() if entry[0].startswith(SEEN_USE)]) == 2


def test_the_session_ending_ends_the_sharing_and_a_new_call_is_asked_afresh(world):
    session = world.tap(SANNE_UID)
    call = world.call(session)
    _share(world, session, call)
    world.sessions.end("done", session)
    assert world.on(SHARED_TOPIC)[-1]["state"] == "ended"
    assert _view(world, call).logged is False
    again = world.tap(SANNE_UID)
    with pytest.raises(CommandError, match="no open call"):
        _share(world, again, call)  # the consent was for that visit's call only


def test_a_call_of_another_session_or_of_no_recognised_shopper_cannot_be_shared(world):
    piet = world.tap(PIET_UID)
    piets_call = world.call(piet)
    sanne = world.tap(SANNE_UID)
    with pytest.raises(CommandError, match="no open call of this session"):
        _share(world, sanne, piets_call)
    anonymous_call = world.call(None)
    with pytest.raises(CommandError, match="no open call"):
        _share(world, sanne, anonymous_call)
    assert world.on(SHARED_TOPIC) == []


def test_a_uid_only_card_shares_no_purchase_history_even_with_a_yes(uid_world):
    session = uid_world.tap(SANNE_UID)
    call = uid_world.call(session, GAZONMEST_5)
    _share(uid_world, session, call)
    [shared] = uid_world.on(SHARED_TOPIC)
    assert shared["first_name"] == "Sanne" and shared["purchases"] == []
    assert uid_world.data_use()[-1] == (SHARED_USE, ["first_name", "tier"])


def test_coming_from_the_console_tells_the_kiosk_the_name_and_is_audited_once_though_sent_again(world):
    call = world.call(None)
    first = world.run("console-call-answer", CallAnswerRequest(call=call, answer="coming", staff="s-anna"))
    again = world.run("console-call-answer", CallAnswerRequest(call=call, answer="coming", staff="s-anna"))
    assert (first.changed, again.changed) == (True, False)
    assert world.on(CALL_TOPIC) == [{"call": call, "state": "coming", "display_name": "Anna"}] * 2
    assert world.audits().count(("s-anna", "call-coming", "ok")) == 1

    closed = world.run("console-call-answer", CallAnswerRequest(call=call, answer="handled", staff="s-anna"))
    resent = world.run("console-call-answer", CallAnswerRequest(call=call, answer="handled", staff="s-anna"))
    assert (closed.changed, resent.changed) == (True, False)
    assert world.on(CALL_TOPIC)[-1] == {"call": call, "state": "handled", "display_name": None}
    assert world.audits().count(("s-anna", "call-handled", "ok")) == 1
    assert world.staff.calls.is_open(call) is False
    with pytest.raises(CommandError, match="handled already"):
        world.run("console-call-answer", CallAnswerRequest(call=call, answer="coming", staff="s-anna"))


def test_an_answer_naming_no_staff_member_or_no_call_of_this_device_is_refused_and_changes_nothing(world):
    call = world.call(None)
    with pytest.raises(CommandError, match="no such member of staff"):
        world.run("console-call-answer", CallAnswerRequest(call=call, answer="handled", staff="s-mallory"))
    assert ("s-mallory", "call-handled", "refused") in world.audits()
    assert world.staff.calls.is_open(call) is True
    with pytest.raises(CommandError, match="no such call at this device"):
        world.run("console-call-answer", CallAnswerRequest(call="01a20735-b502-769a-a830-637530718552", answer="coming",
                                                   staff="s-anna"))
    assert world.on(CALL_TOPIC) == []
