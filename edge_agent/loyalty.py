"""Loyalty tiers and the progress to the next one. Plain Python, no I/O.

Central is the source of truth for a customer's points and tier; the store's
rules (``[loyalty]`` in the configuration) only say how points are earned and
where the tiers begin, so the kiosk can show "nog 880 punten (€88) tot Goud".
When central's tier is not one the rules know, the tier follows from the points.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import pairwise


@dataclass(frozen=True)
class Tier:
    id: str
    threshold: int  # points from which the tier is reached
    name: Mapping[str, str]


@dataclass(frozen=True)
class Rules:
    """Points per euro and the tiers, lowest threshold first (the first starts at 0).

    :raises ValueError: for no tiers, a first threshold above 0, thresholds not
        strictly rising, repeated ids or points per euro not above 0.
    """

    points_per_euro: float
    tiers: tuple[Tier, ...]

    def __post_init__(self) -> None:
        if self.points_per_euro <= 0:
            raise ValueError("points_per_euro must be above 0")
        if not self.tiers:
            raise ValueError("at least one tier is needed")
        if self.tiers[0].threshold != 0:
            raise ValueError("the first tier starts at 0 points")
        thresholds = [tier.threshold for tier in self.tiers]
        if any(later <= earlier for earlier, later in pairwise(thresholds)):
            raise ValueError("tier thresholds must rise strictly")
        ids = [tier.id for tier in self.tiers]
        if len(set(ids)) != len(ids):
            raise ValueError("tier ids must be unique")

    def tier(self, tier_id: str | None) -> Tier | None:
        return next((tier for tier in self.tiers if tier.id == tier_id), None)

    def tier_for_points(self, points: int) -> Tier:
        return [tier for tier in self.tiers if tier.threshold <= max(0, points)][-1]


@dataclass(frozen=True)
class Progress:
    """Where a customer stands: ``next`` is None at the top tier (then ``fraction`` is 1)."""

    tier: Tier
    points: int
    next: Tier | None
    points_to_next: int | None
    euros_to_next: int | None
    fraction: float


def progress(rules: Rules, points: int, tier_id: str | None = None) -> Progress:
    """The progress of a customer with ``points`` in tier ``tier_id`` (central's; derived from points
    when None or unknown) towards the next tier."""
    points = max(0, points)
    tier = rules.tier(tier_id) or rules.tier_for_points(points)
    higher = [candidate for candidate in rules.tiers if candidate.threshold > tier.threshold]
    if not higher:
        return Progress(tier, points, None, None, None, 1.0)
    following = higher[0]
    to_go = max(0, following.threshold - points)
    span = following.threshold - tier.threshold
    fraction = min(1.0, max(0.0, (points - tier.threshold) / span))
    return Progress(tier, points, following, to_go, math.ceil(to_go / rules.points_per_euro), round(fraction, 4))
