"""The kiosk app: a Kivy view of what the edge agent publishes (the ``kiosk`` command is :mod:`kiosk.cli`).

The app holds no data of its own: :class:`kiosk.state.KioskState` decides
what shows, :class:`kiosk.bridge.Bridge` brings the agent's messages to it on
Kivy's main thread, and the screens (``kiosk/screens/*.kv``) are views of the
app's properties, which :meth:`KioskApp.sync` copies from the state after
every event. The properties of the shopper's visit are not listed here: there
is one for each entry of :meth:`kiosk.visit.Visit.view` (``app.session``,
``app.product``, ``app.product_status``…), made from the visit's fields, and
sync() sets one only when its value is another object. Navigation uses
``ScreenManager.switch_to`` as in Kivy's showcase. No callback here blocks:
requests are published and their answers arrive later as events.
"""

from __future__ import annotations

import functools
import gc
import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias
from zoneinfo import ZoneInfo

# Before Kivy is imported: our command line is ours, and Kivy logs through
# Python's logging like the rest of the project.
os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")
# Videos (the attract loop, instructions) play with ffpyplayer, a pip-installable FFmpeg binding.
os.environ.setdefault("KIVY_VIDEO", "ffpyplayer")

from kivy.animation import Animation
from kivy.app import App
from kivy.clock import Clock
from kivy.lang import Builder
from kivy.metrics import mm
from kivy.properties import (
    BooleanProperty,
    NumericProperty,
    ObjectProperty,
    Property,
    StringProperty,
)
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.screenmanager import FadeTransition, NoTransition, SlideTransition
from kivy.uix.scrollview import ScrollView

from edge_agent.credentials import Credentials
from edge_agent.errors import ContractError

# BottomBar and MorePanel are shell.kv's: importing them registers them with Kivy's Factory.
from .bars import BottomBar, MorePanel, NavItem, arrange_top, control_width  # noqa: F401 - see above
from .brand import Brand
from .bridge import Bridge
from .config import KioskConfig
from .console_code_state import console_code_shown
from .content import ContentLibrary, PackUpdate, apply_overlay
from .content_control import CONTENT_COMMANDS
from .device_checks_texts import CheckTexts
from .diagnostics import FrameLog, StatusWriter, held_texts, targets, visible_texts
from .i18n import Translator
from .pack_switch import PackSwitch
from .state import SCREENS, KioskState, Mode, Preferences, Request, Screen
from .texts import Words
from .usage_report import USAGE_COMMANDS, UsageReporter
from .visit import Visit
from .widgets import HIGH_CONTRAST, STANDARD, Theme, brand_theme

if TYPE_CHECKING:
    from .frame_recorder import FrameRecorder
    from .screens import KioskScreen

logger = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent
TICK_S = 0.25
TRANSITION_S = 0.18
STATUS_DELAY_S = 0.12



class Shell(FloatLayout):
    """The root: top bar, the screens, the session's bottom bar and the idle countdown (``shell.kv``)."""


class _Sink:
    """Receives the bridge's messages on the UI thread and hands them to the app.

    A separate object, because Kivy would take an ``on_session`` method of the
    app for an observer of its ``session`` property.
    """

    def __init__(self, app: KioskApp):
        self._app = app

    def on_session(self, payload) -> None:
        self._app.apply(self._app.state.on_session, payload)

    def on_device_state(self, payload) -> None:
        self._app.apply(self._app.state.on_device_state, payload)

    def on_birth(self, payload) -> None:
        self._app.apply(self._app.state.on_birth, payload)

    def on_health(self, payload) -> None:
        self._app.apply(self._app.state.on_health, payload)

    def on_response(self, command, session, ok, data, error) -> None:
        if command in USAGE_COMMANDS:  # the agent took a usage report (kiosk.usage_report): nothing to show
            return
        if command == "content-loaded":  # the answer to a pack switch (kiosk.pack_switch)
            self._app.pack_switch.answered(ok, data, error)
            return
        if command in CONTENT_COMMANDS:  # the staff's content screens' own requests (kiosk.screens.inhoud)
            self._app.on_content_response(command, ok, data, error)
            return
        self._app.apply(self._app.state.on_response, command, session, ok, data, error)

    def on_content_schedule(self, payload) -> None:
        self._app.on_content_schedule(payload)

    def on_content_active(self, payload) -> None:
        self._app.pack_switch.on_content_active(payload)

    def on_presence(self, payload) -> None:
        self._app.apply(self._app.state.on_presence, payload)

    def on_scan(self, payload) -> None:
        self._app.apply(self._app.state.on_scan, payload)

    def on_shelf(self, payload) -> None:
        self._app.apply(self._app.state.on_shelf, payload)

    def on_connection(self, connected: bool) -> None:
        self._app.apply(self._app.state.on_connection, connected)

    def on_malformed(self, topic: str, reason: str) -> None:
        self._app.apply(self._app.state.on_malformed)

    def on_staff_mode(self, payload) -> None:
        self._app.apply(self._app.state.on_staff_mode, payload)

    def on_staff_call(self, payload) -> None:
        self._app.apply(self._app.state.on_staff_call, payload)


def visit_properties() -> dict[str, Property]:
    """A Kivy property for each entry of :meth:`kiosk.visit.Visit.view`, an empty visit's value its default:
    a status (a ``str``) a StringProperty, anything else an ObjectProperty.

    :raises TypeError: when Kivy's App already has an attribute of that name (the screens would not see it).
    """
    properties: dict[str, Property] = {}
    for name, default in Visit().view().items():
        if hasattr(App, name):
            raise TypeError(f"the visit's {name!r} would be hidden by App.{name}")
        properties[name] = (StringProperty(default) if isinstance(default, str)
                            else ObjectProperty(default, allownone=True, rebind=True))
    return properties


if TYPE_CHECKING:
    _VisitProperties: TypeAlias = App
else:
    # Kivy's App with the visit's properties. Kivy takes properties only from a class body, so this class
    # is made from them; KioskApp, its subclass, has the rest.
    _VisitProperties = type("_VisitProperties", (App,), visit_properties())

_UNSET = object()


class KioskApp(_VisitProperties):
    """The kiosk.

    :param settings: the validated configuration.
    :param status_file: write the status document here (see :mod:`kiosk.diagnostics`).
    :param screenshot_dir: save a screenshot of every change here.
    :param frame_log: append when a customer's name reaches the screen here (:class:`kiosk.diagnostics.FrameLog`).
    :param frame_record: append a line for every frame drawn here (:class:`kiosk.frame_recorder.FrameRecorder`).
    """

    title = "Connected Store"

    # What the screens show besides the visit's own properties (see _VisitProperties); set by sync().
    lang = StringProperty("nl")
    theme = ObjectProperty(STANDARD, rebind=True)  # rebind: kv reads app.theme.<colour>
    text_scale = NumericProperty(1.0)
    unit = NumericProperty(18.0)  # base text size in pixels
    target = NumericProperty(34.0)  # smallest touch target in pixels (>= 9 mm)
    wide = BooleanProperty(True)  # landscape enough for two columns
    present = BooleanProperty(False)
    notice = StringProperty("")
    countdown = NumericProperty(-1)
    device_rev = NumericProperty(0)  # bumped when what the agent says about itself changes
    now_s = NumericProperty(0)
    store_name = StringProperty("")
    store_id = StringProperty("")
    device_id = StringProperty("")
    instructions = ObjectProperty((), rebind=True)  # the pack's instruction videos, the customer's first
    content_rev = NumericProperty(0)  # bumped when the content pack in use changes
    staff_left = NumericProperty(-1)  # seconds before staff mode ends for want of a touch; -1 outside it
    # The store's look (kiosk.brand, from the pack) and the bars' arrangement (kiosk.bars).
    logo = StringProperty("")  # the brand's logo, or ""
    logo_ratio = NumericProperty(0.0)  # its width / height
    top_rows = NumericProperty(1)  # the top bar's rows
    control_pad = NumericProperty(1.6)  # the top bar's buttons' padding, in units

    def __init__(self, settings: KioskConfig, status_file: Path | None = None, screenshot_dir: Path | None = None,
                 frame_log: Path | None = None, frame_record: Path | None = None, **kwargs):
        super().__init__(**kwargs)
        self.settings = settings
        display = settings.display
        self.state = KioskState(
            idle_timeout_s=settings.session.idle_timeout_s, countdown_s=settings.session.countdown_s,
            notice_s=settings.session.notice_s,
            defaults=Preferences(display.language, display.high_contrast, display.text_scale))
        self.words = Words(Translator())
        self.check_texts = CheckTexts(self.words)  # the device checks' rows
        self.tz = ZoneInfo(settings.store.timezone)
        # Read in a worker thread (see _refresh_content), never here nor on the UI thread: until the first
        # reading is taken into use the built-in texts show, then the folder's pack or its last good copy.
        self.content = ContentLibrary(settings.content.folder, settings.content.last_good, tz=self.tz, load=False)
        self.content_busy = False  # a worker is reading a pack folder (_refresh_content, kiosk.pack_switch)
        self.pack_switch = PackSwitch(self)  # the agent's active pack (content-active)
        self.store_name = settings.store.name
        self.store_id = settings.store.id
        self.device_id = settings.device.id
        self.status = StatusWriter(status_file, screenshot_dir)
        credentials = Credentials()
        self.bridge = Bridge(settings.mqtt.host, settings.mqtt.port, settings.store.id, settings.device.id,
                             _Sink(self), username=credentials.get("kiosk-mqtt-username"),
                             password=credentials.get("kiosk-mqtt-password"), client_id=settings.mqtt.client_id,
                             keepalive_s=settings.mqtt.keepalive_s,
                             request_timeout_s=settings.mqtt.request_timeout_s, tls=settings.mqtt.tls)
        # What the kiosk shows, for the agent's anonymous analytics: screens of visits, attract items played.
        self.usage = UsageReporter(self._send_usage)
        self.screens: dict[Screen, KioskScreen] = {}
        self.window: Any = None  # Kivy's Window, once built
        self._frame_log_path = frame_log
        self.frame_log: FrameLog | None = None
        self._frame_record_path = frame_record
        self.frame_recorder: FrameRecorder | None = None
        self._synced: tuple | None = None
        self._shown: dict[str, object] = {}  # the visit's view the properties were last set from
        self._nav_key: tuple | None = None
        self._device_key: tuple | None = None
        self._shot_key: tuple | None = None
        self._status_trigger: Callable[[], object] | None = None
        self._changed_frame = 0
        self._outgoing: list[Request] = []
        self._send_trigger = Clock.create_trigger(self._send_outgoing, 0)  # 0: after the next frame
        self.brand: Brand | None = None
        self.standard_theme: Theme = STANDARD  # the brand's colours, or the kiosk's own
        self.bind(content_rev=self._apply_brand)

    # ------------------------------------------------------------------ Kivy lifecycle

    def build(self):
        from kivy.core.window import Window

        from .screens import create_screens

        self.window = Window
        if self._frame_log_path is not None:
            self.frame_log = FrameLog(self._frame_log_path, Window)

        for name in ("widgets.kv", "shell.kv"):
            path = str(PACKAGE_DIR / name)
            if path not in Builder.files:
                Builder.load_file(path)
        self.shell = Shell()
        self.manager = self.shell.ids.manager
        self.manager.transition = {"slide": SlideTransition(duration=TRANSITION_S),
                                   "fade": FadeTransition(duration=TRANSITION_S),
                                   "none": NoTransition()}[self.settings.display.transition]
        self.manager.transition.bind(on_complete=self._settle)
        self.screens = create_screens()
        for screen in self.screens.values():
            for widget in screen.walk():
                if isinstance(widget, ScrollView):  # what is in view changes: the status file follows
                    widget.bind(scroll_y=lambda *_args: self.request_status())
        self.manager.switch_to(self.screens[Screen.BEREIK])
        # Every screen takes the manager's size at once, not when it is first shown: its labels are then
        # rendered at start, not in the frame that should show a customer's name.
        self.manager.bind(size=self._size_screens)
        self.shell.ids.bottom_bar.prepare(self._nav_items(Mode.CUSTOMER, Screen.BEGRIJP))
        self.on_theme(self, self.theme)  # the background is the clear colour: cheaper than a full-window rectangle
        if self.settings.display.demo:
            from .demo_controls import add_demo_controls

            add_demo_controls(self)
        self._status_trigger = Clock.create_trigger(self._write_status, STATUS_DELAY_S)
        Window.bind(on_touch_down=self._on_touch, size=self._on_resize)
        self._on_resize(Window, Window.size)
        self.sync()
        Clock.schedule_interval(self._tick, TICK_S)
        Clock.schedule_interval(self._refresh_content, self.settings.content.check_s)
        self._refresh_content(0)
        if self._frame_record_path is not None:
            from .frame_recorder import FrameRecorder

            self.frame_recorder = FrameRecorder(self._frame_record_path, self)
        self.bridge.start()
        return self.shell

    def on_start(self) -> None:
        logger.info("kiosk for %s/%s started (%dx%d)", self.store_id, self.device_id, *self.window.size)
        # Everything built so far (Kivy, the screens: ~140k objects) lives as long as the app. Frozen, the
        # garbage collector no longer walks it: full collections had stalled frames by 25-100 ms.
        gc.freeze()

    def on_stop(self) -> None:
        self.bridge.stop()
        self.screens[Screen.BEREIK].unload_players()
        if self.frame_recorder is not None:
            self.frame_recorder.close()

    # ------------------------------------------------------------------ state -> screen

    def apply(self, function, *args):
        """Run a state method, bring the screen up to date, and send the requests it returns once the frame
        that shows the change is drawn: the greeting is not held up by publishing the account request, nor
        by decoding its answer, which would arrive on the network thread while this frame is being made."""
        effects = function(*args)
        if effects:
            self._outgoing.extend(effects)
            self._send_trigger()
        self.sync()

    def _send_outgoing(self, _dt) -> None:
        effects, self._outgoing = self._outgoing, []
        self._send(effects)

    def _send(self, effects: list[Request]) -> None:
        for effect in effects:
            self.bridge.request(effect.command, effect.session, effect.language, effect.gtin, **effect.fields())

    def _send_usage(self, command: str, fields: dict) -> bool:
        if not self.bridge.connected:
            return False  # kept by the reporter until the broker is back
        try:
            return self.bridge.request(command, None, **fields) is not None
        except ContractError as exc:  # a report the contract refuses is dropped, never retried
            logger.error("usage report %s dropped: %s", command, exc)
            return True

    def sync(self) -> None:
        """Copy the state into the properties the screens are bound to, and switch screens."""
        state = self.state
        countdown = state.countdown()
        staff_left = state.staff_seconds_left()
        key = (state.version, countdown, staff_left)
        if key == self._synced:
            return
        self._synced = key
        visit = state.visit
        prefs = visit.prefs
        self.lang = prefs.language
        self.theme = HIGH_CONTRAST if prefs.high_contrast else self.standard_theme
        if self.text_scale != prefs.text_scale:
            self.text_scale = prefs.text_scale
            self._on_resize(None, self.window.size)
        # The visit's properties, each set only when its value is another object: answers and the
        # activations are replaced, never changed, so identity tells a change without comparing contents.
        view = visit.view()
        shown = self._shown
        for name, value in view.items():
            if shown.get(name, _UNSET) is not value:
                setattr(self, name, value)
        self._shown = view
        self.instructions = self._instructions()
        self.present = state.present
        self.notice = state.notice or ""
        self.countdown = -1 if countdown is None else countdown
        self.staff_left = -1 if staff_left is None else staff_left
        device = state.device
        device_key = (device.state, device.birth, device.health_at, device.broker_connected, device.malformed)
        if device_key != self._device_key:  # not every state change: the staff screen's rows follow it
            self._device_key = device_key
            self.device_rev += 1
        self._update_nav()  # first: the screen comes in with the height it keeps (see _update_nav)
        self._show(state.screen)
        self.usage.shown(state.screen.value, state.screen.phase.value, visit.session.id if visit.session else None,
                         visit.session.outcome if visit.session else None, state.mode is Mode.STAFF)
        if self.frame_log is not None:
            session = visit.session
            self.frame_log.update(session.id if session else None, bool(session and session.first_name),
                                  state.screen.value)
        self.request_status()

    def _show(self, screen: Screen) -> None:
        widget = self.screens[screen]
        if self.manager.current_screen is widget:
            return
        options = {}
        if isinstance(self.manager.transition, SlideTransition):
            options["direction"] = "right" if screen is Screen.BEREIK else "left"
        self.manager.switch_to(widget, **options)
        if isinstance(self.manager.transition, NoTransition):
            # NoTransition still ends on the next clock tick: until then the old screen is drawn under the
            # new one, and a second frame follows. End it now: one frame, with the new screen only.
            Animation.stop_all(self.manager.transition)

    def on_theme(self, _app, theme) -> None:
        """The window's clear colour is the theme's background (``shell.kv`` draws none)."""
        if self.window is not None:
            self.window.clearcolor = theme.background

    def _size_screens(self, _manager, size) -> None:
        # Labels depend on the width only; the height changes with every session (the bottom bar comes and
        # goes), and laying out every hidden screen then would cost that session's first frame.
        for screen in self.screens.values():
            if screen.parent is None and screen.width != size[0]:
                screen.size = size

    def _settle(self, *_args) -> None:
        # ScreenManager moves its screens when it moves, except the ones in a
        # transition: a screen that came in while the bottom bar appeared
        # would stay where the manager was.
        screen = self.manager.current_screen
        if screen is not None:
            screen.pos = self.manager.pos
        self.request_status()

    def _update_nav(self) -> None:
        state = self.state
        key = (state.mode, state.screen, self.lang, self.theme.name)
        if key == self._nav_key:
            return
        self._nav_key = key
        bar = self.shell.ids.bottom_bar
        self._arrange_top()  # the language changes the labels
        bar.show(self._nav_items(state.mode, state.screen))
        # Lay the bar and the column out now, not before the next frame: the screen manager then has its
        # new height before the next screen is shown, and that screen (which kept its height from when it
        # was last shown) is not laid out at the old height first and again at the new one (~0.5 ms of the
        # frame that greets a customer).
        bar.do_layout()
        self.shell.ids.column.do_layout()

    def _nav_items(self, mode: Mode, current: Screen) -> list[NavItem]:
        """The bottom bar for ``mode`` on screen ``current``: (target, text, kind, callback)."""
        items: list[NavItem] = []
        names = {Screen.BEGRIJP: self.tr("Welkom", self.lang), Screen.ENROLMENT: self.tr("Welkom", self.lang),
                 Screen.INSPIREER: self.tr("Inspiratie", self.lang),
                 Screen.CONVERTEER: self.tr("Aanbiedingen", self.lang),
                 Screen.ONTZORG: self.tr("Service", self.lang),
                 Screen.CONTINUEER: self.tr("Punten", self.lang) if mode is Mode.CUSTOMER
                 else self.tr("Mening", self.lang),
                 Screen.MIJN_GEGEVENS: self.tr("Mijn gegevens", self.lang)}
        if mode is not Mode.STAFF and (mode is not Mode.NOBODY or current is not Screen.BEREIK):
            items.extend((f"nav-{screen.value}", names[screen], "secondary" if screen is current else "bar",
                          functools.partial(self.open_screen, screen.value))
                         for screen in SCREENS[mode] if screen in names)
        if mode is not Mode.NOBODY or current is not Screen.BEREIK:
            items.append(("klaar", self.tr("Klaar", self.lang),
                          "primary" if self.theme is not HIGH_CONTRAST else "secondary",
                          self.done))
        return items

    def _on_resize(self, _window, size) -> None:
        width, height = size
        self.wide = width > height * 1.2
        self.unit = max(12.0, min(width, height) / 27.0) * self.text_scale
        self.target = max(mm(9), self.unit * 2.4)
        if getattr(self, "shell", None) is not None:
            self.arrange_bars()  # after the unit: how many buttons fit a row depends on it
        self.request_status()

    def _tick(self, _dt) -> None:
        if self.state.visit.video is not None and self.screens[Screen.ONTZORG].ids.player.state == "play":
            self.state.touched()  # watching a video is using the kiosk
            self.request_status()  # the position moves: monitoring and tests see it
        effects = self.state.tick() if self.state.ticking else []
        if self.bridge.pending:
            self.bridge.expire()
        if effects:
            self._send(effects)
        if self.manager.current_screen is self.screens.get(Screen.STAFF):
            self.now_s = int(time.monotonic())
        self.sync()

    def _refresh_content(self, _dt) -> None:
        # A new pack in the folder is taken into use; a broken one is logged and the current one kept. The
        # folder is read in a worker thread: a large manifest, or a folder on a file system that hangs, never
        # stops the frames. One reading at a time, from the start of the reader to the UI thread taking in its
        # result: a check that finds one under way waits for the next interval.
        if self.content_busy:
            return
        self.content_busy = True
        threading.Thread(target=self._read_content, name="content-pack", daemon=True).start()

    def _read_content(self) -> None:
        update = None
        try:
            update = self.content.read_changes()
        except Exception:  # a reader that dies would leave the pack unchecked until a restart: say so, go on
            logger.exception("reading the content pack in %s failed", self.content.folder)
        finally:
            Clock.schedule_once(functools.partial(self._adopt_content, update), 0)

    def _adopt_content(self, update: PackUpdate | None, _dt) -> None:
        # Gapless: a good new pack's first attract item is made ready while the old pack's item shows, and the
        # pack is taken into use only then, so the attract loop swaps to it in one frame (screens.bereik).
        pack = None
        if update is not None:
            pack = update.reading.pack or (update.fallback if not self.content.pack else None)
        if pack is None:
            self.take_content(update)
            return
        self.screens[Screen.BEREIK].preload(apply_overlay(pack, self.content.schedule),
                                            lambda _ok, _reason: self.take_content(update))

    def take_content(self, update: PackUpdate | None) -> None:
        """Take what a reading found into use (its first attract item is ready), and let a waiting switch to
        the agent's active pack start."""
        self.content_busy = False
        if self.content.adopt(update):
            self.content_rev = self.content.revision
            self._synced = None  # what sync() derives from the pack is derived again
            self.sync()
            bereik = self.screens.get(Screen.BEREIK)
            if bereik is not None and self.manager.current_screen is bereik:
                bereik.on_pre_enter()  # the attract loop starts again at the new pack's first item
            self._content_screens_changed()  # staff's Inhoud shows the new pack (its schedule may be here first)
        self.pack_switch.idle()

    # ------------------------------------------------------------------ the store's changes to the content

    def on_content_schedule(self, schedule) -> None:
        """The agent's ``content-schedule`` (retained): laid over the pack at once; the attract loop starts again
        with it, and the staff's content screens show it. The same schedule again (sent on every connection of
        the agent) changes nothing and is not laid over again."""
        if schedule == self.content.schedule:
            return
        shown = self.content.current.instructions
        self.content.set_schedule(schedule)
        if self.frame_log is not None:
            self.frame_log.mark("content-shown", str(schedule.revision))
        if self.content.current.instructions != shown:  # the instruction videos shown follow it
            self._synced = None
            self.sync()
        bereik = self.screens.get(Screen.BEREIK)
        if bereik is not None and self.manager.current_screen is bereik:
            bereik.on_pre_enter()
        self._content_screens_changed()
        self.request_status()

    def _content_screens_changed(self) -> None:
        for screen in (Screen.INHOUD, Screen.VOORBEELD):
            widget = self.screens.get(screen)
            if widget is not None:
                widget.changed()

    def on_content_response(self, command: str, ok: bool, data, error: str | None) -> None:
        """The agent's answer to a content-control or preview request of the staff's content screens."""
        if command in ("content-control", "content-approve"):  # content-approve: a delivered pack (inhoud.py)
            self.screens[Screen.INHOUD].answered(ok, error)
        else:
            self.screens[Screen.VOORBEELD].answered(command, ok, data, error)
        self.request_status()

    def _on_touch(self, _window, _touch) -> bool:
        self.state.touched()
        self.usage.touched()
        self.sync()  # hides the countdown at once
        return False  # let the widgets have the touch

    # ------------------------------------------------------------------ status file and screenshots

    def request_status(self) -> None:
        """Write the status file (and a screenshot) once what changed is on screen."""
        if self.status.enabled and self._status_trigger is not None:
            self._changed_frame = Clock.frames_displayed
            self._status_trigger()

    def _write_status(self, _dt) -> None:
        # After the animation, and once two frames with the change have been
        # shown (Window.screenshot reads what was drawn last; the first frames
        # of a new window are not on screen yet).
        if self.manager.transition.is_active or Clock.frames_displayed < self._changed_frame + 2:
            if self._status_trigger is not None:
                self._status_trigger()
            return
        window = self.window
        state = self.state
        texts = visible_texts(self.shell)
        scroll = [round(widget.scroll_y, 3) for widget in self.manager.current_screen.walk(restrict=True)
                  if isinstance(widget, ScrollView)]
        shot = None
        # A new screenshot whenever what a shopper sees changed (scrolling too).
        shot_key = (state.screen, self.theme.name, self.text_scale, tuple(window.size), tuple(texts), tuple(scroll))
        if shot_key != self._shot_key:
            self._shot_key = shot_key
            shot = self.status.screenshot(
                window, f"{self.status.sequence + 1:03d}-{state.screen.value}-{self.lang}")
        self.status.write({
            "screen": state.screen.value, "mode": state.mode.value, "language": self.lang,
            "theme": self.theme.name, "text_scale": self.text_scale, "session": state.visit.session is not None,
            "present": state.present,
            "countdown": state.countdown(), "notice": self.notice, "connected": self.bridge.connected,
            "malformed": state.device.malformed, **state.visit.statuses(),
            "video": ({"id": video, **self.screens[Screen.ONTZORG].ids.player.status()}
                      if (video := state.visit.video) else None),
            "window": list(window.size), "unit": self.unit, "scroll": scroll,
            "target_px": self.target, "min_target_px": mm(9),
            "attract": self.screens[Screen.BEREIK].report(),
            "content": {"schedule_revision": self.content.schedule.revision if self.content.schedule else None,
                        "control": self.screens[Screen.INHOUD].report(),
                        "preview": self.screens[Screen.VOORBEELD].report(),
                        "pack": self.content.current.name, "version": self.content.current.version,
                        "switch": self.pack_switch.last},
            "texts": texts, "targets": targets(self.shell, window.size),
            "held_texts": held_texts([*self.screens.values(), self.shell]), "screenshot": shot,
            **self._look_status(),
            "last_screenshot": self.status.last_screenshot,
        })

    # ------------------------------------------------------------------ the store's look and the bars

    shell: Any = None

    def _apply_brand(self, *_args) -> None:
        """The pack in use changed: its brand (or none) gives the theme, the store's name and the logo."""
        brand = self.content.pack.brand
        if brand == self.brand:
            return
        self.brand = brand
        self.standard_theme = brand_theme(brand.colours) if brand is not None else STANDARD
        self.store_name = brand.name if brand is not None else self.settings.store.name
        self.logo_ratio = _image_ratio(brand.logo) if brand is not None else 0.0
        self.logo = str(brand.logo) if brand is not None and self.logo_ratio else ""
        logger.info("store's look: %s", f"brand {brand.name!r} of pack {self.content.pack.name}" if brand
                    else "the kiosk's own")
        self._synced = None
        self._nav_key = None
        self.sync()
        self.arrange_bars()

    def arrange_bars(self) -> None:
        """Plan the top and the bottom bar for the window, the text size and the language (:mod:`kiosk.bars`)."""
        self._arrange_top()
        self.shell.ids.bottom_bar.arrange()

    def _arrange_top(self) -> None:
        if self.window is None:
            return
        controls = self.shell.ids.controls.children[::-1]
        texts = [button.text for button in controls if getattr(button, "target", "")]
        name = self.store_name or self.tr("Connected Store", self.lang)
        self.top_rows, self.control_pad = arrange_top(self, texts, name, self.logo_ratio if self.logo else 0.0)

    def control_width(self, text: str, unit: float, target: float, pad: float) -> float:
        """A top-bar button's width (``shell.kv``; the arguments are there so kv follows them)."""
        return control_width(text, unit, target, pad)

    def _look_status(self) -> dict:
        """The status file's brand, colours and geometry: the rectangles (x, y from the top, width, height in
        window pixels) of the top bar, the screens' area (``content``), the bottom bar and the Meer panel."""
        ids = self.shell.ids
        height = self.window.height

        def rect(widget) -> list[float]:
            x, y = widget.to_window(widget.x, widget.y)
            return [round(x, 1), round(height - y - widget.height, 1), round(widget.width, 1),
                    round(widget.height, 1)]

        theme = self.theme
        brand = self.brand
        return {
            "brand": {"name": brand.name, "logo": str(brand.logo), "colours": brand.colours} if brand else None,
            "colours": {name: "#" + "".join(f"{round(channel * 255):02x}" for channel in getattr(theme, name)[:3])
                        for name in ("background", "text", "primary", "on_primary", "secondary", "on_secondary",
                                     "bar", "on_bar", "caption", "on_caption")},
            "logo_shown": bool(self.logo) and ids.logo.width > 0 and ids.logo.texture is not None,
            "geometry": {"top_bar": rect(ids.top_bar), "content": rect(self.manager),
                         "bottom_bar": rect(ids.bottom_bar), "top_rows": self.top_rows,
                         "bottom_rows": len(ids.bottom_bar.children),
                         "more": {"open": ids.more_panel.is_open, "items": list(ids.bottom_bar.overflow),
                                  "panel": rect(ids.more_panel)}},
        }

    # ------------------------------------------------------------------ what the .kv files call

    def tr(self, message: str, language: str) -> str:
        return self.words.tr(message, language)

    def greeting(self, session, language: str) -> str:
        return self.words.greeting(session, language, datetime.now(self.tz).hour)

    def progress(self, account, language: str) -> tuple[str, float]:
        return self.words.progress(account, language)

    def consent_rows(self, data, language: str) -> list[tuple[str, str]]:
        return self.words.consents(data, language, self.tz)

    def data_use_rows(self, data, language: str) -> list[tuple[str, str]]:
        return self.words.data_use(data, language, self.tz)

    def health_rows(self, _revision, language: str, _now) -> list[tuple[str, str]]:
        return self.words.health(self.state.device, language, time.monotonic())

    def countdown_text(self, seconds: int, language: str) -> str:
        return self.words.trn("Bent u er nog? Over {n} seconde stopt de sessie.",
                              "Bent u er nog? Over {n} seconden stopt de sessie.", seconds, language).format(n=seconds)

    # ------------------------------------------------------------------ what the shopper does

    def open_screen(self, name: str) -> None:
        self.apply(self.state.open, Screen(name))

    def done(self) -> None:
        self.apply(self.state.done)

    def set_language(self, language: str) -> None:
        self.apply(self.state.set_language, language)

    def toggle_contrast(self) -> None:
        self.apply(self.state.toggle_contrast)

    def next_text_scale(self) -> None:
        self.apply(self.state.next_text_scale)

    def ask_withdraw(self) -> None:
        self.apply(self.state.ask_withdraw)

    def cancel_withdraw(self) -> None:
        self.apply(self.state.cancel_withdraw)

    def confirm_withdraw(self) -> None:
        self.apply(self.state.confirm_withdraw)

    def enrol(self) -> None:
        self.apply(self.state.enrol)

    def activate_offer(self, offer: str) -> None:
        self.apply(self.state.activate_offer, offer)

    def check_promo_code(self, code: str) -> None:
        self.apply(self.state.check_promo_code, code)

    def back(self) -> None:
        self.apply(self.state.back)

    def browse(self, gtin: str) -> None:
        """A product tapped in Inspireer: Informeer shows it."""
        self.apply(self.state.show_product, gtin)

    def play(self, instruction: str) -> None:
        if instruction:
            self.apply(self.state.play, instruction)

    def stop_video(self) -> None:
        self.apply(self.state.stop_video)

    def give_feedback(self, score: int) -> None:
        self.apply(self.state.give_feedback, score)

    def call_staff(self, topic: str | None = None) -> None:
        self.apply(self.state.call_staff, topic)

    def share_with_staff(self, share: bool) -> None:
        self.apply(self.state.share_with_staff, share)

    # ------------------------------------------------------------------ store staff (kiosk/staff_state.py)

    def pin_digit(self, digit: str) -> None:
        self.apply(self.state.pin_digit, digit)

    def pin_back(self) -> None:
        self.apply(self.state.pin_back)

    def pin_submit(self) -> None:
        self.apply(self.state.pin_submit)

    def handle_call(self, call: str) -> None:
        self.apply(self.state.handle_call, call)

    def staff_may(self, screen: str, _mode) -> bool:
        """Whether the staff member's role may open ``screen`` (the kv passes ``app.staff_mode`` to follow it)."""
        return self.state.staff_may(Screen(screen))

    def staff_time(self, when) -> str:
        """An aware time of the agent's (a lock's end) as the store's local HH:MM, or ""."""
        return when.astimezone(self.tz).strftime("%H:%M") if when is not None else ""

    def staff_calls_waited(self) -> float:
        """Seconds since the open calls were answered (their waits count on from there)."""
        at = self.state.visit.staff_calls_at
        return 0.0 if at is None else max(0.0, time.monotonic() - at)

    # ------------------------------------------------------------------ console code (console_code_state.py)

    def ask_console_code(self) -> None:
        """"Code voor de telefoon" on the staff home."""
        self.apply(self.state.console_code_request)

    def console_code_text(self, value, _tick) -> str:
        """The code to show (the kv passes ``app.staff_left`` so it disappears once it expired), or ""."""
        return console_code_shown(value)

    # ------------------------------------------------------------------ device checks (device_checks_state.py)

    exit_code = 0  # what the kiosk process exits with: a restart the agent agreed to sets its code

    def poll_checks(self) -> None:
        self.apply(self.state.checks_poll)

    def arm_reader_test(self) -> None:
        self.apply(self.state.arm_reader_test)

    def send_test_event(self) -> None:
        self.apply(self.state.send_test_event)

    def restart_kiosk(self) -> None:
        self.apply(self.state.restart_kiosk)

    def restart_now(self) -> None:
        """The agent agreed to the restart: stop, so the process exits with its code and its unit starts it."""
        code = self.state.restart_exit_code
        if code is not None and not self.exit_code:
            logger.info("kiosk restart asked by a manager: exiting with %d", code)
            self.exit_code = code
            self.stop()

    def check_rows(self, report, language: str) -> list[tuple[str, str]]:
        return self.check_texts.rows(report, language, self.content.current)

    # ------------------------------------------------------------------ content pack

    def _instructions(self) -> tuple:
        """The pack's instruction videos, those for the customer's recent purchases first."""
        pack = self.content.current
        account = self.state.visit.account.value
        bought = [line.gtin for line in (account.purchases or ())] if account else []
        first = pack.instructions_for(bought) if bought else []
        return (*first, *(item for item in pack.instructions if item not in first))

    def product_image(self, product) -> str:
        """The picture of the agent's product answer from the content pack, or ""."""
        if product is None:
            return ""
        pack = self.content.current
        for name in product.product.images:
            path = pack.media(name)
            if path is not None:
                return str(path)
        path = pack.image_for(product.product.gtin)
        return str(path) if path is not None else ""

    def product_instruction(self, product) -> str:
        """The id of the pack's instruction video for the product in the agent's answer, or ""."""
        if product is None:
            return ""
        pack = self.content.current
        found = pack.instructions_for([product.product.gtin], [product.product.category])
        if not found and product.product.video:
            video = pack.media(product.product.video)
            found = [item for item in pack.instructions if video is not None and item.video == video]
        return found[0].id if found else ""

    def product_lines(self, result, status: str, session, language: str) -> dict[str, str]:
        return self.words.product(result, status, session, language)


def _image_ratio(path: Path) -> float:
    """Width / height of the image at ``path``, or 0 when Kivy cannot read it (the logo is then not shown)."""
    from kivy.core.image import Image as CoreImage

    try:
        width, height = CoreImage(str(path)).size
    except Exception as exc:  # noqa: BLE001 - Kivy's image providers raise anything for a file they cannot read
        logger.warning("the brand's logo %s cannot be shown: %s", path, exc)
        return 0.0
    return width / height if height else 0.0


# A method or attribute of the app named like one of the visit's properties would hide it from the screens.
if _hidden := sorted(name for name in Visit().view() if not isinstance(getattr(KioskApp, name), Property)):
    raise TypeError(f"KioskApp hides the visit's {', '.join(_hidden)} from the screens")

