"""k-anonymity of what leaves the device: no published row counts fewer than k sessions. Pure, no I/O.

A row of a metric that counts sessions (its ``sessions`` is not None) is
published as it is when it counts at least ``k``. The rows below ``k``:

* of a metric where each session is in one row only (:data:`EXCLUSIVE`: a
  visit has one kind and ends in one phase) are summed into one row with the
  dimension :data:`OTHER` ("all other kinds / phases"); that row is published
  when it reaches ``k`` (a coarser bucket: every dimension);
* otherwise (and when the merged row stays below ``k``) they are withheld
  from the hour and carried into the store's day: :func:`day_rows` sums what
  the day's hours withheld, per metric and dimension, and publishes what then
  reaches ``k`` (merging the exclusive metrics' rest into :data:`OTHER` once
  more). What still falls short is never sent.

Summing ``sessions`` over rows or hours counts distinct sessions only where a
session is in one row of them: true for the exclusive metrics across
dimensions, and for every metric across hours for a visit (it is folded into
one hour); a shopper who gave feedback twice in two hours counts twice (the
agent does not keep session ids beyond the hour, on purpose). Rows that count
no sessions (footfall, presence, proof of play) pass unchanged: they describe
the camera's anonymous counts and the screen, which the camera's own events
already send upstream as they are.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..contract.payloads_analytics import Metric

#: Metrics whose rows split the sessions without overlap: their rows below k may be merged across dimensions.
EXCLUSIVE = frozenset({Metric.SESSIONS, Metric.PHASE_EXIT})
OTHER = "other"


@dataclass(frozen=True)
class Row:
    """One bucket row: a metric for a dimension value, its count, the sessions behind it, its sum."""

    metric: Metric
    dim: str
    count: int
    sessions: int | None
    total: float


def split(rows: Iterable[Row], k: int) -> tuple[list[Row], list[Row]]:
    """The rows of one period that may be published, and those withheld (to carry into a coarser period).

    :param rows: one period's rows, one per (metric, dim).
    :param k: the smallest number of sessions a published row may count (at least 1).
    :raises ValueError: for k below 1.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, not {k}")
    published: list[Row] = []
    below: dict[Metric, list[Row]] = {}
    for row in rows:
        if row.sessions is None or row.sessions >= k:
            published.append(row)
        else:
            below.setdefault(row.metric, []).append(row)
    withheld: list[Row] = []
    for metric, rest in below.items():
        merged = _merged(metric, rest)
        if metric in EXCLUSIVE and len(rest) > 1 and (merged.sessions or 0) >= k:
            published.append(merged)
        else:
            withheld.extend(rest)
    return published, withheld


def day_rows(withheld: Iterable[Row], k: int) -> list[Row]:
    """What the store's day may publish of what its hours withheld: summed per (metric, dim), then as
    :func:`split` (the rows it withholds again are never sent)."""
    sums: dict[tuple[Metric, str], Row] = {}
    for row in withheld:
        key = (row.metric, row.dim)
        before = sums.get(key)
        sums[key] = row if before is None else Row(
            row.metric, row.dim, before.count + row.count, (before.sessions or 0) + (row.sessions or 0),
            before.total + row.total)
    published, _never = split(sums.values(), k)
    return published


def _merged(metric: Metric, rows: list[Row]) -> Row:
    return Row(metric, OTHER, sum(row.count for row in rows), sum(row.sessions or 0 for row in rows),
               sum(row.total for row in rows))
