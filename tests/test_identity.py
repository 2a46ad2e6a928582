"""The tap decision: plain domain logic, checked alone and with generated inputs."""

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from edge_agent.identity import (
    DEFAULT_POLICY,
    Assurance,
    CardLink,
    Category,
    Outcome,
    card_token,
    decide,
)
from tests.support.uid_spellings import assert_no_uid

NOW = datetime(2026, 4, 1, 9, 30, tzinfo=UTC)
CUSTOMER = CardLink("customer", "c-0123456789abcdef")
FULL = {"recognition": NOW + timedelta(days=30), "personal-offers": NOW + timedelta(days=30)}


def test_opted_in_customer_is_recognised_with_what_the_assurance_allows():
    uid = decide(CUSTOMER, FULL, Assurance.UID, NOW)
    sun = decide(CUSTOMER, FULL, Assurance.SUN, NOW)
    assert uid.outcome is sun.outcome is Outcome.RECOGNISED
    assert Category.POINTS not in uid.may_show and Category.PERSONAL_PRICES not in uid.may_show
    assert Category.POINTS in sun.may_show and Category.PERSONAL_PRICES in sun.may_show


def test_consent_that_expired_a_second_ago_already_stops_recognition():
    expired = {"recognition": NOW - timedelta(seconds=1)}
    decision = decide(CUSTOMER, expired, Assurance.SUN, NOW)
    assert decision.outcome is Outcome.ANONYMOUS and decision.customer is None and decision.invite_to_enrol
    assert not decision.may_show


def test_without_personal_offers_consent_no_offers_or_personal_prices():
    decision = decide(CUSTOMER, {"recognition": NOW + timedelta(days=1)}, Assurance.SUN, NOW)
    assert decision.outcome is Outcome.RECOGNISED
    assert not decision.may_show & {Category.OFFERS, Category.PERSONAL_PRICES}


def test_unknown_card_is_invited_and_staff_badge_never_becomes_a_customer():
    unknown = decide(None, {}, Assurance.UID, NOW)
    assert unknown.outcome is Outcome.UNKNOWN_CARD and unknown.invite_to_enrol
    staff = decide(CardLink("staff", "emp-17"), FULL, Assurance.SUN, NOW)
    assert staff.outcome is Outcome.STAFF and staff.customer is None and staff.staff == "emp-17"


def test_rejected_read_has_no_identity():
    decision = decide(CUSTOMER, FULL, Assurance.NONE, NOW, reason="replayed-counter")
    assert decision.outcome is Outcome.REJECTED and decision.customer is None
    assert decision.reason == "replayed-counter"


@given(offset=st.integers(min_value=-10**7, max_value=10**7), assurance=st.sampled_from(list(Assurance)),
       kind=st.sampled_from(["customer", "staff", None]))
def test_a_customer_is_only_ever_recognised_with_valid_consent(offset, assurance, kind):
    link = CardLink(kind, "c-0123456789abcdef") if kind else None
    consents = {"recognition": NOW + timedelta(seconds=offset)}
    decision = decide(link, consents, assurance, NOW)
    if decision.outcome is Outcome.RECOGNISED:
        assert offset > 0 and kind == "customer" and assurance is not Assurance.NONE
        assert decision.may_show <= DEFAULT_POLICY[assurance]
    else:
        assert decision.customer is None and not decision.may_show


def test_card_token_is_keyed_and_hides_the_uid():
    uid = bytes.fromhex("04de5f1eacc040")
    token = card_token(b"k" * 32, uid)
    assert token.startswith("k-") and len(token) == 66
    assert_no_uid(token, [uid], "the token")
    assert token != card_token(b"j" * 32, uid)
    assert token == card_token(b"k" * 32, uid)
