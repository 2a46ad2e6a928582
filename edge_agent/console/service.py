"""The console's pieces put together: configuration, database, device model, staff login, sessions, audit, live
updates and the MQTT link, with the routes from MQTT into them.

:class:`Console` is what every page reaches as ``request.app.state.console`` (see :mod:`.web`). The helpers
that add pages (alerts, analytics) add their MQTT routes with ``console.link.route(message, handler)`` before
:meth:`Console.start`, and their live channels with ``console.live.notify(channel, data)``.
"""

from __future__ import annotations

import logging
import time
from zoneinfo import ZoneInfo

from ..contract import BIRTH, CONSOLE_CODE, CONTENT_SCHEDULE, EVENTS, HEALTH, PUSHES, STATE, Message, StaffPush
from ..errors import RejectedMessage
from .alerts import ALERTS_CHANNEL, AlertBook, SharedViews
from .analytics import ConsoleAnalytics
from .audit import ConsoleAudit
from .config import ConsoleConfig
from .database import ConsoleDatabase
from .devices import DeviceModel
from .i18n import ConsoleTranslations
from .kiosk_codes import KioskCodes
from .link import ConsoleLink, Handler, decode_data
from .live import Live
from .login import StaffLogin
from .sessions import Sessions
from .sessions_store import SessionStore

logger = logging.getLogger(__name__)

DEVICES_CHANNEL = "devices"


class Console:
    """One store's console.

    :param config: its configuration.
    :param username: its broker login (``mqtt-username``), None for a broker without logins (tests, demo).
    :param password: the login's password.
    """

    def __init__(self, config: ConsoleConfig, username: str | None = None, password: str | None = None):
        self.config = config
        self.store = config.store.id
        self.db = ConsoleDatabase(config.database.path)
        self.live = Live()
        self.devices = DeviceModel(self.db, lambda device: self.live.notify(DEVICES_CHANNEL, {"device": device}))
        self.login = StaffLogin(self.db)
        # Logins outlast a restart (.sessions_store): on the wall clock, since they must go on across one.
        self.sessions = Sessions(config.session.idle_s, clock=time.time, store=SessionStore(self.db))
        self.translations = ConsoleTranslations()
        self.link = ConsoleLink(config, username, password)
        self.audit = ConsoleAudit(self.db, self.store, self.link.username)
        self.audit.attach(self.link.publish)
        self.link.on_connected.append(self.audit.resend)
        self.link.on_acknowledged.append(self.audit.acknowledged)
        for kind, message in (("state", STATE), ("birth", BIRTH), ("health", HEALTH), ("schedule", CONTENT_SCHEDULE)):
            self.link.route(message, self._device_message(kind, message))
        self.link.route(PUSHES["staff"], self._staff_push)
        # The store's anonymous analytics, for the charts (pages_analytics.py): every device's hourly event.
        self.analytics = ConsoleAnalytics(self.db, self.live.notify, ZoneInfo(config.store.timezone))
        self.link.route(EVENTS["analytics-hourly"], self.analytics.receive)
        # The alerts (edge_agent.console.alerts): calls, shelves, devices offline, outboxes, content; what a shopper
        # shared for a call is shown to a member of staff only after the agent logged the view (pages_alerts).
        self.alerts = AlertBook(self.db, lambda alert: self.live.notify(ALERTS_CHANNEL, {"alert": alert.alert}))
        self.shared_views = SharedViews()
        for message, handler in self.alerts.routes():
            self.link.route(message, handler)
        # One-time codes from a badge at a kiosk (the second way to log in, .kiosk_codes).
        self.kiosk_codes = KioskCodes(self.db, self.login)
        self.link.route(CONSOLE_CODE, self.kiosk_codes.receive)

    def _device_message(self, kind: str, message: Message) -> Handler:
        def handle(device: str, raw: bytes, retained: bool) -> None:
            self.devices.apply(kind, device, decode_data(message, raw))
        return handle

    def _staff_push(self, device: str, raw: bytes, retained: bool) -> None:
        data = decode_data(PUSHES["staff"], raw)
        if data is None:
            return
        push = StaffPush.model_validate(data)
        try:
            self.login.apply_push(push)
        except RejectedMessage as exc:
            logger.warning("staff record %s refused: %s", push.staff, exc)
            return
        if not push.active and self.sessions.end_staff(push.staff):
            logger.info("logins of removed staff member %s ended", push.staff)

    def start(self) -> None:
        """Connect to the store broker (in the background)."""
        self.link.start()

    def stop(self) -> None:
        self.link.stop()
        self.db.close()
