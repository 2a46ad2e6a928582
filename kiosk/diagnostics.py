"""What is on screen, for monitoring and tests: a JSON status file and screenshots.

With ``--status-file`` the app writes, after every change that reached the
screen, a JSON document: the screen, the texts a shopper can see (in tree
order), the touch targets with their centres in window pixels from the top
left (as X11 and xdotool count), the language, theme and text scale, how far
the screen's scroll views are scrolled (Kivy's ``scroll_y``: 1 at the top), the
status of each of the visit's answers (``product_status``, ``withdrawal_status``…:
:meth:`kiosk.visit.Visit.statuses`, so a new answer is in it without being listed
here), and ``held_texts``: every text any screen widget holds, shown or not, so a
test can check nothing personal lingers after a wipe; the store's look (``brand``, the ``colours`` in use,
``logo_shown``) and ``geometry``: the rectangles of the top bar, the screens' area (``content``) and the
bottom bar, their rows, and what opens from Meer (:mod:`kiosk.bars`). With ``--screenshot-dir``
each such change is also saved as a PNG (``Window.screenshot``).

The file is replaced atomically, so a reader never sees half a document.

With ``--frame-log`` (for ``bench/kiosk_tap_to_frame.py``) the app appends a
JSON line when a customer's name becomes visible and when the attract screen
is back, stamped with ``time.time()`` as the first frame that shows it is
flipped (:class:`FrameLog`). The lines hold a hash of the session id, never a
name or a card.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Iterable
from pathlib import Path

from kivy.uix.label import Label
from kivy.uix.stencilview import StencilView
from kivy.uix.widget import Widget

from .state import Screen

logger = logging.getLogger(__name__)


def _walk(widget: Widget, visible: bool = True) -> Iterable[tuple[Widget, bool]]:
    """Every widget under ``widget`` (itself included) in drawing order, and whether it can be seen."""
    visible = visible and widget.opacity > 0.01
    yield widget, visible
    for child in reversed(widget.children):
        yield from _walk(child, visible)


def visible_texts(root: Widget) -> list[str]:
    """Texts of the labels (buttons included) under ``root`` that are not hidden."""
    return [widget.text for widget, visible in _walk(root)
            if visible and isinstance(widget, Label) and widget.text.strip() and widget.width > 0
            and widget.height > 0]


def held_texts(roots: Iterable[Widget]) -> list[str]:
    """Texts held by any label under ``roots``, visible or not."""
    return [widget.text for root in roots for widget, _ in _walk(root)
            if isinstance(widget, Label) and widget.text.strip()]


def targets(root: Widget, window_size: tuple[float, float]) -> dict[str, list[float]]:
    """Centres (x, y from the top) and sizes of the touch targets under ``root`` a finger can reach:
    visible, enabled, and with their centre inside the window and inside every scroll view around them."""
    width, height = window_size
    found = {}

    def visit(widget: Widget, visible: bool, clip: tuple[float, float, float, float]) -> None:
        visible = visible and widget.opacity > 0.01
        if isinstance(widget, StencilView):
            x0, y0 = widget.to_window(widget.x, widget.y)
            x1, y1 = widget.to_window(widget.right, widget.top)
            clip = (max(clip[0], x0), max(clip[1], y0), min(clip[2], x1), min(clip[3], y1))
        name = getattr(widget, "target", "")
        if name and visible and not widget.disabled and widget.width > 0 and widget.height > 0:
            x, y = widget.to_window(widget.center_x, widget.center_y)
            if clip[0] <= x <= clip[2] and clip[1] <= y <= clip[3]:
                found[name] = [round(x, 1), round(height - y, 1), round(widget.width, 1), round(widget.height, 1)]
        for child in reversed(widget.children):
            visit(child, visible, clip)

    visit(root, True, (0.0, 0.0, float(width), float(height)))
    return found


class StatusWriter:
    """Writes the status document and screenshots.

    :param status_file: where the JSON goes, or None.
    :param screenshot_dir: folder for PNGs, or None.
    """

    def __init__(self, status_file: Path | None, screenshot_dir: Path | None):
        self.status_file = status_file
        self.screenshot_dir = screenshot_dir
        self.sequence = 0
        self.last_screenshot: str | None = None
        if screenshot_dir is not None:
            screenshot_dir.mkdir(parents=True, exist_ok=True)

    @property
    def enabled(self) -> bool:
        return self.status_file is not None or self.screenshot_dir is not None

    def screenshot(self, window, name: str) -> str | None:
        """Save the window as ``<dir>/<name>.png``; the path, or None."""
        if self.screenshot_dir is None:
            return None
        wanted = self.screenshot_dir / f"{name}.png"
        try:
            made = window.screenshot(name=str(self.screenshot_dir / f"{name}-.png"))
            if made:
                os.replace(made, wanted)
                self.last_screenshot = str(wanted)
                return self.last_screenshot
        except OSError as exc:
            logger.warning("screenshot failed: %s", exc)
        return None

    def write(self, document: dict) -> None:
        """Replace the status file with ``document`` (a sequence number and time are added)."""
        self.sequence += 1
        document = {"seq": self.sequence, "time": time.time(), **document}
        if self.status_file is None:
            return
        temporary = self.status_file.with_name(self.status_file.name + ".tmp")
        try:
            temporary.write_text(json.dumps(document, ensure_ascii=False, indent=1), encoding="utf-8")
            os.replace(temporary, self.status_file)
        except OSError as exc:
            logger.warning("cannot write the status file: %s", exc)


class FrameLog:
    """Stamps the frame that first shows a change: one JSON line per event, appended to ``path``.

    ``{"event": "name-shown", "t": <time.time()>, "session": <hash>, "changed":
    …, "drawn": …}`` when a session whose first name may be shown starts, and
    ``{"event": "bereik-shown", "t": …, "session": null, …}`` when the attract
    screen is back; ``changed`` is when the app made the change (``update``),
    ``drawn`` when the frame was drawn, before the swap.
    ``t`` is taken once the first frame drawn after the change is on screen:
    Kivy runs the clock's callbacks (the MQTT message, the properties, the kv
    rules), then the before-frame callbacks (label textures, layouts), draws,
    and dispatches ``on_flip``. Observers of ``on_flip`` run before the
    window's own handler, which only calls ``flip()`` (the buffer swap; with
    software GL the frame is rasterised there), so for that one frame the
    observer does the swap itself, stamps the time after it, and ends the
    dispatch (returns True). Nothing is bound between events, so the log costs
    nothing while no change is pending.

    :param path: the file to append to.
    :param window: Kivy's Window.
    """

    def __init__(self, path: Path, window):
        self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - open for the app's lifetime
        self._window = window
        self._pending: list[tuple[str, str | None, float]] = []
        self._named: str | None = None
        self._screen: str | None = None

    @staticmethod
    def session_hash(session_id: str) -> str:
        """What the log says for a session: its id's SHA-256, shortened (the benchmark computes the same)."""
        return hashlib.sha256(session_id.encode()).hexdigest()[:16]

    def update(self, session_id: str | None, named: bool, screen: str) -> None:
        """What the screen is about to show: the session (``named`` when its first name shows) and the screen."""
        named_id = session_id if named else None
        if named_id is not None and named_id != self._named:
            self._arm("name-shown", self.session_hash(named_id))
        self._named = named_id
        if screen == Screen.BEREIK and self._screen not in (None, Screen.BEREIK):
            self._arm("bereik-shown", None)
        self._screen = screen

    def mark(self, event: str, key: str) -> None:
        """Stamp the next frame as showing ``event`` for ``key`` (e.g. ``content-shown`` with the content schedule's
        revision: ``bench/staff_change_to_frame.py``)."""
        self._arm(event, key)

    def _arm(self, event: str, session: str | None) -> None:
        if not self._pending:
            self._window.fbind("on_flip", self._on_flip)
        self._pending.append((event, session, time.time()))

    def _on_flip(self, *_args) -> bool:
        drawn = time.time()
        self._window.flip()  # what WindowBase.on_flip does; returning True below keeps it from doing it twice
        now = time.time()
        self._window.funbind("on_flip", self._on_flip)
        pending, self._pending = self._pending, []
        try:
            self._file.write("".join(json.dumps({"event": event, "t": now, "session": session, "changed": changed,
                                                 "drawn": drawn}) + "\n"
                                     for event, session, changed in pending))
            self._file.flush()
        except OSError as exc:
            logger.warning("cannot write the frame log: %s", exc)
        return True

    def close(self) -> None:
        self._file.close()
