"""The arithmetic of the kiosk's bars, without Kivy: rows in a width, what goes under Meer, rows in a height.

:mod:`kiosk.bars` places the buttons with it; the rule it keeps (the bars leave at least 65 % of the window's
height to the screens) is described there. Widths and heights are in pixels; ``unit`` is the app's base text
size (:attr:`kiosk.app.KioskApp.unit`) and ``target`` its smallest touch target.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

#: The height the two bars plan for, as a share of the window's (the rule is at most 35 %).
BARS_SHARE = 0.30
#: What a planned row holds for the Meer button.
MORE = -1
#: The top bar's padding and spacing, in units (``shell.kv``).
BAR_PAD = 0.3
BAR_SPACING = 0.3


def flow(widths: Sequence[float], width: float, spacing: float) -> list[list[int]]:
    """The indices of ``widths`` in rows of at most ``width`` (with ``spacing`` between), in order; an item
    wider than a row has a row of its own."""
    rows: list[list[int]] = []
    used = 0.0
    for index, item in enumerate(widths):
        if rows and used + spacing + item <= width:
            rows[-1].append(index)
            used += spacing + item
        else:
            rows.append([index])
            used = item
    return rows


def plan(widths: Sequence[float], width: float, rows: int, spacing: float, more: float,
         keep_last: bool) -> tuple[list[list[int]], list[int]]:
    """The bottom bar's rows (indices of ``widths``, :data:`MORE` for the Meer button) and the indices that
    open from Meer.

    :param widths: each button's width, in order.
    :param width: a row's width.
    :param rows: the most rows there may be (at least 1).
    :param more: the Meer button's width.
    :param keep_last: the last button (Klaar) always shows, at the end of the last row.
    """
    rows = max(1, rows)
    lines = flow(widths, width, spacing)
    if len(lines) <= rows:
        return lines, []
    count = len(widths)
    body = list(range(count - 1 if keep_last and count else count))
    tail = [MORE, count - 1] if keep_last and count else [MORE]
    tail_width = more + (spacing + widths[-1] if keep_last and count else 0.0)
    placed: list[list[int]] = []
    position = 0
    for row in range(rows):
        last = row == rows - 1
        room = width - (tail_width + spacing if last else 0.0)
        line: list[int] = []
        used = 0.0
        while position < len(body):
            item = widths[body[position]]
            needed = item if not line else used + spacing + item
            if needed > room and (line or last):
                break
            line.append(body[position])
            used = needed
            position += 1
        placed.append(line + tail if last else line)
    return placed, body[position:]


def top_rows(window_width: float, window_height: float, needed: float) -> int:
    """2 when a portrait window's top bar needs ``needed`` pixels in one row and has less, else 1."""
    return 2 if window_height > window_width and needed > window_width else 1


def bar_height(rows: int, target: float, unit: float) -> float:
    """The height of a bar of ``rows`` rows of buttons (``shell.kv``: padding and spacing)."""
    return rows * target + 2 * BAR_PAD * unit + (rows - 1) * BAR_SPACING * unit


def bottom_rows(window_height: float, top_height: float, other: float, target: float, unit: float) -> int:
    """How many rows the bottom bar may take: as many as keep the bars (and ``other`` fixed rows, the demo's)
    within :data:`BARS_SHARE` of the height, at least one."""
    room = BARS_SHARE * window_height - top_height - other - 2 * BAR_PAD * unit + BAR_SPACING * unit
    return max(1, math.floor(room / (target + BAR_SPACING * unit)))
