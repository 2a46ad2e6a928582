"""The agent's content delivery: central's signed manifests in, verified packs out, switched at their time.

What happens to a ``content-pack`` push:

1. **Accepted or refused, in the inbox's transaction** (:meth:`ContentDelivery.apply`):
   the signature is checked against ``[content] public_keys``
   (:mod:`.signing`); a manifest that is unsigned, wrongly signed, by an
   unknown key, or not newer than the active or staged pack (or the one being
   fetched) is refused: :class:`~edge_agent.errors.ContractError`, so the inbox
   records nothing, sends ``event/error`` with the reason and counts it as
   rejected (never as applied). A manifest for other devices (its targets:
   store, device kind, orientation) is taken note of and reported ``refused``
   with the reason, nothing fetched. An accepted one is recorded (table
   ``content_packs``, :mod:`.records`) with its ``received`` status event in the
   same durable commit, so a restart resumes it.
2. **Fetched in the background** (the thread ``content-delivery``; the inbox
   never waits): :class:`~.download.Downloader` with ``[content.download]``,
   files stored once by sha256, progress as ``event/content-status``
   ``downloading`` at most every :data:`PROGRESS_EVERY_S`. A newer manifest
   cancels the fetch of an older one (superseded).
3. **Staged**: blobs already held from other packs are hashed again, the pack
   folder is made of hard links (:meth:`~.blobs.BlobStore.materialize`), and
   checked with the kiosk's own validation (:func:`kiosk.content.load_pack`,
   its id and ``pack_version`` must be the manifest's). A pack that fails any
   of it is ``failed`` with the reason, and the active pack stays.
4. **Activated** at ``activate_at`` (at once when it is past, also at start-up),
   and with ``[content] approval`` only once a manager approved it
   (``request/content-approve``, staff mode, audited): the ``current`` link is
   replaced atomically (:mod:`.activation`), the database says which pack is
   active and which is the previous one, the retained local ``content-active``
   tells the kiosk, and the files of every older pack are removed.
5. **Fall-back**: when the kiosk answers ``request/content-loaded`` with ``ok``
   false for the active pack, the previous one is switched back and the new
   one is ``failed`` with the kiosk's reason. At a pack's ``end`` the previous
   one comes back too (``ended``).

Nothing here blocks a Kivy callback or the inbox: the fetch, the hashing and
the validation run on the service's own thread; a switch is a rename.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from kiosk.content import ContentError, load_pack

from ..commands import CommandError, Commands
from ..contract import AuditResult, StaffRole, encode
from ..contract.catalogue import CONTENT_ACTIVE
from ..contract.payloads_content_delivery import (
    ContentActivePayload,
    ContentApproveRequest,
    ContentApproveResult,
    ContentLoadedRequest,
    ContentLoadedResult,
    ContentPackManifest,
    ContentPacksHealth,
    ContentState,
    ContentStatusEvent,
    PackRef,
    StagedPack,
    parse_utc,
)
from ..errors import ContractError
from ..outbox import Outbox
from ..store import Store
from . import records
from .activation import PackFolders
from .download import DownloadCancelled, Downloader, DownloadError
from .file_spec import FileSpec
from .records import PackRecord
from .signing import ManifestRefused, ManifestVerifier

if TYPE_CHECKING:
    import sqlite3

    from ..content_control.config import ContentConfig
    from ..staff.audit import AuditLog
    from ..staff.gate import StaffGate

logger = logging.getLogger(__name__)

#: ``publish(topic, payload, retain)``: returns whether it went out (False while offline).
Publish = Callable[[str, bytes, bool], bool]
#: The most often a download's progress goes upstream (it is a critical event: each one is kept).
PROGRESS_EVERY_S = 10.0
#: The longest the service sleeps without looking at the time (a clock set forward is noticed).
_IDLE_S = 60.0


class ContentDelivery:
    """Takes content packs from central and switches the device between them.

    :param store: the agent's database (the records of the manifests).
    :param outbox: where ``event/content-status`` goes.
    :param config: the ``[content]`` section (public keys, packs_dir, approval, orientation, download).
    :param store_id: this store (a pack's ``targets.stores``).
    :param device_kind: this device's kind (``targets.device_kinds``).
    :param topic: this device's ``local/content-active`` topic.
    :param publish: sends the retained ``content-active``.
    :param tz: the store's time zone (the download window; the pack validation's schedules).
    :param gate: checks a manager's session for approvals (None: approvals are refused).
    :param audit: records approvals (``event/staff-audit``).
    :param clock: the wall clock, seconds (tests set it).
    """

    def __init__(self, store: Store, outbox: Outbox, config: ContentConfig, store_id: str, device_kind: str,
                 topic: str, publish: Publish, tz: tzinfo, gate: StaffGate | None = None,
                 audit: AuditLog | None = None, clock: Callable[[], float] = time.time):
        if config.packs_dir is None:
            raise ValueError("content delivery needs [content] packs_dir")
        self.store = store
        self.outbox = outbox
        self.config = config
        self.store_id = store_id
        self.device_kind = device_kind
        self.topic = topic
        self._publish = publish
        self.tz = tz
        self.gate = gate
        self.audit = audit
        self.clock = clock
        self.verifier = ManifestVerifier.from_hex(config.public_keys)
        self.folders = PackFolders(config.packs_dir)
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._cancel = threading.Event()  # set to stop the fetch in progress
        self._fetching: int | None = None  # the version being fetched
        self._lock = threading.RLock()  # switches: the service's thread and the kiosk's / a manager's requests
        self._thread: threading.Thread | None = None
        self._progress_sent = 0.0
        #: What each delivery took, by release: ``received`` (monotonic), ``download_s``, ``verify_s``,
        #: ``validate_s``, ``switch_s``, ``received_to_active_s`` (bench/content_activation.py reads them).
        self.timings: dict[int, dict[str, float]] = {}
        #: Called after ``current`` points at another pack (the agent: the store's content control reads it
        #: again at once, so staff mode's Inhoud shows the new pack's items without waiting for its next check).
        self.on_switched: Callable[[], None] | None = None

    # ------------------------------------------------------------------ wiring

    def register(self, commands: Commands) -> None:
        """Carry out the kiosk's ``content-loaded`` and a manager's ``content-approve``."""
        commands.register("content-loaded", self.loaded)
        commands.register("content-approve", self.approve)

    def start(self) -> None:
        """Point ``current`` at the active pack (after a power cut between the commit and the link), then run
        the service's thread: resume what was being fetched, activate what is due."""
        with self._lock:
            active = records.in_state(self._records(), "active")
            if active is not None:
                self.folders.point_current(self.folders.folder(active.pack, active.version))
        self._thread = threading.Thread(target=self._run, name="content-delivery", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread (a fetch in progress stops at its next read; its partial files stay to resume)."""
        self._stopping.set()
        self._cancel.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def publish(self) -> None:
        """Send the retained ``content-active`` (on every connection, and after every change)."""
        self._publish(self.topic, encode(CONTENT_ACTIVE, self.active_view())[1], True)

    # ------------------------------------------------------------------ 1. the push, in the inbox's transaction

    def apply(self, conn: sqlite3.Connection, manifest: ContentPackManifest, outbox: Outbox) -> str:
        """Accept a manifest (recorded, ``received``) or refuse it; the inbox's applier of ``content-pack``.

        :raises ContractError: unsigned, wrongly signed, an unknown key, or not newer than the active, staged or
            fetched pack: the inbox rejects it with ``event/error`` (nothing recorded, never acknowledged as
            applied).
        """
        try:
            self.verifier.verify(manifest)
        except ManifestRefused as exc:
            raise ContractError(exc.reason) from None
        known = records.load(conn)
        for record in known:
            if record.state in ("active", "staged", *records.PENDING) and manifest.version <= record.version:
                what = {"active": "the active pack's", "staged": "the staged pack's"}.get(record.state,
                                                                                       "the pack being fetched's")
                raise ContractError(f"pack {manifest.pack} version {manifest.version}: not newer than {what} "
                                    f"version {record.version} ({record.pack})")
        mismatch = self._not_for_us(manifest)
        if mismatch is not None:
            outbox.enqueue("content-status", self._status(manifest, "refused", reason=mismatch))
            return f"content pack {manifest.pack} version {manifest.version} is not for this device: {mismatch}"
        for record in known:
            if record.state in records.PENDING:  # an older one still being fetched: this one replaces it
                records.set_state(conn, record.version, "superseded", f"superseded by version {manifest.version}")
                outbox.enqueue("content-status", self._status(
                    record.manifest, "failed", reason=f"superseded by version {manifest.version}"))
                self.store.after_commit(self._cancel_fetch)
        records.insert(conn, manifest)
        outbox.enqueue("content-status", self._status(manifest, "received"))
        received = time.monotonic()
        self.store.after_commit(lambda: self.timings.setdefault(manifest.version, {}).update(received=received))
        self.store.after_commit(self._wake.set)
        return f"content pack {manifest.pack} version {manifest.version} received ({manifest.total_bytes} bytes)"

    def _not_for_us(self, manifest: ContentPackManifest) -> str | None:
        targets = manifest.targets
        if targets.stores is not None and self.store_id not in targets.stores:
            more = "…" if len(targets.stores) > 5 else ""
            return f"for stores {', '.join(targets.stores[:5])}{more}, not {self.store_id}"
        if targets.device_kinds is not None and self.device_kind not in targets.device_kinds:
            return f"for {', '.join(targets.device_kinds)} devices, this one is a {self.device_kind}"
        orientation = self.config.orientation
        if targets.orientations is not None and orientation is not None and orientation not in targets.orientations:
            return f"for {', '.join(targets.orientations)} screens, this one is {orientation}"
        return None

    def _cancel_fetch(self) -> None:
        self._cancel.set()
        self._wake.set()

    # ------------------------------------------------------------------ the service's thread

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                delay = self.step()
            except Exception:  # the service must outlive one bad step; logged with its trace
                logger.exception("content delivery: a step failed; trying again in %.0f s", _IDLE_S)
                delay = _IDLE_S
            if delay > 0:
                self._wake.wait(delay)
            self._wake.clear()

    def step(self) -> float:
        """One round: fetch the newest pending pack, or activate what is due, or end what has ended.

        :returns: seconds until something is due (0: look again at once).
        """
        known = self._records()
        pending = records.in_state(known, *records.PENDING)
        if pending is not None:
            self._deliver(pending)
            return 0.0
        now = self.clock()
        with self._lock:
            staged = records.in_state(self._records(), "staged")
            if staged is not None and self._due(staged, now) and self._approved(staged):
                self._activate(staged)
                return 0.0
            active = records.in_state(self._records(), "active")
            if active is not None and active.manifest.end is not None \
                    and parse_utc(active.manifest.end).timestamp() <= now:
                self._fall_back(active, "ended", f"its end {active.manifest.end} has passed")
                return 0.0
        moments = [parse_utc(text).timestamp() for text in (
            staged.manifest.activate_at if staged is not None else None,
            active.manifest.end if active is not None else None) if text is not None]
        return max(0.05, min([_IDLE_S, *(moment - now for moment in moments)]))

    def _records(self) -> list[PackRecord]:
        with self.store.reading() as conn:
            return records.load(conn)

    def _due(self, record: PackRecord, now: float) -> bool:
        at = record.manifest.activate_at
        return at is None or parse_utc(at).timestamp() <= now

    def _approved(self, record: PackRecord) -> bool:
        return not self.config.approval or record.approved_by is not None

    # ------------------------------------------------------------------ 2 and 3. fetch, verify, validate, stage

    def _deliver(self, record: PackRecord) -> None:
        manifest = record.manifest
        timing = self.timings.setdefault(manifest.version, {})
        with self.store.transaction(durable=True) as conn:
            records.set_state(conn, manifest.version, "downloading")
        self._cancel.clear()
        self._fetching = manifest.version
        try:  # the contract checks its characters; whether it is a URL to fetch from is checked here
            url = httpx.URL(manifest.base_url)
            if url.scheme not in ("http", "https") or not url.host:
                raise ValueError("it names no http(s) host")
            if url.port is not None and not 0 < url.port < 65536:
                raise ValueError(f"port {url.port} is not 1-65535")
        except (httpx.InvalidURL, ValueError) as exc:
            self._fail(manifest, f"base_url is not a URL the agent can fetch from: {exc}")
            return
        specs = [FileSpec(item.path, item.size, item.sha256, item.media_type) for item in manifest.files]
        held = {item.sha256 for item in manifest.files if self.folders.blobs.has(item.sha256)}
        started = time.monotonic()
        try:
            with Downloader(self.folders.blobs, self.config.download.policy(),
                            clock=lambda: datetime.fromtimestamp(self.clock(), UTC), timezone=self.tz) as downloader:
                downloader.fetch(manifest.base_url, specs, progress=lambda done, total: self._progress(
                    manifest, done, total), cancel=self._cancel)
        except DownloadCancelled:
            logger.info("content pack %s version %s: fetch stopped", manifest.pack, manifest.version)
            return  # superseded (recorded by apply) or the agent stops (resumed at the next start)
        except DownloadError as exc:
            self._fail(manifest, exc.reason)
            return
        finally:
            self._fetching = None
        timing["download_s"] = time.monotonic() - started
        started = time.monotonic()
        for sha in sorted(held):  # fetched now: verified on entry; held before: hashed again before use
            if not self.folders.blobs.verify(sha):
                self._fail(manifest, f"a file held from another pack changed on disk (sha256 {sha}); it is fetched "
                                     "again with the next manifest")
                return
        timing["verify_s"] = time.monotonic() - started
        started = time.monotonic()
        folder = self.folders.folder(manifest.pack, manifest.version)
        try:
            if not folder.exists():
                self.folders.blobs.materialize(specs, folder)
            pack = load_pack(folder, self.tz)
        except ContentError as exc:
            self._fail(manifest, f"pack validation: {_first_lines(str(exc))}")
            return
        except (OSError, ValueError) as exc:
            self._fail(manifest, f"pack folder {folder.name}: {exc}")
            return
        if pack.name != manifest.pack or pack.version != manifest.pack_version:
            self._fail(manifest, f"content.yaml is pack {pack.name} version {pack.version}, the manifest says "
                                 f"{manifest.pack} version {manifest.pack_version}")
            return
        timing["validate_s"] = time.monotonic() - started
        with self._lock:
            with self.store.transaction(durable=True) as conn:
                current = records.load(conn)
                if next((r.state for r in current if r.version == manifest.version), None) != "downloading":
                    return  # superseded while it was checked
                for other in current:
                    if other.state == "staged":
                        records.set_state(conn, other.version, "superseded", f"superseded by version "
                                                                             f"{manifest.version}")
                records.set_state(conn, manifest.version, "staged")
                self.outbox.enqueue("content-status", self._status(
                    manifest, "staged", awaiting_approval=self.config.approval and record.approved_by is None))
            logger.info("content pack %s version %s staged (%d files, %d bytes)", manifest.pack, manifest.version,
                        len(manifest.files), manifest.total_bytes)
            self.collect_garbage()
            self.publish()

    def _progress(self, manifest: ContentPackManifest, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self._progress_sent < PROGRESS_EVERY_S:
            return
        self._progress_sent = now
        try:
            self.outbox.enqueue("content-status", self._status(manifest, "downloading", done, total))
        except Exception as exc:  # noqa: BLE001 - progress is informative: a full disk must not stop the fetch
            logger.warning("content pack %s: progress not recorded: %s", manifest.pack, exc)

    def _fail(self, manifest: ContentPackManifest, reason: str) -> None:
        logger.warning("content pack %s version %s failed: %s", manifest.pack, manifest.version, reason)
        with self.store.transaction(durable=True) as conn:
            records.set_state(conn, manifest.version, "failed", reason)
            self.outbox.enqueue("content-status", self._status(manifest, "failed", reason=reason))
        self.collect_garbage()

    # ------------------------------------------------------------------ 4. the switch

    def _activate(self, record: PackRecord) -> None:
        """Make ``record`` (staged) the active pack; the active one becomes the previous one."""
        started = time.monotonic()
        now = self.clock()
        with self.store.transaction(durable=True) as conn:
            for other in records.load(conn):
                if other.state == "previous":
                    records.set_state(conn, other.version, "retired")
                elif other.state == "active":
                    records.set_state(conn, other.version, "previous")
            records.set_state(conn, record.version, "active", activated=now)
            self.outbox.enqueue("content-status", self._status(record.manifest, "active"))
        self.folders.point_current(self.folders.folder(record.pack, record.version))
        timing = self.timings.setdefault(record.version, {})
        timing["switch_s"] = time.monotonic() - started
        if "received" in timing:  # received by this process (not before a restart)
            timing["received_to_active_s"] = time.monotonic() - timing["received"]
        logger.info("content pack %s version %s active", record.pack, record.version)
        self.publish()
        self._switched()
        self.collect_garbage()

    def _fall_back(self, record: PackRecord, state: ContentState, reason: str) -> bool:
        """Take ``record`` (active) out of use, the previous pack back; False when there is none to go back to."""
        with self.store.transaction(durable=True) as conn:
            previous = records.in_state(records.load(conn), "previous")
            if previous is None and state == "ended":
                return False  # the last good pack stays on screen after its end: better than nothing
            records.set_state(conn, record.version, "failed" if state == "failed" else "ended", reason)
            self.outbox.enqueue("content-status", self._status(record.manifest, state, reason=reason))
            if previous is not None:
                records.set_state(conn, previous.version, "active", activated=self.clock())
                self.outbox.enqueue("content-status", self._status(previous.manifest, "active"))
        if previous is not None:
            self.folders.point_current(self.folders.folder(previous.pack, previous.version))
            logger.warning("content pack %s version %s %s (%s): back to version %s", record.pack, record.version,
                           state, reason, previous.version)
        else:
            self.folders.clear_current()
            logger.error("content pack %s version %s %s (%s) and no previous pack to go back to: the kiosk keeps "
                         "its own last good pack", record.pack, record.version, state, reason)
        self.publish()
        self._switched()
        self.collect_garbage()
        return True

    def _switched(self) -> None:
        # On a thread of its own: the hook takes other services' locks, never while this one's is held.
        hook = self.on_switched
        if hook is None:
            return

        def run() -> None:
            try:
                hook()
            except Exception:  # the switch is done; its follower's fault is its own (logged, next check retries)
                logger.exception("after the content switch, reading the new pack for the store's changes failed")
        threading.Thread(target=run, name="content-switched", daemon=True).start()

    def collect_garbage(self) -> None:
        """Remove the folders and files of every pack but the active, previous, staged and pending ones."""
        with self._lock:
            kept = [record for record in self._records() if record.state in records.KEPT]
            removed = self.folders.remove_except(self.folders.folder(r.pack, r.version) for r in kept)
            freed = self.folders.blobs.keep_only(item.sha256 for r in kept for item in r.manifest.files)
        if removed or freed:
            logger.info("content: removed pack folders %s, %d bytes of files", ", ".join(removed) or "none", freed)

    # ------------------------------------------------------------------ 5. the kiosk's answer, a manager's approval

    def loaded(self, request: ContentLoadedRequest) -> ContentLoadedResult:
        """The kiosk loaded the active pack, or could not: then the previous one comes back."""
        with self._lock:
            active = records.in_state(self._records(), "active")
            if active is None or active.pack != request.pack or active.version != request.version:
                return ContentLoadedResult(fallback=False, active=self._ref(active))
            if request.ok:
                logger.info("the kiosk shows content pack %s version %s", active.pack, active.version)
                return ContentLoadedResult(fallback=False, active=self._ref(active))
            reason = f"the kiosk could not load it: {request.reason or 'no reason given'}"
            self._fall_back(active, "failed", reason)
            return ContentLoadedResult(fallback=True, active=self._ref(records.in_state(self._records(), "active")))

    def approve(self, request: ContentApproveRequest) -> ContentApproveResult:
        """A manager approves the staged pack: active now, or at its ``activate_at``.

        :raises CommandError: not a manager in staff mode, approvals not configured, or no such staged pack.
        """
        if self.gate is None or self.audit is None:
            raise CommandError("approving content needs staff mode ([nfc] and [staff])")
        target = f"{request.pack}-{request.version}"
        member = self.gate.require(request.session, StaffRole.MANAGER, action="content-approve", target=target)
        with self._lock:
            staged = records.in_state(self._records(), "staged")
            if staged is None or staged.pack != request.pack or staged.version != request.version:
                self.audit.record(member.staff, "content-approve", AuditResult.FAILED, target)
                raise CommandError(f"pack {request.pack} version {request.version} is not staged here")
            with self.store.transaction(durable=True) as conn:
                records.approve(conn, staged.version, member.staff)
            self.audit.record(member.staff, "content-approve", AuditResult.OK, target)
            approved = records.in_state(self._records(), "staged")
            if approved is not None and self._due(approved, self.clock()):
                self._activate(approved)
                return ContentApproveResult(pack=request.pack, version=request.version, state="active")
        self.publish()
        self._wake.set()
        return ContentApproveResult(pack=request.pack, version=request.version, state="staged")

    # ------------------------------------------------------------------ views

    def _ref(self, record: PackRecord | None) -> PackRef | None:
        if record is None:
            return None
        return PackRef(pack=record.pack, version=record.version, pack_version=record.manifest.pack_version,
                       path=str(self.folders.folder(record.pack, record.version)))

    def active_view(self) -> ContentActivePayload:
        """The retained ``content-active``: the active, previous and staged packs."""
        known = self._records()
        staged = records.in_state(known, "staged")
        return ContentActivePayload(active=self._ref(records.in_state(known, "active")),
                                    previous=self._ref(records.in_state(known, "previous")),
                                    staged=self._staged(staged))

    def _staged(self, record: PackRecord | None) -> StagedPack | None:
        ref = self._ref(record)
        if ref is None or record is None:
            return None
        return StagedPack(**ref.model_dump(), activate_at=record.manifest.activate_at,
                          awaiting_approval=not self._approved(record))

    def health_view(self) -> ContentPacksHealth:
        """The delivered packs for birth and health."""
        known = self._records()
        view = self.active_view()
        return ContentPacksHealth(active=view.active, staged=view.staged,
                                  downloading=self._ref(records.in_state(known, *records.PENDING)))

    def staged_folders(self) -> Iterable[tuple[str, str, Path]]:
        """``(pack, pack_version, folder)`` of the staged pack, for staff's preview."""
        staged = records.in_state(self._records(), "staged")
        if staged is not None:
            yield staged.pack, staged.manifest.pack_version, self.folders.folder(staged.pack, staged.version)

    def _status(self, manifest: ContentPackManifest, state: ContentState, done: int = 0, total: int = 0, *,
                reason: str | None = None, awaiting_approval: bool = False) -> ContentStatusEvent:
        if state in ("staged", "active"):
            done = total = manifest.total_bytes
        return ContentStatusEvent(pack=manifest.pack, version=manifest.version, state=state, bytes_done=done,
                                  bytes_total=total or manifest.total_bytes, awaiting_approval=awaiting_approval,
                                  reason=reason[:1000] if reason else None)


def _first_lines(text: str, limit: int = 5) -> str:
    lines = text.strip().splitlines()
    more = f" (and {len(lines) - limit} more)" if len(lines) > limit else ""
    return "; ".join(line.strip() for line in lines[:limit]) + more
