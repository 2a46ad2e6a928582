"""Pack downloads over a shop's network: Debian's nginx as central's content server, a cutting proxy between.

Every test fetches real files from a real nginx (``nginx`` fixture) through a
TCP proxy that cuts connections, goes down and comes back
(``cutting_proxy``), into a real blob store on disk. Byte counts come from the
proxy (what crossed the line), requests from nginx's access log. Waits are
events with generous timeouts; the only time measured is a lower bound (the
bandwidth cap), which a slow machine cannot break.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from edge_agent.content_delivery import (
    BlobStore,
    DownloadCancelled,
    Downloader,
    DownloadError,
    DownloadPolicy,
    DownloadWindow,
    FileSpec,
)
from edge_agent.content_delivery.download import CHUNK_BYTES
from tests.support.faults import wait_until
from tests.support.nginx import Nginx

#: Generous room for the response headers of one request when counting body bytes through the proxy.
HEADER_ROOM = 1024
FAST_RETRIES = {"backoff_min_s": 0.05, "backoff_max_s": 0.2}


def serve(folder: Path, path: str, size: int, seed: int = 0) -> FileSpec:
    """Write ``size`` pseudo-random bytes at ``folder/path``; the FileSpec a manifest would list for it."""
    data = (hashlib.sha256(f"{seed}:{path}".encode()).digest() * (size // 32 + 1))[:size]
    # Not a repeating pattern a wrong offset could hide in: mix in the position every 4 KiB.
    data = b"".join(data[i:i + 4096][:-8] + i.to_bytes(8, "big") if len(data[i:i + 4096]) == 4096
                    else data[i:i + 4096] for i in range(0, size, 4096))
    target = folder / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return FileSpec(path, size, hashlib.sha256(data).hexdigest(), "application/octet-stream")


def gets(nginx: Nginx, path: str) -> list[str]:
    """nginx's access log lines for GETs of ``path``."""
    return [line for line in nginx.requests() if f'"GET /{path} ' in line]


@pytest.fixture
def blobs(tmp_path) -> BlobStore:
    return BlobStore(tmp_path / "blobs")


def test_cut_mid_file_resumes_with_range_and_fetches_again_at_most_one_chunk(nginx, cutting_proxy, blobs):
    spec = serve(nginx.root, "media/film.mp4", 6_000_000)
    cutting_proxy.cut_after(3_000_000)
    with Downloader(blobs, DownloadPolicy(**FAST_RETRIES)) as downloader:
        downloader.fetch(cutting_proxy.base_url, [spec])
    assert blobs.path(spec.sha256).read_bytes() == (nginx.root / spec.path).read_bytes()
    assert cutting_proxy.cut_count == 1 and cutting_proxy.connections == 2
    statuses = [line.split('" ')[1].split()[0] for line in gets(nginx, spec.path)]
    assert statuses[-1] == "206", nginx.requests()  # the second request asked for the rest
    again = cutting_proxy.bytes_down - spec.size - 2 * HEADER_ROOM
    assert again <= CHUNK_BYTES, f"{again} bytes fetched again after the cut"
    assert not blobs.partial_path(spec.sha256).exists()


def test_line_that_cuts_every_connection_still_completes_because_progress_resets_the_tries(
        nginx, cutting_proxy, blobs):
    spec = serve(nginx.root, "big.bin", 5_000_000)
    cutting_proxy.cut_every(700_000)
    with Downloader(blobs, DownloadPolicy(retries=2, **FAST_RETRIES)) as downloader:
        downloader.fetch(cutting_proxy.base_url, [spec])
    assert blobs.has(spec.sha256)
    assert cutting_proxy.cut_count >= 7
    assert cutting_proxy.bytes_down <= spec.size + cutting_proxy.connections * (HEADER_ROOM + CHUNK_BYTES)


def test_wrong_checksum_is_refused_with_both_hashes_and_nothing_enters_the_store(nginx, cutting_proxy, blobs):
    real = serve(nginx.root, "poster.png", 300_000)
    claimed = FileSpec(real.path, real.size, hashlib.sha256(b"what central meant").hexdigest(), "image/png")
    with Downloader(blobs, DownloadPolicy(**FAST_RETRIES)) as downloader, pytest.raises(DownloadError) as caught:
        downloader.fetch(cutting_proxy.base_url, [claimed])
    reason = caught.value.reason
    assert "checksum mismatch" in reason and claimed.sha256 in reason and real.sha256 in reason, reason
    assert "poster.png" in reason
    assert blobs.shas() == set() and blobs.size_used() == 0
    assert not blobs.partial_path(claimed.sha256).exists()


def test_checksum_mismatch_after_a_resume_fetches_the_file_whole_once_more(nginx, cutting_proxy, blobs):
    spec = serve(nginx.root, "clip.mp4", 1_000_000)
    # A part left by an earlier, different file under this sha256 (a crash, a server that changed the file).
    blobs.partial_path(spec.sha256).write_bytes(b"\xff" * 400_000)
    with Downloader(blobs, DownloadPolicy(**FAST_RETRIES)) as downloader:
        downloader.fetch(cutting_proxy.base_url, [spec])
    assert blobs.path(spec.sha256).read_bytes() == (nginx.root / spec.path).read_bytes()
    assert [line.split('" ')[1].split()[0] for line in gets(nginx, spec.path)] == ["206", "200"]


def test_404_fails_at_once_naming_the_status_and_the_url(nginx, cutting_proxy, blobs):
    present = serve(nginx.root, "a.png", 10_000)
    absent = FileSpec("missing/b.png", 10_000, "ab" * 32, "image/png")
    with Downloader(blobs, DownloadPolicy(retries=50, max_parallel=1, **FAST_RETRIES)) as downloader, \
            pytest.raises(DownloadError) as caught:
        downloader.fetch(cutting_proxy.base_url + "/", [present, absent])
    assert caught.value.reason == f"HTTP 404 Not Found for {cutting_proxy.base_url}/missing/b.png"
    assert len(gets(nginx, "missing/b.png")) == 1  # not retried
    assert blobs.has(present.sha256)  # what arrived before stays for the next try


def test_server_down_then_back_is_retried_until_it_answers(nginx, cutting_proxy, blobs, caplog):
    spec = serve(nginx.root, "menu.jpg", 2_000_000)
    cutting_proxy.stop()
    errors: list[BaseException] = []
    done = threading.Event()

    def fetch() -> None:
        try:
            with Downloader(blobs, DownloadPolicy(retries=1000, **FAST_RETRIES)) as downloader:
                downloader.fetch(cutting_proxy.base_url, [spec])
        except DownloadError as exc:  # handed to the test's thread
            errors.append(exc)
        finally:
            done.set()

    with caplog.at_level(logging.WARNING, logger="edge_agent.content_delivery.download"):
        thread = threading.Thread(target=fetch, name="test-fetch")
        thread.start()
        wait_until(lambda: sum("ConnectError" in r.getMessage() for r in caplog.records) >= 3, 30,
                   "three refused tries while the server is down")
        cutting_proxy.start()
        assert done.wait(60), "no download after the server came back"
        thread.join()
    assert errors == [] and blobs.has(spec.sha256)


def test_server_down_for_good_gives_up_after_the_tries_saying_unreachable(nginx, cutting_proxy, blobs):
    spec = serve(nginx.root, "menu.jpg", 1000)
    cutting_proxy.stop()
    with Downloader(blobs, DownloadPolicy(retries=3, **FAST_RETRIES)) as downloader, \
            pytest.raises(DownloadError) as caught:
        downloader.fetch(cutting_proxy.base_url, [spec])
    assert caught.value.reason.startswith("server unreachable after 4 tries: "
                                          f"{cutting_proxy.base_url}/menu.jpg: ConnectError"), caught.value.reason


def test_5xx_is_retried_then_given_up_with_the_status(tmp_path, blobs):
    # nginx answering 503 for the pack's folder, as a server in maintenance does.
    with Nginx(workdir=tmp_path / "maintenance", location="return 503;") as server:
        spec = FileSpec("a.bin", 10, "cd" * 32)
        with Downloader(blobs, DownloadPolicy(retries=2, **FAST_RETRIES)) as downloader, \
                pytest.raises(DownloadError) as caught:
            downloader.fetch(server.base_url, [spec])
    assert caught.value.reason == (f"gave up after 3 tries: HTTP 503 Service Temporarily Unavailable for "
                                   f"{server.base_url}/a.bin")


def test_pack_that_does_not_fit_the_quota_is_refused_with_sizes_before_any_byte(nginx, cutting_proxy, blobs):
    kept = serve(nginx.root, "old.bin", 600_000)
    with Downloader(blobs) as downloader:
        downloader.fetch(nginx.base_url, [kept])
    files = [serve(nginx.root, f"new/{n}.bin", 1_000_000) for n in range(3)]
    with Downloader(blobs, DownloadPolicy(quota_bytes=2_000_000)) as downloader, \
            pytest.raises(DownloadError) as caught:
        downloader.fetch(cutting_proxy.base_url, [kept, *files])
    assert caught.value.reason == "does not fit: needs 3.0 MB, 1.4 MB free in quota (2.0 MB)"
    assert cutting_proxy.connections == 0


def test_pack_larger_than_the_free_disk_is_refused_with_sizes(nginx, blobs):
    free = blobs.disk_free()
    huge = FileSpec("huge.bin", free + 10**9, "ef" * 32)
    with Downloader(blobs, DownloadPolicy(reserve_bytes=0)) as downloader, pytest.raises(DownloadError) as caught:
        downloader.fetch(nginx.base_url, [huge])
    assert caught.value.reason.startswith(f"does not fit: needs {(free + 10**9) / 1e6:.1f} MB, ")
    assert "MB free on disk" in caught.value.reason


def test_file_shared_by_two_packs_is_fetched_once_and_linked_into_both(nginx, blobs, tmp_path):
    shared = serve(nginx.root, "spring/logo.png", 200_000)
    serve(nginx.root, "summer/logo.png", 200_000)  # same path in the other pack, the same bytes
    (nginx.root / "summer/logo.png").write_bytes((nginx.root / "spring/logo.png").read_bytes())
    spring = [shared, serve(nginx.root, "spring/film.mp4", 500_000)]
    film = serve(nginx.root, "summer/film.mp4", 500_000, seed=1)
    summer = [FileSpec("logo.png", shared.size, shared.sha256, "image/png"),
              FileSpec("film.mp4", film.size, film.sha256, "video/mp4")]
    seen: list[tuple[int, int]] = []
    with Downloader(blobs) as downloader:
        downloader.fetch(nginx.base_url, spring)
        downloader.fetch(nginx.base_url + "/summer", summer, progress=lambda done, total: seen.append((done, total)))
    assert len(gets(nginx, "spring/logo.png")) == 1 and gets(nginx, "summer/logo.png") == []
    assert seen[0] == (shared.size, shared.size + 500_000)  # the shared file counts as done from the start
    assert seen[-1] == (shared.size + 500_000,) * 2
    one = blobs.materialize(spring, tmp_path / "packs" / "spring")
    two = blobs.materialize(summer, tmp_path / "packs" / "summer")
    assert os.stat(one / "spring/logo.png").st_ino == os.stat(two / "logo.png").st_ino == \
        os.stat(blobs.path(shared.sha256)).st_ino


def test_at_most_two_files_are_fetched_at_once(nginx, cutting_proxy, blobs):
    files = [serve(nginx.root, f"slide-{n}.jpg", 300_000) for n in range(6)]
    cutting_proxy.pace_bytes_per_s = 600_000  # each file takes about half a second: transfers overlap
    with Downloader(blobs, DownloadPolicy(max_parallel=2)) as downloader:
        downloader.fetch(cutting_proxy.base_url, files)
    assert all(blobs.has(spec.sha256) for spec in files)
    assert cutting_proxy.max_concurrent == 2


def test_outside_the_window_the_fetch_waits_until_it_opens(nginx, cutting_proxy, blobs):
    spec = serve(nginx.root, "night.mp4", 100_000)
    real = datetime.now(UTC)
    opening = (real + timedelta(minutes=1)).replace(second=0, microsecond=0)
    # A clock 1.5 s before the window opens: the fetch must not connect before that much real time passed.
    offset = opening - real - timedelta(seconds=1.5)
    window = DownloadWindow.parse(f"{opening:%H:%M}-{opening + timedelta(hours=2):%H:%M}")
    first_request: list[float] = []
    started = time.monotonic()
    with Downloader(blobs, DownloadPolicy(window=window), clock=lambda: datetime.now(UTC) + offset,
                    timezone=UTC) as downloader:
        downloader.fetch(cutting_proxy.base_url, [spec],
                         progress=lambda done, total: first_request.append(time.monotonic()) if done else None)
    assert blobs.has(spec.sha256)
    assert first_request[0] - started >= 1.4


def test_cancel_while_waiting_for_the_window_returns_at_once_with_cancelled(nginx, blobs):
    spec = serve(nginx.root, "night.mp4", 1000)
    now = datetime.now(UTC)
    window = DownloadWindow.parse(f"{now + timedelta(hours=2):%H:%M}-{now + timedelta(hours=3):%H:%M}")
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    with Downloader(blobs, DownloadPolicy(window=window), timezone=UTC) as downloader, \
            pytest.raises(DownloadCancelled):
        downloader.fetch(nginx.base_url, [spec], cancel=cancel)
    assert gets(nginx, "night.mp4") == []


def test_bandwidth_cap_keeps_the_average_rate_under_the_cap(nginx, blobs):
    files = [serve(nginx.root, f"f{n}.bin", 1_000_000) for n in range(3)]
    started = time.monotonic()
    with Downloader(blobs, DownloadPolicy(bandwidth_bytes_per_s=1_000_000)) as downloader:
        downloader.fetch(nginx.base_url, files)
    elapsed = time.monotonic() - started
    # 3 MB at 1 MB/s with a one-second burst: at least 2 s. A slow machine only makes it longer.
    assert elapsed >= 1.9, f"3 MB in {elapsed:.2f} s under a 1 MB/s cap"
    assert all(blobs.has(spec.sha256) for spec in files)


def test_cancel_mid_file_keeps_the_part_and_the_next_fetch_resumes_it(nginx, cutting_proxy, blobs):
    spec = serve(nginx.root, "long.mp4", 4_000_000)
    cutting_proxy.pace_bytes_per_s = 1_000_000
    cancel = threading.Event()
    with Downloader(blobs) as downloader, pytest.raises(DownloadCancelled):
        downloader.fetch(cutting_proxy.base_url, [spec], progress=lambda done, total: cancel.set() if done else None,
                         cancel=cancel)
    kept = blobs.partial_size(spec.sha256)
    assert 0 < kept < spec.size and not blobs.has(spec.sha256)
    cutting_proxy.pace_bytes_per_s = None
    with Downloader(blobs) as downloader:
        downloader.fetch(cutting_proxy.base_url, [spec])
    assert blobs.path(spec.sha256).read_bytes() == (nginx.root / spec.path).read_bytes()
    assert gets(nginx, spec.path)[-1].split('" ')[1].startswith("206")


def test_server_that_ignores_range_is_fetched_again_from_the_start(tmp_path, blobs):
    with Nginx(workdir=tmp_path / "norange", extra_http="    max_ranges 0;\n") as server:
        spec = serve(server.root, "film.mp4", 1_000_000)
        blobs.partial_path(spec.sha256).write_bytes((server.root / spec.path).read_bytes()[:300_000])
        with Downloader(blobs) as downloader:
            downloader.fetch(server.base_url, [spec])
        assert blobs.path(spec.sha256).read_bytes() == (server.root / spec.path).read_bytes()
        assert [line.split('" ')[1].split()[0] for line in server.requests()] == ["200"]


def test_file_shorter_on_the_server_than_announced_is_refused_with_both_sizes(nginx, blobs):
    real = serve(nginx.root, "short.bin", 1000)
    claimed = FileSpec(real.path, 5000, real.sha256)
    blobs.partial_path(claimed.sha256).write_bytes(b"x" * 2000)  # longer than the server's file: 416, then 200
    with Downloader(blobs, DownloadPolicy(**FAST_RETRIES)) as downloader, pytest.raises(DownloadError) as caught:
        downloader.fetch(nginx.base_url, [claimed])
    assert caught.value.reason == ("short.bin: size mismatch: the server has 1000 bytes, the manifest says 5000 "
                                   f"({nginx.base_url}/short.bin)")
    assert [line.split('" ')[1].split()[0] for line in gets(nginx, "short.bin")] == ["416", "200"]
    assert blobs.size_used() == 0


def test_same_sha256_with_two_sizes_is_refused_before_any_request(nginx, blobs):
    with Downloader(blobs) as downloader, pytest.raises(DownloadError) as caught:
        downloader.fetch(nginx.base_url, [FileSpec("a", 1, "aa" * 32), FileSpec("b", 2, "aa" * 32)])
    assert "same sha256" in caught.value.reason and nginx.requests() == []


def test_progress_reports_start_and_end_and_a_failing_callback_does_not_stop_the_download(nginx, blobs):
    files = [serve(nginx.root, f"p{n}.bin", 500_000) for n in range(3)]

    def broken(done: int, total: int) -> None:
        raise RuntimeError("the status publisher is down")

    with Downloader(blobs) as downloader:
        downloader.fetch(nginx.base_url, files[:1], progress=broken)
    seen: list[tuple[int, int]] = []
    with Downloader(blobs, DownloadPolicy(progress_interval_s=0)) as downloader:
        downloader.fetch(nginx.base_url, files, progress=lambda done, total: seen.append((done, total)))
    assert seen[0] == (500_000, 1_500_000) and seen[-1] == (1_500_000, 1_500_000)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)


class SettableClock:
    """A wall clock the test moves: real time plus an offset it sets."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


def test_window_closing_mid_file_pauses_it_and_it_resumes_with_range_when_the_window_opens(
        nginx, cutting_proxy, blobs, caplog):
    spec = serve(nginx.root, "overnight.mp4", 3_000_000)
    cutting_proxy.pace_bytes_per_s = 1_000_000
    clock = SettableClock()
    now = datetime.now(UTC)
    window = DownloadWindow.parse(f"{now - timedelta(hours=1):%H:%M}-{now + timedelta(hours=1):%H:%M}")
    closed = threading.Event()

    def close_window_once_started(done: int, total: int) -> None:
        if done >= 500_000 and not closed.is_set():
            clock.offset = timedelta(hours=3)  # past the window's end
            closed.set()

    policy = DownloadPolicy(window=window, window_poll_s=0.1, progress_interval_s=0)
    finished = threading.Event()
    with caplog.at_level(logging.INFO, logger="edge_agent.content_delivery.download"), \
            Downloader(blobs, policy, clock=clock, timezone=UTC) as downloader:
        thread = threading.Thread(target=lambda: (downloader.fetch(cutting_proxy.base_url, [spec],
                                                                   progress=close_window_once_started),
                                                  finished.set()), name="test-fetch")
        thread.start()
        wait_until(lambda: any("closed at byte" in r.getMessage() for r in caplog.records), 30,
                   "the download stopping when the window closed")
        paused_at = blobs.partial_size(spec.sha256)
        assert 0 < paused_at < spec.size and not finished.is_set()
        clock.offset = timedelta(0)
        thread.join(60)
    assert finished.is_set() and blobs.has(spec.sha256)
    assert gets(nginx, spec.path)[-1].split('" ')[1].startswith("206")
