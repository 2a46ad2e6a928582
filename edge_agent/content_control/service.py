"""The agent's side of the store's control over the kiosk's content: staff's requests, the retained schedule.

The agent reads the pack in use from the ``[content] folder`` it shares with
the kiosk (:class:`kiosk.content.ContentLibrary`, checked every
``check_s`` in a thread of its own), keeps the store's changes to it in SQLite
(:mod:`.overlay`) and publishes the effective schedule (:mod:`.schedule`),
retained, on the local ``content-schedule`` topic: after each change, when a
new pack (or version) comes into use, and on every connection. The kiosk
applies it (:func:`kiosk.content.apply_overlay`).

Requests (``content-control``, ``content-preview-packs``,
``content-preview``) are made in a staff session: the staff gate
(:class:`edge_agent.staff.gate.StaffGate`) checks the session, and the manager
role for schedules, or raises :class:`~edge_agent.commands.CommandError`. Each
change and each preview is audited once (``event/staff-audit``, action
``content-<action>``): a change commits together with its audit entry, a
refused one (by the gate or because it does not fit the pack) is audited as
``refused``, changes nothing and is answered with an error saying why.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta, tzinfo
from typing import TYPE_CHECKING

from kiosk.content import ContentLibrary, ContentPack, load_pack

from ..commands import CommandError, Commands
from ..contract import CONTENT_SCHEDULE, AuditResult, StaffRole, encode
from ..contract.payloads_content_control import (
    MANAGER_ACTIONS,
    ContentControlRequest,
    ContentControlResult,
    ContentSchedulePayload,
    PreviewPack,
    PreviewPacksRequest,
    PreviewPacksResult,
    PreviewRequest,
    PreviewResult,
)
from ..store import Store
from .config import ContentConfig
from .overlay import ItemOverlay, OverlayStore, PackOverlay
from .preview import InUsePack, PreviewSource
from .schedule import PackSchedule, ordered, pack_items, showing

if TYPE_CHECKING:
    from ..staff.audit import AuditLog
    from ..staff.gate import StaffGate, StaffMember

logger = logging.getLogger(__name__)

#: ``publish(topic, payload, retain)``: returns whether it went out (False while offline).
Publish = Callable[[str, bytes, bool], bool]


class ContentControl:
    """The store's changes to the pack in use, and the schedule the kiosk applies.

    :param store: the agent's database.
    :param config: the ``[content]`` section.
    :param tz: the store's time zone ("today only" is the store's today).
    :param topic: the ``content-schedule`` topic of this device.
    :param publish: sends the retained schedule.
    :param gate: checks a request's staff session and role.
    :param audit: records each change and preview (``event/staff-audit``).
    :param previews: the packs to preview; default the pack in use only.
    """

    def __init__(self, store: Store, config: ContentConfig, tz: tzinfo, topic: str, publish: Publish,
                 gate: StaffGate, audit: AuditLog, previews: PreviewSource | None = None):
        self.store = store
        self.overlays = OverlayStore(store)
        self.config = config
        self.tz = tz
        self.topic = topic
        self._publish = publish
        self.gate = gate
        self.audit = audit
        self.library = ContentLibrary(config.folder, tz=tz, load=False)
        self.previews = previews if previews is not None else InUsePack(lambda: self.library.current)
        self._lock = threading.RLock()  # the library and the overlay: the checking thread and the requests
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.schedule: ContentSchedulePayload | None = None  # the last one sent
        self._items: PackSchedule | None = None  # the pack in use's own items and schedules, made once

    def register(self, commands: Commands) -> None:
        """Carry out the content requests."""
        commands.register("content-control", self.control)
        commands.register("content-preview-packs", self.preview_packs)
        commands.register("content-preview", self.preview)

    # ------------------------------------------------------------------ the pack in use

    def start(self) -> None:
        """Read the pack now, then check the folder every ``check_s`` in a thread."""
        self.refresh()
        self._thread = threading.Thread(target=self._watch, name="content-control", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(5)

    def _watch(self) -> None:
        while not self._stopping.wait(self.config.check_s):
            try:
                self.refresh()
            except Exception:  # a checker that dies would leave a new pack without the store's changes
                logger.exception("checking the content pack in %s failed", self.config.folder)

    def refresh(self) -> bool:
        """Take a new pack (or version) in the folder into use: changes to items it no longer has are dropped
        and listed; then publish its schedule. A broken pack is logged and the one in use kept.

        :returns: True when another pack is now in use.
        """
        with self._lock:
            if not self.library.refresh():
                return False
            pack = self.library.current
            present = {section: {item.id for item in items} for section, items in pack_items(pack).items()}
            self.overlays.adopt_version(pack.name, pack.version, present)
            self._publish_schedule()
            return True

    def publish(self) -> None:
        """Send the schedule again (on every connection: a broker without persistence forgot it)."""
        with self._lock:
            if self.library.current:
                self._publish_schedule()

    def _publish_schedule(self) -> None:
        pack = self.library.current
        self._send(pack, *self._make_schedule(pack))

    def _make_schedule(self, pack: ContentPack) -> tuple[ContentSchedulePayload, bytes]:
        """The effective schedule of ``pack`` now and its message; what the pack gives is made once a pack."""
        if self._items is None or self._items.pack is not pack:
            self._items = PackSchedule(pack)
        overlay = self.overlays.load(pack.name)
        schedule = self._items.effective(overlay, overlay.revision)
        return schedule, encode(CONTENT_SCHEDULE, schedule)[1]

    def _send(self, pack: ContentPack, schedule: ContentSchedulePayload, payload: bytes) -> None:
        self.schedule = schedule
        if not self._publish(self.topic, payload, True):
            logger.info("content schedule of %s not sent now (offline): sent on the next connection", pack.name)

    def _pack(self) -> ContentPack:
        pack = self.library.current
        if not pack:
            raise CommandError(f"no content pack in use (the folder {self.config.folder} has none that can be used)")
        return pack

    # ------------------------------------------------------------------ staff's changes

    def control(self, request: ContentControlRequest) -> ContentControlResult:
        """Carry out one change (request ``content-control``); audited once, whatever comes of it.

        :raises CommandError: when the session may not, or the change does not fit the pack in use.
        """
        action, target = self.audited_as(request)
        member = self.gate.require(request.session, self.role_for(request), action=action, target=target)
        return self.control_as(member, request)

    def audited_as(self, request: ContentControlRequest) -> tuple[str, str | None]:
        """The audit's action and target of a change."""
        target = f"{request.section}/{request.item}" if request.item else self.library.current.name or None
        return f"content-{request.action}", target

    @staticmethod
    def role_for(request: ContentControlRequest) -> StaffRole:
        """The role a change needs."""
        return StaffRole.MANAGER if request.action in MANAGER_ACTIONS else StaffRole.STAFF

    def control_as(self, member: StaffMember, request: ContentControlRequest) -> ContentControlResult:
        """Carry out one change for ``member``, whose right to it is checked (the staff gate at the kiosk, the
        console's requests in :mod:`.console_requests`); audited once, whatever comes of it.

        :raises CommandError: when the change does not fit the pack in use.
        """
        action, target = self.audited_as(request)
        with self._lock:
            made: list[tuple[ContentSchedulePayload, bytes]] = []
            try:
                pack = self._pack()
                with self.store.transaction(durable=True):  # the change and its audit entry commit together
                    # The new schedule goes out once the commit is durable, and first: before the outbox's
                    # upstream drain, which the audit entry wakes, competes for the connection.
                    self.store.after_commit(lambda: self._send(pack, *made[0]))
                    revision = self._change(pack, request)
                    self.audit.record(member.staff, action, AuditResult.OK, target)
                    # Made inside the transaction (it reads its own writes): after the commit only the publish.
                    made.append(self._make_schedule(pack))
            except CommandError:
                self.audit.record(member.staff, action, AuditResult.REFUSED, target)
                raise
            assert self.schedule is not None, "_send keeps it"
            result = ContentControlResult(action=request.action, revision=revision, undo=self.schedule.undo)
        logger.info("content %s of %s: revision %d", request.action, target, revision)
        return result

    def _change(self, pack: ContentPack, request: ContentControlRequest) -> int:
        action = request.action
        if action == "undo":
            if self.overlays.undo(pack.name) is None:
                raise CommandError("nothing to undo")
            return self.overlays.load(pack.name).revision
        if action == "dismiss-dropped":
            self.overlays.dismiss_dropped(pack.name)
            return self.overlays.load(pack.name).revision
        overlay = self.overlays.load(pack.name)
        if action == "reset":
            if not overlay.changed:
                raise CommandError(f"{pack.name} shows as the pack gives it: nothing to reset")
            return self.overlays.change(pack.name, action, PackOverlay(revision=overlay.revision))
        assert request.section is not None and request.item is not None, "ContentControlRequest checks it"
        section, item = request.section, request.item
        items = pack_items(pack)[section]
        if item not in {entry.id for entry in items}:
            raise CommandError(f"{section} of {pack.name} {pack.version} has no item {item!r}")
        key = (section, item)
        current = overlay.items.get(key, ItemOverlay())
        new_items = dict(overlay.items)
        new_orders = dict(overlay.orders)
        today = datetime.now(self.tz).date()
        if action in ("enable", "disable"):
            until = today + timedelta(days=1) if request.today_only else request.until
            if until is not None and until <= today:
                raise CommandError(f"until {until.isoformat()} is not after today ({today.isoformat()})")
            new_items[key] = ItemOverlay(action == "enable", until, current.schedule)
        elif action == "set-schedule":
            new_items[key] = ItemOverlay(current.enabled, current.until, request.schedule)
        elif action == "clear-schedule":
            if current.schedule is None:
                raise CommandError(f"{section}/{item} has the pack's own schedule already")
            new_items[key] = ItemOverlay(current.enabled, current.until, None)
        else:  # move-up, move-down
            ids = [entry.id for entry in ordered(items, overlay.orders.get(section))]
            index = ids.index(item)
            other = index - 1 if action == "move-up" else index + 1
            if not 0 <= other < len(ids):
                raise CommandError(f"{section}/{item} is {'first' if other < 0 else 'last'} already")
            ids[index], ids[other] = ids[other], ids[index]
            new_orders[section] = [] if ids == [entry.id for entry in items] else ids
        new_items = {key: value for key, value in new_items.items() if not value.empty}
        new_orders = {section: order for section, order in new_orders.items() if order}
        if new_items == overlay.items and new_orders == overlay.orders:
            raise CommandError(f"{section}/{item} is so already: nothing changed")
        return self.overlays.change(pack.name, action, PackOverlay(new_items, new_orders))

    # ------------------------------------------------------------------ preview

    def preview_packs(self, request: PreviewPacksRequest) -> PreviewPacksResult:
        """The packs staff can preview (request ``content-preview-packs``)."""
        self.gate.require(request.session)
        return PreviewPacksResult(packs=[
            PreviewPack(pack=entry.id, version=entry.pack.version, state=entry.state, folder=str(entry.folder))
            for entry in self.previews.packs()])

    def preview(self, request: PreviewRequest) -> PreviewResult:
        """What shows at a chosen moment (request ``content-preview``): the store's changes to the pack laid
        over it, read on the store's clock.

        :raises CommandError: for a pack that cannot be previewed.
        """
        target = request.pack or self.library.current.name or None
        member = self.gate.require(request.session, action="content-preview", target=target)
        return self.preview_as(member, request)

    def preview_as(self, member: StaffMember, request: PreviewRequest) -> PreviewResult:
        """:meth:`preview` for ``member``, whose right to it is checked; audited.

        :raises CommandError: for a pack that cannot be previewed.
        """
        target = request.pack or self.library.current.name or None
        packs = self.previews.packs()
        chosen = next((entry for entry in packs if request.pack in (None, entry.id)), None)
        if chosen is None:
            self.audit.record(member.staff, "content-preview", AuditResult.REFUSED, target)
            raise CommandError(f"no pack {request.pack!r} to preview" if request.pack else "no pack to preview")
        self.audit.record(member.staff, "content-preview", AuditResult.OK, chosen.id)
        pack = chosen.pack if chosen.state == "in-use" else load_pack(chosen.folder, self.tz)
        at = request.at.astimezone(self.tz)
        overlay = self.overlays.load(pack.name)
        lists = {section: showing(items, overlay, section, at) for section, items in pack_items(pack).items()}
        return PreviewResult(pack=pack.name, version=pack.version, at=request.at, attract=lists["attract"],
                             inspire=lists["inspire"], instructions=lists["instructions"])
