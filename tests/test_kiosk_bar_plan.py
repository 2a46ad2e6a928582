"""The bars' arithmetic (kiosk/bar_plan.py) for generated labels and windows (hypothesis), without a display.

What the kiosk on Xvfb shows is in ``test_kiosk_room.py``; here the promises behind it hold for any widths:
the buttons keep their order, no row is wider than the window (a button wider than a row has a row of its
own), every button is in the bar or behind Meer, Klaar always shows last, and the rows the bottom bar may
take keep both bars within the share of the height they plan for.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.bar_plan import BARS_SHARE, MORE, bar_height, bottom_rows, flow, plan, top_rows

widths = st.lists(st.floats(20, 400), min_size=1, max_size=9)


def row_width(row: list[int], sizes: list[float], more: float, spacing: float) -> float:
    return sum(more if index == MORE else sizes[index] for index in row) + spacing * (len(row) - 1)


@given(widths, st.floats(100, 2000), st.integers(1, 3), st.floats(0, 20), st.floats(30, 150), st.booleans())
def test_a_plan_keeps_the_order_fits_the_width_and_hides_only_behind_meer(sizes, width, rows, spacing, more,
                                                                           keep_last):
    planned, hidden = plan(sizes, width, rows, spacing, more, keep_last)
    shown = [index for row in planned for index in row if index != MORE]
    assert len(planned) <= rows
    assert sorted(shown + hidden) == list(range(len(sizes))), "every button is in the bar or behind Meer"
    body = [index for index in shown if not (keep_last and index == len(sizes) - 1)]
    assert body + hidden == sorted(body + hidden), "the order is kept: Meer holds the ones after the bar's"
    assert (MORE in planned[-1]) == bool(hidden)
    if keep_last:
        assert planned[-1][-1] == len(sizes) - 1, "Klaar shows, last"
    for row in planned:
        if row_width(row, sizes, more, spacing) <= width + 1e-6:
            continue
        if hidden and row is planned[-1]:  # Meer and Klaar alone may be wider than the row; nothing joins them
            assert all(index == MORE or (keep_last and index == len(sizes) - 1) for index in row), row
        else:
            assert len(row) == 1, f"row {row} is wider than {width} with more than one button"


@given(widths, st.floats(100, 2000), st.floats(0, 20))
def test_buttons_that_fit_the_rows_need_no_meer(sizes, width, spacing):
    lines = flow(sizes, width, spacing)
    planned, hidden = plan(sizes, width, len(lines), spacing, 80.0, keep_last=True)
    assert planned == lines and hidden == []


@given(st.sampled_from([(800, 480), (480, 800), (1920, 1080), (1080, 1920), (1024, 600), (1280, 800)]),
       st.sampled_from([1.0, 1.25, 1.5]), st.floats(0, 80))
def test_the_bottom_bar_rows_keep_the_bars_within_their_share(window, scale, demo):
    width, height = window
    unit = max(12.0, min(width, height) / 27.0) * scale  # kiosk.app.KioskApp._on_resize
    target = max(34.0, unit * 2.4)
    for top in (1, 2):
        top_height = bar_height(top, target, unit)
        rows = bottom_rows(height, top_height, demo, target, unit)
        assert rows >= 1
        if rows > 1:
            assert top_height + demo + bar_height(rows, target, unit) <= BARS_SHARE * height + 1e-6


def test_the_top_bar_takes_two_rows_only_on_a_portrait_window_too_narrow_for_one():
    assert top_rows(480, 800, 700) == 2 and top_rows(480, 800, 470) == 1
    assert top_rows(800, 480, 1200) == 1, "landscape: the store's name is shortened instead"


@pytest.mark.parametrize("rows", [1, 2])
def test_a_button_wider_than_the_row_still_shows(rows):
    planned, hidden = plan([500.0, 60.0], 300.0, rows, 5.0, 60.0, keep_last=True)
    assert [index for row in planned for index in row].count(1) == 1 and (hidden == [0] or 0 in planned[0])
