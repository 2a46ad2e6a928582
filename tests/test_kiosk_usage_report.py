"""The kiosk's usage reports (kiosk/usage_report.py) without a display: one report per screen a visit left and
per attract item ended, visits cut where a session begins or ends, staff mode unreported, nothing personal,
and reports kept while the broker is away."""

from __future__ import annotations

from edge_agent.contract import COMMANDS
from kiosk.usage_report import BACKLOG, UsageReporter


class Clocks:
    def __init__(self) -> None:
        self.now = 1_780_000_000.0

    def wall(self) -> float:
        return self.now

    def mono(self) -> float:
        return self.now - 1_700_000_000.0


def reporter(connected: list[bool] | None = None):
    sent: list[tuple[str, dict]] = []
    up = connected if connected is not None else [True]

    def send(command: str, fields: dict) -> bool:
        if not up[0]:
            return False
        COMMANDS[command].model.model_validate(fields)  # every report fits the contract
        sent.append((command, fields))
        return True

    clocks = Clocks()
    return UsageReporter(send, clocks.wall, clocks.mono), sent, clocks


def test_a_visit_reports_each_screen_it_left_with_its_time_and_the_last_one_ends_it():
    usage, sent, clocks = reporter()
    usage.shown("bereik", "reach", None, None, False)
    usage.shown("inspireer", "inspire", None, None, False)
    clocks.now += 12
    usage.touched()
    usage.shown("ontzorg", "after-care", None, None, False)
    clocks.now += 30
    usage.shown("ontzorg", "after-care", None, None, False)  # a state change on the same screen: nothing
    usage.shown("bereik", "reach", None, None, False)
    assert [(c, f["screen"], f["shown_s"], f["touched"], f["ends_visit"], f["kind"]) for c, f in sent] == [
        ("report-screen", "inspireer", 12.0, True, False, "browse"),
        ("report-screen", "ontzorg", 30.0, False, True, "browse")]
    assert sent[0][1]["visit"] == sent[1][1]["visit"]


def test_a_card_tapped_while_browsing_ends_the_browse_and_starts_a_visit_of_the_sessions_kind_without_its_id():
    usage, sent, clocks = reporter()
    session = "01a20735-b502-769a-a830-637530718552"
    usage.shown("inspireer", "inspire", None, None, False)
    clocks.now += 5
    usage.shown("begrijp", "understand", session, "recognised", False)
    clocks.now += 5
    usage.shown("enrolment", "understand", "01a20735-b502-769a-a830-637530718553", "unknown-card", False)
    clocks.now += 5
    usage.shown("bereik", "reach", None, None, False)
    assert [(f["kind"], f["ends_visit"]) for _c, f in sent] == [
        ("browse", True), ("recognised", True), ("enrolment", True)]
    assert len({f["visit"] for _c, f in sent}) == 3
    assert session not in repr(sent)


def test_staff_mode_is_not_a_visit_and_is_not_reported():
    usage, sent, _clocks = reporter()
    usage.shown("staff-pin", "continue", "01a20735-b502-769a-a830-637530718552", "staff", True)
    usage.shown("staff", "continue", "01a20735-b502-769a-a830-637530718552", "staff", True)
    usage.shown("bereik", "reach", None, None, False)
    assert sent == []


def test_each_attract_item_is_reported_when_the_next_comes_up_or_the_loop_is_left():
    usage, sent, clocks = reporter()
    usage.play_started("voorjaar", "image", "tuincentrum 1")
    clocks.now += 8
    usage.play_started(None, "text")
    clocks.now += 6
    usage.play_stopped()
    usage.play_stopped()
    assert [(f["item"], f["media"], f["shown_s"], f["pack"]) for _c, f in sent] == [
        ("voorjaar", "image", 8.0, "tuincentrum 1"), ("builtin", "text", 6.0, None)]


def test_reports_wait_while_the_broker_is_away_and_go_in_order_with_the_next_one():
    up = [False]
    usage, sent, clocks = reporter(up)
    for index in range(BACKLOG + 10):
        usage.play_started(f"item-{index}", "image")
        clocks.now += 1
    assert sent == [] and usage.waiting == BACKLOG, "the oldest beyond the bound are dropped"
    up[0] = True
    usage.play_started("last", "image")
    assert [f["item"] for _c, f in sent][:2] == ["item-10", "item-11"] and usage.waiting == 0
