"""Server-drawn SVG charts for the console's analytics pages: no JavaScript, no library, nothing downloaded.

Two shapes, each an ``<svg role="img">`` with a ``<title>`` and a ``<desc>`` (what it shows, its largest
value), every bar with its own ``<title>`` (label and number), and the numbers drawn as text where they fit:

* :func:`columns`: vertical bars over an ordered axis (footfall by hour, by day); axis labels every few bars;
* :func:`bars`: horizontal bars, one row per label with the number beside it (the funnel, proof of play,
  sessions by kind, response times), which reads well on a phone.

The page shows a table with the same numbers next to each chart (and the CSV export has them too). Colours are
SVG presentation attributes, not inline styles, so the console's Content-Security-Policy (no inline styles)
allows them. Labels are escaped here: the charts are inserted into the templates as markup.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

ACCENT = "#2f7d4f"
MUTED = "#5d6b62"
LINE = "#d9dfda"
WIDTH = 360  # viewBox units: about CSS pixels on a phone, scaled up to the chart's width on a desktop


def number(value: float) -> str:
    """A number as the charts write it: whole numbers without decimals, others with one."""
    return f"{value:.0f}" if float(value).is_integer() or abs(value) >= 100 else f"{value:.1f}"


def columns(chart_id: str, title: str, desc: str, points: Sequence[tuple[str, float]], unit: str = "",
            label_every: int = 1, height: int = 170) -> Markup:
    """Vertical bars for ``points`` (label, value) in order; every ``label_every``-th label is drawn on the axis.

    :param chart_id: a unique id in the page (the ``<title>``'s id is derived from it).
    :param title: what the chart shows (its accessible name).
    :param desc: one sentence more (its accessible description); the largest value is added.
    :param unit: after each number in the bars' titles ("" for a count).
    """
    top, bottom, left, right = 18, 22, 4, 4
    count = max(1, len(points))
    peak = max((value for _label, value in points), default=0.0)
    scale = (height - top - bottom) / peak if peak > 0 else 0.0
    step = (WIDTH - left - right) / count
    gap = min(3.0, step * 0.2)
    parts = [_open(chart_id, title, _described(desc, points, unit), WIDTH, height),
             (f'<line x1="{left}" y1="{height - bottom}" x2="{WIDTH - right}" y2="{height - bottom}" '
              f'stroke="{LINE}" stroke-width="1"/>')]
    show_values = step >= 14
    for index, (label, value) in enumerate(points):
        x = left + index * step + gap / 2
        bar = value * scale
        y = height - bottom - bar
        parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{step - gap:.1f}" height="{bar:.1f}" fill="{ACCENT}">'
                     f'<title>{escape(label)}: {number(value)}{escape(_unit(unit))}</title></rect>')
        middle = x + (step - gap) / 2
        if show_values and value > 0:
            parts.append(f'<text x="{middle:.1f}" y="{y - 3:.1f}" font-size="9" text-anchor="middle" '
                         f'fill="{MUTED}">{number(value)}</text>')
        if index % max(1, label_every) == 0:
            parts.append(f'<text x="{middle:.1f}" y="{height - 7}" font-size="10" text-anchor="middle" '
                         f'fill="{MUTED}">{escape(label)}</text>')
    if peak == 0:
        parts.append(f'<text x="{WIDTH / 2}" y="{height / 2}" font-size="12" text-anchor="middle" '
                     f'fill="{MUTED}">0</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def bars(chart_id: str, title: str, desc: str, rows: Sequence[tuple[str, float]], unit: str = "",
         row_height: int = 26) -> Markup:
    """Horizontal bars, one row per (label, value), the number written beside each bar.

    Parameters as :func:`columns`.
    """
    label_width, value_width, top = 118, 62, 4
    height = top * 2 + row_height * max(1, len(rows))
    peak = max((value for _label, value in rows), default=0.0)
    room = WIDTH - label_width - value_width
    parts = [_open(chart_id, title, _described(desc, rows, unit), WIDTH, height)]
    for index, (label, value) in enumerate(rows):
        y = top + index * row_height
        width = room * value / peak if peak > 0 else 0.0
        text = f"{number(value)}{_unit(unit)}"
        parts.append(f'<text x="{label_width - 6}" y="{y + row_height * 0.65:.1f}" font-size="12" '
                     f'text-anchor="end" fill="#1d2a22">{escape(_short(label))}</text>')
        parts.append(f'<rect x="{label_width}" y="{y + 4}" width="{max(width, 1.0):.1f}" height="{row_height - 8}" '
                     f'rx="3" fill="{ACCENT if value > 0 else LINE}"><title>{escape(label)}: {escape(text)}</title>'
                     f'</rect>')
        parts.append(f'<text x="{label_width + max(width, 1.0) + 5:.1f}" y="{y + row_height * 0.65:.1f}" '
                     f'font-size="12" fill="{MUTED}">{escape(text)}</text>')
    if not rows:
        parts.append(f'<text x="{WIDTH / 2}" y="{height / 2 + 4}" font-size="12" text-anchor="middle" '
                     f'fill="{MUTED}">-</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _open(chart_id: str, title: str, desc: str, width: int, height: int) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
            f'aria-labelledby="{chart_id}-t {chart_id}-d" id="{chart_id}" class="chart-svg">'
            f'<title id="{chart_id}-t">{escape(title)}</title><desc id="{chart_id}-d">{escape(desc)}</desc>')


def _described(desc: str, points: Sequence[tuple[str, float]], unit: str) -> str:
    if not points:
        return desc
    label, value = max(points, key=lambda point: point[1])
    return f"{desc} Max: {label} {number(value)}{_unit(unit)}."


def _unit(unit: str) -> str:
    return f" {unit}" if unit else ""


def _short(label: str, limit: int = 17) -> str:
    return label if len(label) <= limit else label[:limit - 1] + "…"
