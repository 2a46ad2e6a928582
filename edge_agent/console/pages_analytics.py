"""The analytics pages: how the kiosks are used, per device and for the store, a day by hour or a week by day.

``/analytics?device=<id>&view=day|week&date=YYYY-MM-DD`` (no device: the whole store; no date: the newest day
the console holds) shows footfall, staff calls and the time to answer them, engagement, sessions by kind, the
phase funnel (reached, time per phase, where sessions end) and proof of play as server-drawn SVG
(:mod:`.charts`), each with a table of its numbers. ``/analytics.csv`` with the same query gives the same
numbers as CSV; ``/analytics/charts`` is the charts alone, which the page reloads when a device's hour arrives
(live channel ``analytics``). Read-only pages: no form posts, so no CSRF token is involved.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response

from . import charts
from .analytics import KINDS, PHASES, AnalyticsView, ConsoleAnalytics, View
from .service import Console
from .web import page, render

DEVICE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
NAMES = dict(PHASES) | dict(KINDS)


def _query(request: Request, analytics: ConsoleAnalytics) -> tuple[str, View, date] | None:
    """The page's device, view and day from the query string; None when one of them is malformed."""
    params = request.query_params
    device = params.get("device", "")
    view = params.get("view", "day")
    if (device and not DEVICE.match(device)) or view not in ("day", "week"):
        return None
    text = params.get("date", "")
    try:
        day = date.fromisoformat(text) if text else analytics.latest_day()
    except ValueError:
        return None
    return device, ("day" if view == "day" else "week"), day


def _analytics(request: Request) -> ConsoleAnalytics:
    console: Console = request.app.state.console
    return console.analytics


async def analytics_page(request: Request) -> Response:
    """The charts page, with its choice of device, day and week."""
    analytics = _analytics(request)
    query = _query(request, analytics)
    if query is None:
        return render(request, "error.html", {"message": "Onbekend apparaat, weergave of datum."}, status_code=400)
    device, view, day = query
    figures = analytics.view(device, view, day)
    step = timedelta(days=1 if view == "day" else 7)
    return render(request, "analytics.html", {
        "figures": figures, "charts": _charts(request, figures), "devices": analytics.devices(), "device": device,
        "view": view, "day": day, "previous": day - step, "next": day + step,
        "query": f"device={device}&view={view}&date={day.isoformat()}"})


async def analytics_charts(request: Request) -> Response:
    """The charts alone (the page reloads them on a live event)."""
    analytics = _analytics(request)
    query = _query(request, analytics)
    if query is None:
        return render(request, "error.html", {"message": "Onbekend apparaat, weergave of datum."}, status_code=400)
    figures = analytics.view(*query)
    return render(request, "analytics_charts.html", {"figures": figures, "charts": _charts(request, figures)})


async def analytics_csv(request: Request) -> Response:
    """The same numbers as CSV, for a spreadsheet."""
    analytics = _analytics(request)
    query = _query(request, analytics)
    if query is None:
        return Response("unknown device, view or date\n", status_code=400, media_type="text/plain")
    device, view, day = query
    figures = analytics.view(device, view, day)
    name = f"analytics-{device or 'store'}-{view}-{day.isoformat()}.csv"
    return Response(figures.csv(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@dataclass(frozen=True)
class Chart:
    """One chart of the page: its SVG and the same numbers for its table, labels in the page's language."""

    svg: Markup
    rows: list[tuple[str, float]]
    unit: str = ""


def _charts(request: Request, figures: AnalyticsView) -> dict[str, Chart]:
    """Every chart of ``figures``, titled and labelled in the page's language."""
    console: Console = request.app.state.console
    _ = console.translations.get(request.state.language).gettext
    slot = _("per uur") if figures.view == "day" else _("per dag")
    every = 3 if figures.view == "day" else 1

    def columns(name: str, title: str, desc: str, series: list[tuple[str, float]], unit: str = "") -> Chart:
        return Chart(charts.columns(f"chart-{name}", f"{title} {slot}", desc, series, unit=unit, label_every=every),
                     series, unit)

    def bars(name: str, title: str, desc: str, series: list[tuple[str, float]], unit: str = "") -> Chart:
        named = [(_(NAMES[label]) if label in NAMES else label, value) for label, value in series]
        return Chart(charts.bars(f"chart-{name}", title, desc, named, unit=unit), named, unit)

    return {
        "footfall": columns("footfall", _("Bezoekers"), _("Mensen die de camera telde."), figures.footfall),
        "calls": columns("calls", _("Hulpvragen"), _("Oproepen voor een medewerker."), figures.calls),
        "answer": columns("answer", _("Tijd tot antwoord"), _("Gemiddelde seconden tot een medewerker reageerde."),
                          figures.answer_by_slot, "s"),
        "sessions": bars("sessions", _("Sessies per soort"), _("Bezoeken aan de kiosk."), figures.sessions),
        "funnel": bars("funnel", _("Trechter: fasen bereikt"),
                       _("Sessies die elke fase van de verkoopcyclus bereikten."), figures.funnel),
        "phase_seconds": bars("phase-seconds", _("Tijd per fase"), _("Gemiddelde seconden per sessie in elke fase."),
                              figures.phase_seconds, "s"),
        "exits": bars("exits", _("Waar sessies eindigen"), _("De laatste fase van elke sessie."), figures.exits),
        "plays": bars("plays", _("Proof of play: vertoningen"), _("Hoe vaak elk item van de lus werd getoond."),
                      figures.plays),
        "play_seconds": bars("play-seconds", _("Proof of play: seconden"),
                             _("Hoe lang elk item van de lus in beeld was."), figures.play_seconds, "s"),
    }


ROUTES = [page("/analytics", analytics_page), page("/analytics/charts", analytics_charts),
          page("/analytics.csv", analytics_csv)]
