"""Downloading a 200 MB content pack: our Downloader vs curl, from the same nginx in the same run; and the
bytes fetched again after the line drops at 50 %.

Server: Debian's nginx on loopback (tests/support/nginx.py: sendfile, keep-alive) serving a pack of 8 files
of 25 MB (quick: 4 of 1 MB) of random bytes. Both clients write into the same work folder (on disk unless
``--work-dir`` says otherwise), fresh for every round.

* **2 at once**: ours = ``Downloader.fetch`` with ``max_parallel=2`` (httpx, sha256 verified as the bytes
  arrive, each blob fsynced and renamed into the store). Raw = one ``curl --parallel --parallel-max 2``
  process fetching the same URLs to files, then ``sync`` on those files, so both end with the data on
  disk (the same durability). MB/s = pack bytes / wall time, started before the call/process and stopped
  when it returned.
* **one at a time**: the same with ``max_parallel=1`` vs ``curl`` fetching the URLs in turn (one process,
  one connection reused) and ``sync``.
* Information, from the same curl runs: curl's transfer alone (its clock stopped before the ``sync``), what a
  download that leaves the data in the page cache and verifies nothing costs. Ours overlaps a finished
  file's fsync with the next file's transfer, which curl + sync cannot; this row shows ours against a
  baseline without that work at all.

Rounds alternate (ours first in even rounds); figures are medians over rounds, the ratio the median of
per-round ratios (ours / curl MB/s). Target: >= 0.9x.

**Cut at 50 %**: a cutting proxy (tests/support/cutting_proxy.py) between our Downloader (2 at once) and
nginx drops every open connection once half the pack's bytes crossed it; the Downloader resumes with
``Range``. Bytes fetched again = bytes the proxy forwarded − the response headers (nginx's log: ``$bytes_sent``
− ``$body_bytes_sent`` per request) − the pack's size. Target: at most one chunk
(edge_agent.content_delivery.download.CHUNK_BYTES = 1 MiB, the most one network read returns) over the whole
pack; the figure is the worst round.

    .venv/bin/python bench/content_download.py [--quick] [--rounds N] [--work-dir DIR]
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import _common as common
from _common import Row

from edge_agent.content_delivery import BlobStore, Downloader, DownloadPolicy, FileSpec
from edge_agent.content_delivery.download import CHUNK_BYTES
from tests.support.cutting_proxy import CuttingProxy
from tests.support.nginx import Nginx
from tests.support.system import ensure_installed

TARGET_RATIO = 0.9
LOG_FORMAT = "$request $status $bytes_sent $body_bytes_sent"


def make_pack(root: Path, files: int, size: int) -> list[FileSpec]:
    specs = []
    for index in range(files):
        data = os.urandom(size)
        path = f"media/clip-{index}.mp4"
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
        specs.append(FileSpec(path, size, hashlib.sha256(data).hexdigest(), "video/mp4"))
    return specs


def ours(server_url: str, specs: list[FileSpec], work: Path, parallel: int) -> float:
    store = work / "ours"
    shutil.rmtree(store, ignore_errors=True)
    blobs = BlobStore(store)
    started = time.perf_counter()
    with Downloader(blobs, DownloadPolicy(max_parallel=parallel)) as downloader:
        downloader.fetch(server_url, specs)
    elapsed = time.perf_counter() - started
    assert all(blobs.has(spec.sha256) for spec in specs)
    shutil.rmtree(store, ignore_errors=True)
    return sum(spec.size for spec in specs) / elapsed / 1e6


def curl(binary: str, server_url: str, specs: list[FileSpec], work: Path, parallel: int) -> tuple[float, float]:
    """(MB/s with the sync, MB/s of the transfer alone) of one curl run."""
    folder = work / "curl"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    outputs = [folder / f"{index}.bin" for index in range(len(specs))]
    command = [binary, "--silent", "--show-error", "--no-progress-meter", "--fail"]
    if parallel > 1:
        command += ["--parallel", "--parallel-max", str(parallel)]
    for spec, output in zip(specs, outputs, strict=True):
        command += ["-o", str(output), f"{server_url}/{spec.path}"]
    started = time.perf_counter()
    subprocess.run(command, check=True)
    transferred = time.perf_counter()
    subprocess.run(["sync", *map(str, outputs)], check=True)
    synced = time.perf_counter()
    assert all(output.stat().st_size == spec.size for spec, output in zip(specs, outputs, strict=True))
    shutil.rmtree(folder, ignore_errors=True)
    pack = sum(spec.size for spec in specs) / 1e6
    return pack / (synced - started), pack / (transferred - started)


def header_bytes(nginx: Nginx, since: int) -> int:
    """Header bytes of the requests nginx logged after line ``since`` ($bytes_sent - $body_bytes_sent)."""
    total = 0
    for line in nginx.requests()[since:]:
        sent, body = line.rsplit(" ", 2)[-2:]
        total += int(sent) - int(body)
    return total


def refetched_after_cut(nginx: Nginx, specs: list[FileSpec], work: Path) -> tuple[int, int]:
    """(bytes fetched again, connections) for one pack download with the line cut at 50 %."""
    store = work / "cut"
    shutil.rmtree(store, ignore_errors=True)
    pack = sum(spec.size for spec in specs)
    with CuttingProxy(nginx.port) as proxy:
        proxy.cut_line_at(pack // 2)
        since = len(nginx.requests())
        with Downloader(BlobStore(store), DownloadPolicy(backoff_min_s=0.05, backoff_max_s=0.2)) as downloader:
            downloader.fetch(proxy.base_url, specs)
    # nginx logs a cut request when it notices the cut, which may be later: stopping it logs every one.
    nginx.stop()
    nginx.start()
    again = proxy.bytes_down - header_bytes(nginx, since) - pack
    connections = proxy.connections
    shutil.rmtree(store, ignore_errors=True)
    return again, connections


def main() -> int:
    p = common.parser(__doc__.splitlines()[0], rounds=5)
    p.add_argument("--work-dir", type=Path, default=None, help="where the pack and downloads go (default: a "
                   "temporary folder on the default temp file system)")
    args = p.parse_args()
    # The cut's resume is logged as a warning by design; the table says what happened.
    logging.getLogger("edge_agent.content_delivery").setLevel(logging.ERROR)
    rounds = common.rounds_of(args)
    files, size = (4, 1_000_000) if args.quick else (8, 25_000_000)
    binary = ensure_installed("curl", binary="curl")
    with tempfile.TemporaryDirectory(dir=args.work_dir, prefix="bench-download-") as folder:
        work = Path(folder)
        with Nginx(workdir=work / "nginx", access_format=LOG_FORMAT) as nginx:
            specs = make_pack(nginx.root, files, size)
            pack_mb = files * size / 1e6
            rows: list[Row] = []
            for parallel, label in ((2, "2 at once"), (1, "one at a time")):
                mine: list[float] = []
                runs: list[tuple[float, float]] = []
                for index in range(rounds):
                    common.alternate(
                        index,
                        lambda mine=mine, parallel=parallel: mine.append(ours(nginx.base_url, specs, work, parallel)),
                        lambda runs=runs, parallel=parallel: runs.append(
                            curl(binary, nginx.base_url, specs, work, parallel)))
                    if args.verbose:
                        print(f"   {label} round {index}: ours {mine[-1]:.0f} MB/s, curl {runs[-1][0]:.0f} MB/s "
                              f"with sync, {runs[-1][1]:.0f} without")
                synced = [run[0] for run in runs]
                bare = [run[1] for run in runs]
                ratio = statistics.median(a / b for a, b in zip(mine, synced, strict=True))
                rows.append(Row(f"{pack_mb:.0f} MB pack, {label}: Downloader vs curl + sync", common.median(mine),
                                common.median(synced), "MB/s", ratio, f">= {TARGET_RATIO}x", ratio >= TARGET_RATIO,
                                mine, synced))
                rows.append(Row(f"{pack_mb:.0f} MB pack, {label}: Downloader vs curl's transfer alone",
                                common.median(mine), common.median(bare), "MB/s",
                                statistics.median(a / b for a, b in zip(mine, bare, strict=True)), "info", None,
                                mine, bare))
            cuts = [refetched_after_cut(nginx, specs, work) for _ in range(rounds)]
            worst = max(again for again, _ in cuts)
            rows.append(Row("bytes fetched again after the line cut at 50 %", float(worst), None, "bytes", None,
                            f"<= {CHUNK_BYTES} (one chunk)", worst <= CHUNK_BYTES, [float(a) for a, _ in cuts], [],
                            note=f"connections per download (incl. the resumes): {[c for _, c in cuts]}"))
    notes = [(f"work folder on {work.parent} (pack of {files} x {size / 1e6:.0f} MB, random bytes); ours "
             "verifies sha256 and fsyncs each blob, curl's files are synced after it exits")]
    return common.finish("content download: Downloader vs curl, same nginx", args, rows, notes)


if __name__ == "__main__":
    raise SystemExit(main())
