"""Loyalty rules from the configuration and the progress the kiosk shows (edge_agent/loyalty.py)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.config import LoyaltyConfig, parse_config
from edge_agent.errors import ConfigError
from edge_agent.loyalty import Rules, Tier, progress

BASE = '[store]\nid = "s"\n[device]\nid = "d"\n'
RULES = LoyaltyConfig().rules()


def test_default_rules_are_brons_zilver_goud_at_10_points_per_euro():
    assert RULES.points_per_euro == 10
    assert [(tier.id, tier.threshold, tier.name["nl"]) for tier in RULES.tiers] == [
        ("brons", 0, "Brons"), ("zilver", 2000, "Zilver"), ("goud", 5000, "Goud")]


def test_progress_to_the_next_tier_in_points_and_euros():
    standing = progress(RULES, 4120, "zilver")
    assert (standing.tier.id, standing.next.id, standing.points_to_next, standing.euros_to_next) == (
        "zilver", "goud", 880, 88)
    assert standing.fraction == pytest.approx((4120 - 2000) / 3000, abs=1e-4)
    top = progress(RULES, 5120, "goud")
    assert top.next is None and top.points_to_next is None and top.fraction == 1.0
    assert progress(RULES, 1995, None).euros_to_next == 1, "a part of a euro still counts as one"


def test_centrals_tier_wins_over_the_points_and_an_unknown_tier_follows_the_points():
    kept = progress(RULES, 300, "goud")  # qualified last season, few points this one
    assert kept.tier.id == "goud" and kept.next is None
    assert progress(RULES, 2500, "platina").tier.id == "zilver"
    assert progress(RULES, -5, None).tier.id == "brons"


@settings(max_examples=200, deadline=None)
@given(st.integers(-100, 20_000), st.sampled_from([None, "brons", "zilver", "goud", "other"]))
def test_progress_is_between_zero_and_one_and_points_to_go_never_negative(points, tier):
    standing = progress(RULES, points, tier)
    assert 0.0 <= standing.fraction <= 1.0
    if standing.next is not None:
        assert standing.points_to_next >= 0 and standing.next.threshold > standing.tier.threshold
        assert standing.euros_to_next * RULES.points_per_euro >= standing.points_to_next


def test_loyalty_section_in_the_configuration():
    config = parse_config(BASE + '[loyalty]\npoints_per_euro = 1\n'
                                 '[[loyalty.tiers]]\nid = "basis"\nthreshold = 0\n'
                                 '[[loyalty.tiers]]\nid = "vip"\nthreshold = 1000\nname = { nl = "VIP" }\n')
    rules = config.loyalty.rules()
    assert rules.points_per_euro == 1 and [tier.id for tier in rules.tiers] == ["basis", "vip"]
    assert progress(rules, 250, None).euros_to_next == 750


@pytest.mark.parametrize(("tiers", "problem"), [
    ('[[loyalty.tiers]]\nid = "a"\nthreshold = 10\n', "the first tier starts at 0 points"),
    ('[[loyalty.tiers]]\nid = "a"\nthreshold = 0\n[[loyalty.tiers]]\nid = "b"\nthreshold = 0\n', "rise strictly"),
    ('[[loyalty.tiers]]\nid = "a"\nthreshold = 0\n[[loyalty.tiers]]\nid = "a"\nthreshold = 5\n', "unique"),
    ('points_per_euro = 0\n', "greater than 0"),
    ('[[loyalty.tiers]]\nid = "a"\nthreshold = 0\nkleur = "goud"\n', "unknown key"),
])
def test_bad_loyalty_rules_are_configuration_errors(tiers, problem):
    with pytest.raises(ConfigError, match=problem):
        parse_config(BASE + "[loyalty]\n" + tiers)


def test_rules_refuse_nonsense_when_built_in_code():
    with pytest.raises(ValueError, match="at least one tier"):
        Rules(10, ())
    with pytest.raises(ValueError, match="points_per_euro"):
        Rules(0, (Tier("a", 0, {}),))


def test_every_loyalty_setting_is_described():
    from edge_agent.config import TierConfig, TierName

    for model in (LoyaltyConfig, TierConfig, TierName):
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"
