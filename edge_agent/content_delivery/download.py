"""Fetching a pack's files over HTTP(S) into the blob store, in a way that survives a shop's network.

:meth:`Downloader.fetch` takes a base URL and the manifest's files
(:class:`~.file_spec.FileSpec`) and returns once every file is a verified blob
in the :class:`~.blobs.BlobStore`, or raises :class:`DownloadError` with a
reason a person can act on. What it promises:

* **Once per content**: a file whose sha256 is already in the store (another
  pack has it) is not fetched again; a file listed twice is fetched once.
* **Resume after a cut**: the bytes received are written to the blob's
  ``.part`` file as each network read returns them, so a cut loses nothing
  that arrived; the next attempt asks for the rest with ``Range: bytes=N-``.
  ``206`` appends, ``200`` (a server that ignores Range) starts the file
  again, ``416`` (the part is not a prefix of what the server has) too.
* **Retries** with the shared jittered backoff (:func:`edge_agent.backoff.backoff_delay`)
  on connection errors, cuts, timeouts and ``408/429/5xx``; an attempt that
  received bytes resets the count, so a line that keeps cutting still
  finishes. Other statuses (``404``, ``403``) fail at once, naming the URL.
* **At most two files at once** (``max_parallel``), one connection each.
* **A download window** (daily hours in store time): outside it the fetch
  waits; a file running when it closes stops between reads and resumes
  when it opens.
* **A bandwidth cap**: a token bucket (:mod:`.throttle`) over all the files.
* **A disk quota**: before anything is fetched, the bytes still needed are
  compared with what the quota and the disk leave; a pack that does not fit
  is refused with both sizes.
* **Verified before use**: size and sha256 are checked as the bytes arrive
  and before the blob enters the store (:meth:`~.blobs.BlobWriter.commit`);
  a mismatch enters nothing.
* **Cancellable**: ``cancel`` stops waits and transfers at the next read
  (a server that sends nothing is noticed at the read timeout); the
  ``.part`` files stay for the next fetch.

``Accept-Encoding: identity`` is sent: the sha256 is of the file's bytes, not
of a compressed transfer, and media compress badly anyway.
"""

from __future__ import annotations

import concurrent.futures
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Self
from urllib.parse import quote

import httpx

from ..backoff import backoff_delay
from .blobs import BlobMismatch, BlobStore, BlobWriter
from .file_spec import FileSpec
from .throttle import TokenBucket
from .window import DownloadWindow

logger = logging.getLogger(__name__)

#: Statuses a server (or a proxy before it) gives for a passing trouble: tried again with backoff.
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
#: The most a cut can cost: bytes are written as each network read returns them, and httpcore reads at
#: most this much at a time, so a cut loses at most one read that had not returned yet.
CHUNK_BYTES = 64 * 1024
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")

Progress = Callable[[int, int], None]


class DownloadError(Exception):
    """A pack's files could not be fetched; ``reason`` says why (a URL and status, the sizes, the hashes)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class DownloadCancelled(DownloadError):
    """The caller's cancel event was set; what was received stays for the next fetch."""

    def __init__(self) -> None:
        super().__init__("cancelled")


class _Retry(Exception):
    """A passing failure of one attempt: tried again after a backoff. ``unreachable``: no connection at all."""

    def __init__(self, reason: str, unreachable: bool = False):
        super().__init__(reason)
        self.unreachable = unreachable


class _Restart(Exception):
    """The part file was not a prefix of the server's file: fetch it again from byte 0, at once."""


def megabytes(size: int) -> str:
    """``size`` bytes as decimal megabytes for a reason text (``"12.3"``)."""
    return f"{size / 1e6:.1f}"


@dataclass(frozen=True)
class DownloadPolicy:
    """How a :class:`Downloader` behaves (made from the ``[content.download]`` section by
    :meth:`.config.DownloadConfig.policy`).

    :param max_parallel: files fetched at once (1 or 2).
    :param retries: tries after the first, per file, before giving up; a try that received bytes resets it.
    :param backoff_min_s: the first retry's delay (before jitter); doubles each try.
    :param backoff_max_s: the longest delay.
    :param window: the daily hours downloads may run (store time), or None for always.
    :param bandwidth_bytes_per_s: the cap over all files, or None for none.
    :param quota_bytes: the most the blob store may hold (blobs and partial files), or None for no quota.
    :param reserve_bytes: disk space a fetch always leaves free (the store's database and logs need room).
    :param connect_timeout_s: how long a connection may take.
    :param read_timeout_s: how long the server may send nothing before the attempt counts as failed.
    :param progress_interval_s: the least time between two progress calls (the first and last always come).
    :param window_poll_s: the longest single wait for the window to open, so a clock set forward is noticed.
    """

    max_parallel: int = 2
    retries: int = 8
    backoff_min_s: float = 1.0
    backoff_max_s: float = 300.0
    window: DownloadWindow | None = None
    bandwidth_bytes_per_s: int | None = None
    quota_bytes: int | None = None
    reserve_bytes: int = 50_000_000
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 30.0
    progress_interval_s: float = 0.5
    window_poll_s: float = 60.0

    def __post_init__(self) -> None:
        if not 1 <= self.max_parallel <= 2:
            raise ValueError(f"max_parallel {self.max_parallel} must be 1 or 2")
        if self.retries < 0 or self.backoff_min_s <= 0 or self.backoff_max_s < self.backoff_min_s:
            raise ValueError("retries must be >= 0 and 0 < backoff_min_s <= backoff_max_s")


class _Tally:
    """Bytes done of the whole fetch, reported to the caller's progress callback at most every interval."""

    def __init__(self, total: int, done: int, progress: Progress | None, interval: float):
        self.total = total
        self.done = done
        self._progress = progress
        self._interval = interval
        self._lock = threading.Lock()
        self._last = float("-inf")
        self._complained = False

    def add(self, amount: int, *, force: bool = False) -> None:
        with self._lock:
            self.done += amount
            now = time.monotonic()
            if self._progress is None or not (force or now - self._last >= self._interval):
                return
            self._last = now
            done = self.done
            try:
                self._progress(done, self.total)
            except Exception:  # the caller's code: logged, never the download's failure
                if not self._complained:
                    self._complained = True
                    logger.exception("the download's progress callback failed (ignored from now on)")


class Downloader:
    """Fetches pack files into ``blobs`` under ``policy``.

    :param blobs: the content-addressed store the files go into.
    :param policy: retries, parallelism, window, cap, quota.
    :param client: an ``httpx.Client`` to use (its TLS settings, proxies); by default one made here and
        closed by :meth:`close`. A given client is not closed.
    :param clock: the wall clock, aware datetimes (the agent's :meth:`edge_agent.clock.WallClock.now`).
    :param timezone: the store's zone, for the window (default: the system's local zone).
    :param rng: the jitter's random source (a seeded one in tests).
    """

    def __init__(self, blobs: BlobStore, policy: DownloadPolicy | None = None, client: httpx.Client | None = None,
                 clock: Callable[[], datetime] | None = None, timezone: tzinfo | None = None,
                 rng: random.Random | None = None):
        self.blobs = blobs
        self.policy = policy or DownloadPolicy()
        self._own_client = client is None
        self.client = client if client is not None else httpx.Client(
            timeout=httpx.Timeout(self.policy.read_timeout_s, connect=self.policy.connect_timeout_s),
            limits=httpx.Limits(max_connections=self.policy.max_parallel,
                                max_keepalive_connections=self.policy.max_parallel),
            follow_redirects=True)
        self._clock = clock or (lambda: datetime.now(UTC))
        self._timezone = timezone
        self._rng = rng or random.Random()
        self._bucket = (TokenBucket(self.policy.bandwidth_bytes_per_s)
                        if self.policy.bandwidth_bytes_per_s else None)

    def close(self) -> None:
        """Close the HTTP client made here (not one that was given)."""
        if self._own_client:
            self.client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ the whole fetch

    def fetch(self, base_url: str, files: Sequence[FileSpec], progress: Progress | None = None,
              cancel: threading.Event | None = None) -> None:
        """Fetch every file of ``files`` from ``base_url`` + its path into the blob store.

        :param progress: called as ``progress(bytes_done, bytes_total)`` from the download threads, at most
            every ``progress_interval_s``, first at the start and last with done == total. Bytes already in
            the store count as done.
        :param cancel: set it to stop; the fetch then raises :class:`DownloadCancelled`.
        :raises DownloadError: with the reason: the pack does not fit (sizes), an HTTP status (and URL), a
            checksum or size mismatch (expected and actual), the server unreachable after N tries, two
            files with one sha256 but different sizes.
        :raises DownloadCancelled: when ``cancel`` was set.
        """
        cancel = cancel or threading.Event()
        unique = self._unique(files)
        total = sum(spec.size for spec in unique)
        missing = [spec for spec in unique if not self.blobs.has(spec.sha256)]
        resumable = {spec.sha256: min(self.blobs.partial_size(spec.sha256), spec.size) for spec in missing}
        tally = _Tally(total, total - sum(spec.size for spec in missing) + sum(resumable.values()), progress,
                       self.policy.progress_interval_s)
        self._check_fits(sum(spec.size - resumable[spec.sha256] for spec in missing))
        tally.add(0, force=True)
        if missing:
            logger.info("fetching %d of %d files (%s of %s MB) from %s", len(missing), len(unique),
                        megabytes(sum(spec.size for spec in missing)), megabytes(total), base_url)
            self._fetch_all(base_url, missing, tally, cancel)
        tally.add(0, force=True)

    @staticmethod
    def _unique(files: Iterable[FileSpec]) -> list[FileSpec]:
        by_sha: dict[str, FileSpec] = {}
        for spec in files:
            seen = by_sha.setdefault(spec.sha256, spec)
            if seen.size != spec.size:
                raise DownloadError(f"files {seen.path} and {spec.path} have the same sha256 {spec.sha256} "
                                    f"but sizes {seen.size} and {spec.size}")
        return list(by_sha.values())

    def _check_fits(self, needed: int) -> None:
        if needed <= 0:
            return
        quota = self.policy.quota_bytes
        if quota is not None:
            free = max(0, quota - self.blobs.size_used())
            if needed > free:
                raise DownloadError(f"does not fit: needs {megabytes(needed)} MB, {megabytes(free)} MB free in "
                                    f"quota ({megabytes(quota)} MB)")
        disk = max(0, self.blobs.disk_free() - self.policy.reserve_bytes)
        if needed > disk:
            raise DownloadError(f"does not fit: needs {megabytes(needed)} MB, {megabytes(disk)} MB free on disk "
                                f"({self.blobs.root}, {megabytes(self.policy.reserve_bytes)} MB kept free)")

    def _fetch_all(self, base_url: str, missing: list[FileSpec], tally: _Tally, cancel: threading.Event) -> None:
        # One stop for the workers: the caller's cancel, or the first failure (the others give up too).
        stop = threading.Event()
        queue = list(reversed(missing))
        queue_lock = threading.Lock()
        errors: list[DownloadError] = []

        def worker() -> None:
            while not stop.is_set():
                with queue_lock:
                    if not queue:
                        return
                    spec = queue.pop()
                try:
                    self._fetch_file(self.url_of(base_url, spec), spec, tally, stop)
                except DownloadError as exc:
                    if not stop.is_set() or not isinstance(exc, DownloadCancelled):
                        errors.append(exc)
                    stop.set()
                except Exception as exc:  # a bug or the disk: still one clear reason, and the others stop
                    logger.exception("download of %s failed", spec.path)
                    errors.append(DownloadError(f"{spec.path}: {type(exc).__name__}: {exc}"))
                    stop.set()

        workers = min(self.policy.max_parallel, len(missing))
        with concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="content-download") as pool:
            futures = [pool.submit(worker) for _ in range(workers)]
            # The caller's thread watches its cancel event and hands it on to the workers' stop.
            while concurrent.futures.wait(futures, timeout=0.05).not_done:
                if cancel.is_set():
                    stop.set()
        failures = [error for error in errors if not isinstance(error, DownloadCancelled)]
        if failures:
            raise failures[0]
        if cancel.is_set() or errors:
            raise DownloadCancelled()

    @staticmethod
    def url_of(base_url: str, spec: FileSpec) -> str:
        """The URL of ``spec``: its path (percent-encoded) under ``base_url``."""
        return base_url.rstrip("/") + "/" + quote(spec.path, safe="/")

    # ------------------------------------------------------------------ one file

    def _fetch_file(self, url: str, spec: FileSpec, tally: _Tally, stop: threading.Event) -> None:
        for fresh in (False, True):
            with self.blobs.writer(spec.sha256, spec.size) as writer:
                if fresh:
                    tally.add(-writer.offset)
                    writer.restart()
                resumed_from = writer.offset
                self._receive(url, spec, writer, tally, stop)
                try:
                    writer.commit()
                except BlobMismatch as exc:
                    tally.add(-writer.offset)
                    if resumed_from and not fresh:
                        # The kept part may be from an earlier, different file at that URL: once more from 0.
                        logger.warning("%s: %s after resuming at byte %d: fetching it again whole", url, exc,
                                       resumed_from)
                        continue
                    raise DownloadError(f"{spec.path}: {exc} ({url})") from None
            logger.info("fetched %s (%s MB, sha256 verified)", spec.path, megabytes(spec.size))
            return

    def _receive(self, url: str, spec: FileSpec, writer: BlobWriter, tally: _Tally, stop: threading.Event) -> None:
        """Attempts until the part file holds ``spec.size`` bytes (not yet verified)."""
        failures = 0
        while writer.offset < spec.size:
            self._wait_for_window(stop)
            before = writer.offset
            try:
                self._attempt(url, spec, writer, tally, stop)
            except _Restart as exc:
                logger.warning("%s: %s: fetching it again from byte 0", url, exc)
                tally.add(-writer.offset)
                writer.restart()
                continue
            except _Retry as exc:
                if writer.offset > before:
                    failures = 0
                failures += 1
                if failures > self.policy.retries:
                    what = "server unreachable" if exc.unreachable else "gave up"
                    raise DownloadError(f"{what} after {failures} tries: {exc}") from None
                delay = backoff_delay(failures - 1, self.policy.backoff_min_s, self.policy.backoff_max_s,
                                      self._rng)
                logger.warning("%s: %s (try %d of %d): again in %.1f s, from byte %d", spec.path, exc, failures,
                               self.policy.retries + 1, delay, writer.offset)
                if stop.wait(delay):
                    raise DownloadCancelled() from None

    def _attempt(self, url: str, spec: FileSpec, writer: BlobWriter, tally: _Tally, stop: threading.Event) -> None:
        """One GET from ``writer.offset``; returns when the body ended, the size was reached or the window closed.

        :raises _Retry: for a passing failure; :raises _Restart: when the part must be dropped.
        :raises DownloadError: for a failure that retrying does not cure.
        """
        headers = {"Accept-Encoding": "identity"}
        if writer.offset:
            headers["Range"] = f"bytes={writer.offset}-"
        try:
            with self.client.stream("GET", url, headers=headers) as response:
                self._check_status(url, spec, response, writer, tally)
                for data in response.iter_raw():
                    if stop.is_set():
                        raise DownloadCancelled()
                    if writer.offset + len(data) > spec.size:
                        tally.add(-writer.offset)
                        writer.restart()  # not a prefix of this file: nothing of it to resume
                        raise DownloadError(f"{spec.path}: size mismatch: the server sent more than the "
                                            f"{spec.size} bytes announced ({url})")
                    if self._bucket is not None and not self._bucket.take(len(data), stop):
                        raise DownloadCancelled()
                    writer.write(data)
                    tally.add(len(data))
                    if self.policy.window is not None and not self.policy.window.contains(self._local_now()):
                        logger.info("%s: download window %s closed at byte %d: resuming when it opens",
                                    spec.path, self.policy.window, writer.offset)
                        return
        except httpx.TransportError as exc:
            raise _Retry(f"{url}: {type(exc).__name__}: {exc or 'connection failed'}",
                         unreachable=isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)) from None
        if writer.offset < spec.size:
            raise _Retry(f"{url}: the connection ended at byte {writer.offset} of {spec.size}")

    @staticmethod
    def _check_status(url: str, spec: FileSpec, response: httpx.Response, writer: BlobWriter, tally: _Tally
                      ) -> None:
        status = response.status_code
        if status == 206:
            match = _CONTENT_RANGE.fullmatch(response.headers.get("content-range", "").strip())
            if not match or int(match.group(1)) != writer.offset:
                raise _Restart(f"Content-Range {response.headers.get('content-range')!r} does not start at "
                               f"byte {writer.offset}")
            if match.group(3) != "*" and int(match.group(3)) != spec.size:
                tally.add(-writer.offset)
                writer.restart()  # a prefix of some other file: nothing to resume
                raise DownloadError(f"{spec.path}: size mismatch: the server has {match.group(3)} bytes, the "
                                    f"manifest says {spec.size} ({url})")
        elif status == 200:
            length = response.headers.get("content-length")
            if length is not None and length.isdigit() and int(length) != spec.size:
                tally.add(-writer.offset)
                writer.restart()
                raise DownloadError(f"{spec.path}: size mismatch: the server has {length} bytes, the manifest "
                                    f"says {spec.size} ({url})")
            if writer.offset:
                logger.info("%s ignored the Range header: fetching from byte 0", url)
                tally.add(-writer.offset)
                writer.restart()
        elif status == 416:
            raise _Restart(f"HTTP 416 for bytes {writer.offset}- (the kept part is longer than the file)")
        elif status in RETRY_STATUSES:
            raise _Retry(f"HTTP {status} {response.reason_phrase} for {url}")
        else:
            raise DownloadError(f"HTTP {status} {response.reason_phrase} for {url}")

    # ------------------------------------------------------------------ the window

    def _local_now(self) -> datetime:
        now = self._clock()
        return now.astimezone(self._timezone) if self._timezone is not None else now.astimezone()

    def _wait_for_window(self, stop: threading.Event) -> None:
        window = self.policy.window
        while window is not None:
            wait = window.opens_in(self._local_now())
            if wait <= 0:
                return
            logger.info("outside the download window %s: waiting %.0f s", window, wait)
            if stop.wait(min(wait, self.policy.window_poll_s)):
                raise DownloadCancelled()
        if stop.is_set():
            raise DownloadCancelled()
