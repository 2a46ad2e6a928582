"""Manifest received -> pack active, for a 200 MB content pack on loopback: the edge agent vs curl fetching the
same files from the same nginx in the same run, with the agent's parts.

Ours, all real: Mosquitto, the edge agent in this process with ``[content]`` delivery (its blobs, pack folders
and database in the work folder: on disk unless ``--work-dir`` says otherwise), Debian's nginx on loopback
(tests/support/nginx.py) serving a pack of 8 videos of 25 MB of random bytes, a content.yaml naming them and
one picture (quick: 4 of 1 MB). Every round is a new pack (new random bytes: nothing is in the blob store yet)
under a new release number, its manifest signed and pushed as ``edge-agent content publish`` does.

* **received -> active** (ours): from the moment the agent's inbox committed the manifest to the moment the
  switch was made (``current`` link replaced, the database says active), as the agent measures it
  (``ContentDelivery.timings``); its parts: **download** (Downloader, two files at once, sha256 checked as
  the bytes arrive, each blob fsynced), **verify** (blobs held from earlier packs hashed again: none here),
  **validate** (the pack folder of hard links made and checked with the kiosk's ``load_pack``), **switch**
  (the database's transaction and the atomic link). Between validate and switch: the staged record, the
  staged ``content-active`` and the service's next round.
* **push -> content-active seen** (information): from the publish of the manifest to a subscriber's receipt
  of the retained ``content-active`` naming the new release: what the kiosk sees, broker included.
* **raw baseline**: one ``curl --parallel --parallel-max 2`` process fetching the same URLs to files, then
  ``sync`` on them (the same durability as the blobs'): the download alone, no signature, no hashing, no
  validation, no switch.

Rounds alternate (ours first in even rounds); figures are medians, the ratio the median of per-round ratios
(ours / curl). There is no target in issue 15 for this figure; the table says what it costs beside curl.

    .venv/bin/python bench/content_activation.py [--quick] [--rounds N] [--work-dir DIR]
"""

from __future__ import annotations

import logging
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import _common as common
from _common import Row

from edge_agent import central_push
from edge_agent.agent import Agent
from edge_agent.config import parse_config
from edge_agent.content_delivery.publishing import build_manifest, outgoing
from edge_agent.content_delivery.signing import sign_manifest
from edge_agent.contract import decode
from edge_agent.contract.catalogue import CONTENT_ACTIVE
from edge_agent.contract.payloads_content_delivery import ContentPackManifest
from tests.support.content_packs import KEY, KEY_ID, content_section
from tests.support.mosquitto import Mosquitto
from tests.support.nginx import Nginx
from tests.support.system import ensure_installed
from tests.test_kiosk_screens import png

PARTS = ("download_s", "verify_s", "validate_s", "switch_s")


def make_pack(folder: Path, release: int, files: int, size: int) -> list[str]:
    """A pack of ``files`` videos of ``size`` random bytes and one picture; the paths of its videos."""
    (folder / "videos").mkdir(parents=True)
    (folder / "attract").mkdir()
    png(folder / "attract" / "welkom.png", 320, 180, (40, 120, 60), (20, 20, 20))
    videos = []
    for index in range(files):
        path = f"videos/clip-{index}.mp4"
        with open(folder / path, "wb") as handle:
            for _ in range(0, size, 1 << 20):
                handle.write(os.urandom(min(1 << 20, size)))
            handle.truncate(size)
        videos.append(path)
    items = "".join(f"  - id: clip-{index}\n    video: {path}\n    seconds: 20\n" for index, path in enumerate(videos))
    (folder / "content.yaml").write_text(f'pack: bench\nversion: "{release}"\nattract:\n'
                                         f"  - id: welkom\n    image: attract/welkom.png\n{items}")
    return ["content.yaml", "attract/welkom.png", *videos]


class ActiveWatch:
    """A subscriber to the retained ``content-active``: when each release was first seen active."""

    def __init__(self, port: int, topic: str):
        self.seen: dict[int, float] = {}
        self._cond = threading.Condition()
        self.client = common.raw_client("bench-content-active")
        self.client.on_message = self._on_message
        common.connect(self.client, port)
        common.subscribe(self.client, topic)

    def _on_message(self, client, userdata, message) -> None:
        active = decode(CONTENT_ACTIVE, message.payload).payload.active
        with self._cond:
            if active is not None and active.version is not None and active.version not in self.seen:
                self.seen[active.version] = time.perf_counter()
                self._cond.notify_all()

    def wait(self, release: int, timeout: float = 600) -> float:
        with self._cond:
            if not self._cond.wait_for(lambda: release in self.seen, timeout):
                raise TimeoutError(f"release {release} never became active")
            return self.seen[release]

    def close(self) -> None:
        common.close(self.client)


def ours(agent: Agent, watch: ActiveWatch, nginx: Nginx, folder: Path, release: int, port: int,
         store: str) -> tuple[float, float, dict[str, float]]:
    """(received -> active s, push -> content-active seen s, parts) for one pack."""
    manifest = sign_manifest(build_manifest(folder, version=release, base_url=f"{nginx.base_url}/{folder.name}"),
                             KEY, KEY_ID)
    topic, payload = outgoing(ContentPackManifest.model_validate(manifest), store)
    started = time.perf_counter()
    central_push.publish([central_push.Outgoing("content-pack", topic, payload, 1)], "127.0.0.1", port)
    seen = watch.wait(release) - started
    delivery = agent.content_delivery
    assert delivery is not None
    deadline = time.monotonic() + 60
    while "received_to_active_s" not in delivery.timings.get(release, {}):
        if time.monotonic() > deadline:
            raise TimeoutError(f"release {release}: no timings")
        time.sleep(0.01)
    timing = delivery.timings[release]
    return timing["received_to_active_s"], seen, {part: timing.get(part, 0.0) for part in PARTS}


def curl(binary: str, nginx: Nginx, folder: Path, paths: list[str], work: Path) -> float:
    target = work / "curl"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    outputs = [target / f"{index}.bin" for index in range(len(paths))]
    command = [binary, "--silent", "--show-error", "--no-progress-meter", "--fail", "--parallel", "--parallel-max", "2"]
    for path, output in zip(paths, outputs, strict=True):
        command += ["-o", str(output), f"{nginx.base_url}/{folder.name}/{path}"]
    started = time.perf_counter()
    subprocess.run(command, check=True)
    subprocess.run(["sync", *map(str, outputs)], check=True)
    elapsed = time.perf_counter() - started
    shutil.rmtree(target, ignore_errors=True)
    return elapsed


def main() -> int:
    p = common.parser(__doc__.splitlines()[0], rounds=3)
    p.add_argument("--work-dir", type=Path, default=None, help="where the pack, the agent's files and curl's go "
                   "(default: a temporary folder on the default temp file system)")
    args = p.parse_args()
    logging.getLogger("edge_agent").setLevel(logging.ERROR)
    rounds = common.rounds_of(args)
    files, size = (4, 1_000_000) if args.quick else (8, 25_000_000)
    binary = ensure_installed("curl", binary="curl")
    totals: list[float] = []
    seen: list[float] = []
    raws: list[float] = []
    parts: dict[str, list[float]] = {part: [] for part in PARTS}
    with tempfile.TemporaryDirectory(dir=args.work_dir, prefix="bench-activation-") as tmp:
        work = Path(tmp)
        broker = Mosquitto(workdir=work / "mosquitto").start()
        nginx = Nginx(workdir=work / "nginx").start()
        packs_dir = work / "packs"
        store = common.STORE_ID
        text = (f'[store]\nid = "{store}"\n[device]\nid = "{common.DEVICE_ID}"\n[mqtt]\nhost = "127.0.0.1"\n'
                f'port = {broker.port}\nreconnect_min_s = 0.1\nreconnect_max_s = 1.0\n[database]\n'
                f'path = "{work / "agent.db"}"\n[logging]\nlevel = "WARNING"\n' + content_section(packs_dir))
        agent = Agent(parse_config(text, "<bench>"))
        agent.start()
        watch = ActiveWatch(broker.port, CONTENT_ACTIVE.topic_for(store, common.DEVICE_ID))
        try:
            for index in range(rounds):
                release = index + 1
                folder = nginx.root / f"pack-{release}"
                paths = make_pack(folder, release, files, size)
                subprocess.run(["sync"], check=True)  # the pack's own writes are not in either figure

                def run_ours(release=release, folder=folder) -> None:
                    total, push_seen, round_parts = ours(agent, watch, nginx, folder, release, broker.port, store)
                    totals.append(total)
                    seen.append(push_seen)
                    for part in PARTS:
                        parts[part].append(round_parts[part])

                common.alternate(index, run_ours,
                                 lambda folder=folder, paths=paths: raws.append(curl(binary, nginx, folder, paths,
                                                                                     work)))
                if args.verbose:
                    print(f"   round {index}: received->active {totals[-1]:.2f} s, curl {raws[-1]:.2f} s, parts "
                          + ", ".join(f"{part} {parts[part][-1]:.3f}" for part in PARTS))
                shutil.rmtree(folder)  # served and fetched: the next round is a new pack
        finally:
            watch.close()
            agent.stop()
            nginx.close()
            broker.stop()
    pack_mb = files * size / 1e6
    ratio = statistics.median(a / b for a, b in zip(totals, raws, strict=True))
    rows = [Row(f"{pack_mb:.0f} MB pack: manifest received -> active vs curl download + sync",
                common.median(totals), common.median(raws), "s", ratio, "info (no target)", None, totals, raws)]
    rows.extend(Row(f"  part: {part.removesuffix('_s')}", common.median(parts[part]), None, "s", None, "info",
                    None, parts[part], []) for part in PARTS)
    rows.append(Row("push -> retained content-active seen by a subscriber", common.median(seen), None, "s", None,
                    "info", None, seen, []))
    notes = [(f"work folder on {work.parent}; {files} files of {size / 1e6:.0f} MB of random bytes plus "
              "content.yaml and a picture; a new pack every round (nothing in the blob store before)")]
    return common.finish("content activation: manifest received -> pack active", args, rows, notes)


if __name__ == "__main__":
    raise SystemExit(main())
