"""The edge agent: wires the store, the outbox, the inbox and the MQTT link together.

Start-up order: database (migrations), link, the offer index (a failure to build
it is logged and reported, never fatal: the push that corrects it arrives over the
link), first connection attempt (when it connects: until the broker confirmed its subscriptions, so what is
pushed from then on arrives), then ``READY=1`` to systemd. The agent is ready once its database is up and it has
tried the broker once: it keeps working offline (events wait in the outbox),
so an unreachable broker must not hold the whole service in "activating".
"""

from __future__ import annotations

import logging
import platform
import signal
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib.metadata import version as package_version
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from . import __version__
from .analytics.service import AnalyticsService
from .clienteling import Clienteling
from .clock import WallClock
from .commands import Commands
from .config import AgentConfig, NfcConfig
from .content_control.console_requests import ConsoleRequests
from .content_control.preview import InUsePack, PreviewSource, Sources
from .content_control.service import ContentControl
from .content_delivery.service import ContentDelivery
from .contract import (
    BIRTH,
    CLIENTELING,
    EVENTS,
    HEALTH,
    PRESENCE,
    PROBE,
    PUSHES,
    SCAN,
    SHELF,
    BirthPayload,
    ErrorEvent,
    HealthPayload,
    ProbePayload,
    Topics,
    decode,
    encode,
    new_id,
)
from .contract.catalogue import CONTENT_ACTIVE
from .credentials import Credentials, store_keys
from .device_checks import CameraCheckSource, CentralClock, DeviceChecks, ReaderTest
from .errors import ContractError
from .heap import freeze_startup_heap
from .inbox import Inbox
from .link import SWITCH_INTERVAL_S, Link
from .matching import MatchService
from .outbox import Outbox
from .retention import DatabaseUpkeep, Retention
from .sessions import SessionService
from .shopping import ShoppingService
from .staff import StaffService
from .staff.gate import StaffMember
from .store import Store
from .systemd import Notifier

if TYPE_CHECKING:  # imported where used: the reader needs nfcpy, which an agent without one never loads
    from .nfc.reader import NfcpyReader

logger = logging.getLogger(__name__)


class Agent:
    """One edge agent process.

    :param config: validated configuration; ``config.mqtt`` must be set.
    :param credentials: secrets (broker user and password).
    :param notifier: systemd notifications; from the environment by default.
    :param camera_options: passed to the camera's frame source (the demo's ``opener``, which plays
        its generated videos).
    :param staff_clock: wall-clock seconds of store staff's lockouts, audit and calls; replaceable in tests.
    """

    def __init__(self, config: AgentConfig, credentials: Credentials | None = None,
                 notifier: Notifier | None = None, camera_options: dict | None = None,
                 staff_clock: Callable[[], float] = time.time):
        self.config = config
        self.started = time.time()
        self._started_mono = time.monotonic()
        self.topics = Topics(config.store.id, config.device.id)
        self.store = Store(config.database.path)
        # The wall clock consents are judged by, and the pruning that keeps the database bounded.
        self.clock = WallClock.from_config(config.clock)
        self.retention = Retention(self.store, config, self.clock)
        self.upkeep = DatabaseUpkeep(self.retention, self.store, config.retention.interval_s,
                                         config.retention.checkpoint_idle_s, time.monotonic)
        self.outbox = Outbox(self.store, self.topics, config.outbox.max_rows)
        if self.store.damaged is not None:  # started empty (see store.py): every push on the central topics is lost
            self.outbox.enqueue("error", ErrorEvent(topic=self.topics.central_root, message_id=None,
                                                    reason=str(self.store.damaged)[:1000]))
        self.commands = Commands(config, respond=self._respond)
        # Content packs from central (edge_agent.content_delivery): with [content] public_keys. Before the inbox,
        # which hands it the content-pack pushes; the staff gate for approvals is set once staff mode exists.
        self.content_delivery = self._setup_content_delivery()
        self.inbox = Inbox(self.store, self.outbox, self.topics, self.commands, on_probe=self._on_probe,
                           appliers={} if self.content_delivery is None else {
                               "content-pack": self.content_delivery.apply})
        self.central_clock = CentralClock(self.topics.central_root)  # device checks: central's time, from its pushes
        self.link = Link(config, credentials or Credentials(), self.outbox,
                         on_message=self.central_clock.wrap(self.inbox.receive),
                         on_connected=self._on_connected, retry=self.inbox.retry)
        self.notifier = notifier or Notifier()
        self.sessions: SessionService | None = None
        self.reader: NfcpyReader | None = None
        if config.nfc is not None:
            self._setup_sessions(config.nfc, credentials or Credentials())
        self.camera = None
        if config.camera is not None:
            from .camera.pipeline import build_pipeline

            self.camera = build_pipeline(config.camera, self._on_camera_event, credentials or Credentials(),
                                         **(camera_options or {}))
        self.matcher = MatchService(self.store, config.store.timezone, on_unindexable=self._report_unindexable)
        self.shopping = ShoppingService(self.store, self.outbox, self.matcher, config.loyalty.rules(), self.sessions)
        self.shopping.register(self.commands)
        # Store staff (edge_agent.staff): with sessions, since staff badges start them. After the shopping
        # service, whose staff-assist calls it records.
        self.staff: StaffService | None = None
        if self.sessions is not None:
            self.staff = StaffService(self.store, self.outbox, self.sessions,
                                      lambda topic, payload: self.link.publish(topic, payload, qos=1),
                                      config.store.id, config.device.id, config.staff, clock=staff_clock)
            self.staff.register(self.commands)
        # Clienteling by consent (edge_agent.clienteling): a recognised shopper's call shows staff who they are
        # when they agree at the kiosk; after the staff service, whose calls it follows.
        self.clienteling: Clienteling | None = None
        if self.staff is not None and self.sessions is not None:
            self.clienteling = Clienteling(self.store, self.sessions, self.staff.calls, self.staff.answers,
                                           config.loyalty.rules(),
                                           lambda topic, payload: self.link.publish(topic, payload, qos=1),
                                           CLIENTELING.topic_for(config.store.id, config.device.id))
            self.clienteling.register(self.commands)
        # The store's control over the content pack in use (edge_agent.content_control): staff's requests pass
        # the staff gate, so it needs staff mode (sessions, [nfc]).
        self.content_control: ContentControl | None = None
        if config.content is not None:
            if self.staff is None:
                logger.warning("[content] is set but this device has no staff mode ([nfc]): the store's content "
                               "changes are not available here")
            else:
                self.content_control = ContentControl(
                    self.store, config.content, ZoneInfo(config.store.timezone), self.topics.content_schedule,
                    lambda topic, payload, retain: self.link.publish(topic, payload, qos=1, retain=retain),
                    self.staff.gate, self.staff.audit, previews=self._previews())
                self.content_control.register(self.commands)
                # The store console's requests for a staff member logged in there (issue 16).
                ConsoleRequests(self.content_control).register(self.commands)
        # The anonymous hourly analytics (edge_agent.analytics): the kiosk's usage reports and the events queued
        # upstream, into hourly buckets; each complete hour goes upstream through the outbox.
        self.analytics = AnalyticsService(self.store, self.outbox, config.analytics, ZoneInfo(config.store.timezone),
                                          self.clock.timestamp, trusted=lambda: self.clock.trusted_now() is not None)
        self.analytics.register(self.commands)
        if self.content_delivery is not None and self.staff is not None:
            self.content_delivery.gate, self.content_delivery.audit = self.staff.gate, self.staff.audit
        if self.content_delivery is not None and self.content_control is not None:
            self.content_delivery.on_switched = self.content_control.refresh
        self.broker_rtt_ms: float | None = None
        self.broker_rtt_at: float | None = None  # monotonic time of the last round trip
        self._probe: tuple[str, float] | None = None
        self.device_checks = self._setup_device_checks()
        self._stopping = threading.Event()
        self._stopped = threading.Event()
        self._housekeeping: threading.Thread | None = None

    def _previews(self) -> PreviewSource | None:
        """The packs staff can preview: the one in use, and with content delivery its staged pack."""
        if self.content_delivery is None:
            return None  # the service's default: the pack in use
        from kiosk.content import ContentPack

        from .content_delivery.preview_source import StagedPacks

        delivery, tz = self.content_delivery, ZoneInfo(self.config.store.timezone)
        return Sources([InUsePack(lambda: self.content_control.library.current if self.content_control else
                                  ContentPack.empty()), StagedPacks(delivery, tz)])

    def _setup_content_delivery(self) -> ContentDelivery | None:
        content = self.config.content
        if content is None or not content.public_keys:
            return None
        delivery = ContentDelivery(
            self.store, self.outbox, content, self.config.store.id, self.config.device.kind,
            CONTENT_ACTIVE.topic_for(self.config.store.id, self.config.device.id),
            lambda topic, payload, retain: self.link.publish(topic, payload, qos=1, retain=retain),
            ZoneInfo(self.config.store.timezone))
        delivery.register(self.commands)
        return delivery

    def _setup_sessions(self, nfc: NfcConfig, credentials: Credentials) -> None:
        from .nfc.reader import NfcpyReader
        from .nfc.sun import SUN_FILE_READ_MASTER_KEY, SUN_META_READ_KEY, SunKeys

        key = store_keys(credentials, self.config.privacy.key_rotation_until, datetime.now(UTC))
        sun_keys = None
        if credentials.get(SUN_META_READ_KEY) or credentials.get(SUN_FILE_READ_MASTER_KEY):
            sun_keys = SunKeys.from_credentials(credentials, nfc.sun_system_identifier.encode())
        self.sessions = SessionService(
            self.store, self.outbox, lambda topic, payload: self.link.publish(topic, payload, qos=1),
            device=self.config.device.id, session_topic=self.topics.session, hmac_key=key, sun_keys=sun_keys,
            policy=self.config.privacy.policy(), end_on_removal=self.config.sessions.end_on_card_removal,
            idle_s=self.config.sessions.idle_s, max_s=self.config.sessions.max_s,
            now=self.clock.now, consent_now=self.clock.trusted_now)
        self.commands.register("withdraw-consent", self.sessions.withdraw_consent)
        self.commands.register("my-data", self.sessions.my_data)
        self.commands.register("end-session", self.sessions.end_session)
        self.commands.register("touch", self.sessions.touch)
        self.reader = NfcpyReader(nfc.device, poll_interval_s=nfc.poll_interval_s)

    def _setup_device_checks(self) -> DeviceChecks | None:
        """The device checks of staff mode (:mod:`edge_agent.device_checks`), answering the kiosk's checks screen;
        None without staff mode (a device without a reader has no staff badges)."""
        staff, sessions = self.staff, self.sessions
        if staff is None or sessions is None:
            return None
        reader_test = None
        if self.reader is not None:
            reader_test = ReaderTest(self.store, sessions.identify_checked, sessions.on_tap, sessions.on_removed,
                                     alive=lambda session: isinstance(staff.modes.member(session), StaffMember))
        camera = None
        if self.camera is not None and self.config.camera is not None:
            camera = CameraCheckSource(self.camera, len(self.config.camera.masks))
        checks = DeviceChecks(self.store, self.outbox, self.central_clock, staff.gate, staff.audit,
                              connected=lambda: self.link.connected, probe=self._send_probe,
                              round_trip=lambda: (self.broker_rtt_ms, self.broker_rtt_at), reader_test=reader_test,
                              reader_state=self._reader_state if reader_test is not None else None,
                              camera=camera, content_pack=self._content_pack)
        checks.register(self.commands)
        return checks

    def _content_pack(self) -> str | None:
        """The content pack the agent holds ("name version", for the device checks), or None."""
        if self.content_control is None:
            return None
        pack = self.content_control.library.current
        return f"{pack.name} {pack.version}".strip() or None if pack else None

    def _reader_state(self):
        assert self.reader is not None, "asked only with a reader"
        return self.reader.health()["state"]

    # ------------------------------------------------------------------ API for the rest of the agent

    def emit(self, name: str, data: BaseModel | dict) -> str:
        """Queue the upstream event ``name`` durably; returns its message id.

        :raises ContractError: when ``data`` does not fit the event's schema.
        """
        return self.outbox.enqueue(name, data)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        # The link first: whatever the database holds, the agent must reach the broker,
        # or the push that corrects it could never arrive (and systemd would restart it forever).
        self.link.start()
        self._build_offer_index()
        self.link.wait_first_attempt(timeout=self.link.mqtt_config.connect_timeout_s + 1)
        if self.link.connected and not self.link.wait_subscribed(self.link.mqtt_config.connect_timeout_s):
            logger.warning("the broker has not confirmed the agent's subscriptions yet")
        if self.reader is not None:
            assert self.sessions is not None, "_setup_sessions makes both"
            # A reader test (device checks) takes the tap it waits for; every other tap goes to the sessions.
            tapped = (self.device_checks.reader_test if self.device_checks is not None else None) or self.sessions
            self.reader.start(tapped.on_tap, tapped.on_removed)
        if self.camera is not None:
            self.camera.start()
        if self.content_delivery is not None:
            self.content_delivery.start()
        if self.content_control is not None:
            self.content_control.start()
        state = "connected" if self.link.connected else "offline, queuing events"
        self.notifier.ready(f"{state}; outbox {self.outbox.depth().total}")
        self._housekeeping = threading.Thread(target=self._housekeep, name="housekeeping", daemon=True)
        self._housekeeping.start()
        logger.info("agent %s started for %s/%s (%s)", __version__, self.config.store.id,
                    self.config.device.id, state)

    def _build_offer_index(self) -> None:
        """Load the offers now rather than on the first shopper's request; a failure is reported, never fatal.

        Offers the index cannot hold are reported one by one (:meth:`_report_unindexable`); a
        failure of the whole load (e.g. an unreadable table) leaves the index to be loaded by
        the first request that needs it.
        """
        try:
            self.matcher.refresh()
        except Exception as exc:
            logger.exception("the offer index could not be built from %s at start; product, offer and "
                             "promo-code requests retry it", self.store.path)
            self._report_offers_problem(f"the offer index could not be built at start: {type(exc).__name__}: {exc}")

    def _report_unindexable(self, offer_id: str, reason: str) -> None:
        self._report_offers_problem(f"offer {offer_id} stored in the database cannot be indexed ({reason}); "
                                    "it is left out until a version that can be is pushed")

    def _report_offers_problem(self, reason: str) -> None:
        try:
            self.outbox.enqueue("error", ErrorEvent(topic=PUSHES["offers"].topic_for(self.config.store.id),
                                                    message_id=None, reason=reason[:1000]))
        except (ContractError, sqlite3.Error) as exc:
            logger.error("could not report the offers' problem upstream: %s", exc)

    def run_forever(self) -> None:
        """Start, then run until SIGTERM or SIGINT: the agent as its own process (``edge-agent run``).

        The process is the agent's, so it also sets the interpreter's thread switch interval to
        :data:`edge_agent.link.SWITCH_INTERVAL_S` (0.5 ms, Python's default is 5 ms): a device command that
        arrives while a push is validated gets the interpreter lock ten times sooner (``request/ping`` p99
        under saturation 78 -> 41 ms with this alone, bench/ping_under_load.py). Once started, it freezes
        the heap start built out of the garbage collector's passes (:mod:`edge_agent.heap`): a full collection
        over it held the lock for 50-70 ms (the same p99: 57-63 -> 11-14 ms).
        """
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: self._stopping.set())
        self.start()
        freeze_startup_heap()
        try:
            while not self._stopping.wait(0.5):
                pass
        finally:
            self.stop()

    def stop(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        self._stopping.set()
        self.notifier.stopping()
        logger.info("agent stopping")
        if self.reader is not None:
            self.reader.stop()
        if self.sessions is not None:
            self.sessions.close()
        if self.camera is not None:
            self.camera.stop()
        if self.device_checks is not None:
            self.device_checks.stop()
        if self.content_control is not None:
            self.content_control.stop()
        if self.content_delivery is not None:
            self.content_delivery.stop()
        self.link.stop()
        if self._housekeeping is not None:
            self._housekeeping.join(5)
        self.analytics.stop()
        self.store.close()

    # ------------------------------------------------------------------ health

    def health(self) -> HealthPayload:
        depth = self.outbox.depth()
        return HealthPayload(
            uptime_s=round(time.monotonic() - self._started_mono, 3),
            connected=self.link.connected,
            outbox_depth=depth.total,
            outbox_critical=depth.critical,
            outbox_oldest_age_s=None if depth.oldest_age_s is None else round(depth.oldest_age_s, 3),
            reconnects=self.link.stats.reconnects,
            dropped_telemetry=self.outbox.dropped_telemetry,
            rejected_messages=self.inbox.rejected,
            broker_rtt_ms=self.broker_rtt_ms,
            clock_trusted=self.clock.trusted(),
            pruned_rows=sum(self.retention.pruned.values()),
            content_packs=None if self.content_delivery is None else self.content_delivery.health_view(),
            **self._storage_health(),
            **self._reader_health(),
            **self._camera_health(),
        )

    def _storage_health(self) -> dict:
        # While pushes are held, their retries say whether the fault has passed (a small write may fit
        # where theirs does not). Otherwise, while a write met a fault, try one now (it does not wait
        # for a lock): the fault is shown until the database takes writes again, not until the next
        # tap happens to write.
        fault = self.inbox.held_fault
        if fault is None and self.inbox.held == 0:
            self.store.probe()
            fault = self.store.fault
        return {"storage_free_bytes": self.store.free_bytes(),
                "storage_state": fault[0].value if fault else "ok",
                "storage_error": fault[1] if fault else None,
                "held_messages": self.inbox.held}

    def _camera_health(self) -> dict:
        if self.camera is None:
            return {}
        health = self.camera.health()
        return {"camera_state": health["state"], "camera_fps": health["fps"],
                "camera_dropped_frames": health["dropped_frames"],
                "camera_processing_ms": health["processing_ms"], "camera_error": health["last_error"]}

    def _on_camera_event(self, kind: str, data: dict) -> None:
        """What the camera saw (anonymous events; on the camera-pipeline thread)."""
        if self.device_checks is not None and self.device_checks.camera is not None:
            self.device_checks.camera.saw(kind, data)
        if kind in ("presence-start", "presence-end"):
            present = kind == "presence-start"
            state = {"state": "present" if present else "absent", "started": data["started"],
                     "ended": data.get("ended"), "dwell_s": data.get("dwell_s")}
            self._publish_local(PRESENCE, state, retain=True)
            if not present:
                self.emit("presence", data)
        elif kind == "footfall":
            self.emit("footfall", data)
        elif kind == "scan":
            self._publish_local(SCAN, data)
            self.emit("scan", data)
        elif kind == "app-identification":
            if self.sessions is None:
                logger.info("app code seen, but this device has no sessions (no [nfc] section)")
            else:
                self.sessions.on_app(data["customer"], data["reason"])
        elif kind in ("pickup", "putback"):
            shelf = {"zone": data["zone"], "gtin": data["gtin"], "action": kind, "out_s": data.get("out_s")}
            self._publish_local(SHELF, shelf)
            self.emit("shelf", shelf)
        elif kind in ("out-of-stock", "restocked"):
            self.emit("stock", {"zone": data["zone"], "gtin": data["gtin"], "state": kind, "out_s": data["out_s"]})
        else:
            logger.warning("unknown camera event %s ignored", kind)

    def _publish_local(self, message, data: dict, retain: bool = False) -> None:
        _, payload = encode(message, data)
        self.link.publish(message.topic_for(self.config.store.id, self.config.device.id), payload, qos=1,
                          retain=retain)

    def _reader_health(self) -> dict:
        if self.reader is None:
            return {}
        assert self.sessions is not None, "_setup_sessions makes both"
        health = self.reader.health()
        return {"reader_state": health["state"], "reader_error": health.get("last_error"),
                "taps": self.sessions.taps}

    def birth(self) -> BirthPayload:
        capabilities = (["outbox"] + (["nfc"] if self.reader is not None else [])
                        + (["camera"] if self.camera is not None else [])
                        + [f"event:{name}" for name in EVENTS] + [f"push:{name}" for name in PUSHES]
                        + [f"command:{name}" for name in self.commands.available()])
        return BirthPayload(
            agent_version=__version__, python_version=platform.python_version(),
            paho_version=package_version("paho-mqtt"), sqlite_version=sqlite3.sqlite_version,
            device_kind=self.config.device.kind, capabilities=capabilities,
            config_hash=self.config.config_hash(),
            started=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.started)),
            content_packs=None if self.content_delivery is None else self.content_delivery.health_view(),
        )

    def _on_connected(self) -> None:
        _, payload = encode(BIRTH, self.birth())
        self.link.publish(self.topics.birth, payload, qos=1, retain=True)
        if self.content_control is not None:
            self.content_control.publish()
        if self.content_delivery is not None:
            self.content_delivery.publish()

    def _respond(self, command: str, payload: bytes) -> None:
        if not self.link.publish(self.topics.response(command), payload, qos=1):
            logger.info("response to %s not sent: not connected", command)

    def _send_probe(self) -> None:
        nonce = new_id()
        self._probe = (nonce, time.perf_counter())
        _, payload = encode(PROBE, ProbePayload(nonce=nonce))
        self.link.publish(self.topics.probe, payload, qos=0)

    def _on_probe(self, raw: bytes) -> None:
        try:
            payload = decode(PROBE, raw).payload
        except ContractError as exc:
            self.inbox.reject(self.topics.probe, None, str(exc))
            return
        assert isinstance(payload, ProbePayload), "PROBE's payload model"
        nonce = payload.nonce
        probe = self._probe
        if probe is not None and probe[0] == nonce:
            self.broker_rtt_ms = round((time.perf_counter() - probe[1]) * 1000, 3)
            self.broker_rtt_at = time.monotonic()
            self._probe = None

    def _housekeep(self) -> None:
        interval = self.config.health.interval_s
        watchdog = self.notifier.watchdog_interval_s
        tick = min(interval, watchdog) if watchdog else interval
        next_health = time.monotonic()
        while not self._stopping.wait(max(0.0, min(next_health - time.monotonic(), tick))):
            now = time.monotonic()
            if watchdog and self.link.alive():
                self.notifier.watchdog()
            if now >= next_health:
                next_health = now + interval
                self._publish_health()
            self.upkeep.tick()
            self.analytics.tick()

    def _publish_health(self) -> None:
        try:
            health = self.health()
        except sqlite3.Error as exc:
            logger.error("cannot read health: %s", exc)
            return
        if self.link.connected:
            _, payload = encode(HEALTH, health)
            self.link.publish(self.topics.health, payload, qos=0)
            self._send_probe()
        self.notifier.status(f"{'connected' if health.connected else 'offline'}; outbox {health.outbox_depth}; "
                             f"dropped {health.dropped_telemetry}")
