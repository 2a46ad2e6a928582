"""A staff member's content change -> the first kiosk frame showing it, vs a raw MQTT publish -> a Kivy label.

Ours, all real: Mosquitto, the edge agent in this process (its staff mode opened with Anna's emulated badge on
nfcpy's UDP reader and her PIN, central's fixtures pushed over MQTT), a content pack of four images in a folder
the agent and the kiosk share, and the kiosk process (``python -m kiosk --transition none --frame-log FILE``) on
Xvfb, in staff mode on its Inhoud screen (opened with real clicks). Each change is the ``content-control``
request the Inhoud screen's "Uit"/"Aan" button sends (switching one attract item off, then on again, 100 times),
published by this process in Anna's staff session: the agent checks the session (staff gate), writes the change
and its audit entry in one durable SQLite commit (``event/staff-audit`` into the outbox), publishes the retained
``content-schedule``; the kiosk lays it over the pack and rebuilds the list. The clock starts (``time.time()``)
just before the request is published and stops at the kiosk's ``content-shown`` line for that schedule's
revision (``kiosk.diagnostics.FrameLog``: the first ``on_flip`` after the schedule was applied, stamped after
the swap; see ``kiosk_tap_to_frame.py`` for why that is the frame that shows it). The tap on the button itself
is not in it, as the baseline has none.

Baseline, in the same run on the same display: raw paho publishes ``{"k", "name"}`` (QoS 1, TCP_NODELAY, padded
to the schedule message's size) to the minimal Kivy app (``_kivy_label_app.py``), which sets a Label's text
through ``Clock.schedule_once`` and stamps its first flip with the same ``FrameLog``.

Rounds alternate ours and the baseline (the order rotates), 100 changes a side; p50/p95/max over all.
Target: p95 <= 1.5x the baseline's p95. Diagnostic rows split ours at the ``content-schedule`` message (at a
subscriber in this process), and both sides' frames at the app's mark (the change applied), the end of the
frame's drawing and the buffer swap (the ``FrameLog``'s ``changed``, ``drawn`` and ``t``). ``--work-dir`` puts
the agent's database elsewhere (``/dev/shm``: tmpfs) to tell the disk's part; with ``bench/_fsync.py`` there,
the disk's fsync time under the database is sampled between rounds and printed. The process runs with the
agent process's thread switch interval (``edge_agent.link.SWITCH_INTERVAL_S``, as ``Agent.run_forever`` sets it).

    .venv/bin/python bench/staff_change_to_frame.py [--quick] [--rounds N] [--changes N] [--work-dir DIR] [-v]
"""

from __future__ import annotations

import json
import logging
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import _common as common
import _gui as gui
from _common import Row

from edge_agent import central_push as fixtures
from edge_agent.agent import Agent
from edge_agent.config import parse_config
from edge_agent.contract import COMMANDS, CONTENT_SCHEDULE, StaffPinRequest, Topics, encode, new_id
from edge_agent.credentials import Credentials
from edge_agent.link import SWITCH_INTERVAL_S
from edge_agent.nfc.emulator import CardEmulator, Type2Card, free_udp_port
from tests.support.cards import STAFF_UID
from tests.support.kiosk import KioskProcess
from tests.support.mosquitto import Mosquitto
from tests.support.xvfb import Xvfb
from tests.test_content_control_e2e import write_pack

try:
    from _fsync import fsync_times  # the disk's fsync time (bench/_fsync.py, where it is there)
except ImportError:
    fsync_times = None  # type: ignore[assignment]  # without it the figures go out without the disk's fsync time

HMAC_KEY = bytes(range(32))
FIXTURES = Path(__file__).resolve().parents[1] / "config" / "central-fixtures.example.yaml"
ANNA_PIN = "2468"  # config/central-fixtures.example.yaml
TARGET_RATIO = 1.5
BASE_TOPIC = "bench/label"
ITEM = "klantenpas"  # the row whose state text changes with every change


def revision_of(payload: bytes) -> str | None:
    return str(json.loads(payload)["data"]["revision"]) if payload else None


class Ours:
    """The staff session's requests to the agent, and the kiosk's frames."""

    def __init__(self, publisher, topics: Topics, session: str, frames: gui.FrameTail, schedules: common.Arrivals,
                 revision: int):
        self.publisher, self.topic, self.session = publisher, COMMANDS["content-control"].topic_for(
            topics.store, topics.device), session
        self.frames, self.schedules = frames, schedules
        self.seen = len(frames)
        self.revision = revision
        self.enabled = True

    def change(self) -> dict[str, float]:
        action = "disable" if self.enabled else "enable"
        _, payload = encode(COMMANDS["content-control"], {"session": self.session, "action": action,
                                                          "section": "attract", "item": ITEM},
                            transaction=new_id())
        self.revision += 1
        key = str(self.revision)
        start = time.time()
        self.publisher.publish(self.topic, payload, qos=1)
        shown, self.seen = self.frames.wait("content-shown", self.seen, key, timeout=10)
        message = self.schedules.wait(key)
        self.enabled = not self.enabled
        return parts(start, message, shown)


def parts(start: float, message: float, shown: dict) -> dict[str, float]:
    """The change's time and its parts, in ms: to the message (at this process's subscriber), on to the app's
    ``mark`` (the change applied: ``changed``), on to the frame's draw starting (``drawn``) and its swap (``t``)."""
    return {"total": (shown["t"] - start) * 1000, "message": (message - start) * 1000,
            "frame": (shown["t"] - message) * 1000, "applied": (shown["changed"] - message) * 1000,
            "drawn": (shown["drawn"] - shown["changed"]) * 1000, "swap": (shown["t"] - shown["drawn"]) * 1000}


class Baseline:
    def __init__(self, publisher, frames: gui.FrameTail, messages: common.Arrivals, size: int):
        self.publisher, self.frames, self.messages, self.size = publisher, frames, messages, size
        self.seen = len(frames)
        self.count = 0

    def change(self) -> dict[str, float]:
        self.count += 1
        key = f"{self.count:04d}-{random.randrange(1 << 40):x}"
        head = json.dumps({"k": key, "name": f"wijziging {self.count}"})[:-1] + ', "p": "'
        payload = head.ljust(self.size - 2, "x") + '"}'
        start = time.time()
        self.publisher.publish(BASE_TOPIC, payload.encode(), qos=1)
        shown, self.seen = self.frames.wait("name-shown", self.seen, gui_hash(key), timeout=10)
        message = self.messages.wait(key)
        return parts(start, message, shown)


class Watched:
    """A :class:`KioskProcess` as :class:`_gui.FrameTail` looks at its app when a frame is late."""

    name = "kiosk"

    def __init__(self, kiosk: KioskProcess):
        self.kiosk = kiosk

    def check(self) -> None:
        if self.kiosk.process is not None and self.kiosk.process.poll() is not None:
            raise RuntimeError(f"the kiosk exited:\n{self.kiosk.log()[-2000:]}")

    def log(self) -> str:
        return self.kiosk.log()


def gui_hash(key: str) -> str:
    import hashlib

    return hashlib.sha256(key.encode()).hexdigest()[:16]  # as kiosk.diagnostics.FrameLog.session_hash


def run(side, count: int, results: list[dict[str, float]]) -> None:
    for _ in range(count):
        time.sleep(random.uniform(0.25, 0.35))  # the kiosk writes its status (and a screenshot) after a change
        results.append(side.change())


def staff_session(agent: Agent, emulator: CardEmulator, sessions: common.Arrivals) -> str:
    """Anna's badge, then her PIN: the session id of her staff mode."""
    emulator.hold(Type2Card(STAFF_UID))
    deadline = time.monotonic() + 20
    while not sessions.times:
        if time.monotonic() > deadline:
            raise TimeoutError("no session for the staff badge")
        time.sleep(0.05)
    emulator.remove()
    session = next(iter(sessions.times))
    assert agent.staff is not None, "the agent has staff mode ([nfc])"
    view = agent.staff.modes.pin(StaffPinRequest(session=session, pin=ANNA_PIN))
    if view.state != "active":
        raise SystemExit(f"staff mode did not open: {view.state}")
    return session


def main() -> int:
    parser = common.parser(__doc__.splitlines()[0], rounds=4)
    parser.add_argument("--changes", type=int, default=None, help="changes per round and side (default 25, quick 5)")
    parser.add_argument("--work-dir", type=Path, default=None,
                        help="where the agent's database (and the rest) go, e.g. /dev/shm for tmpfs; default a "
                             "temporary folder on the system's disk")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    rounds = common.rounds_of(args)
    changes = args.changes or (5 if args.quick else 25)  # 4 x 25 = 100 a side
    workdir = Path(tempfile.mkdtemp(prefix="bench-staff-change-", dir=args.work_dir))
    fsyncs: list[float] = []
    broker = Mosquitto(workdir=workdir / "mosquitto").start()
    xvfb = Xvfb().start()
    pack = workdir / "pack"
    write_pack(pack, "1")
    reader = f"udp:127.0.0.1:{free_udp_port()}"
    config = parse_config(
        f'[store]\nid = "{common.STORE_ID}"\n[device]\nid = "{common.DEVICE_ID}"\n'
        f'[mqtt]\nhost = "127.0.0.1"\nport = {broker.port}\n[database]\npath = "{workdir / "agent.db"}"\n'
        f'[nfc]\ndevice = "{reader}"\npoll_interval_s = 0.02\n[health]\ninterval_s = 60\n'
        f'[staff]\nidle_s = 600\n'
        f'[content]\nfolder = "{pack}"\ncheck_s = 60\n[logging]\nlevel = "WARNING"\n', "<bench>")
    (workdir / "kiosk.toml").write_text(f'[content]\nfolder = "{pack}"\ncheck_s = 60\n')
    topics = Topics(common.STORE_ID, common.DEVICE_ID)
    emulator = CardEmulator(reader)
    agent = Agent(config, Credentials({"CS_STORE_HMAC_KEY": HMAC_KEY.hex()}))
    apps: list = []
    cleanup: list = []
    results: dict[str, list[dict[str, float]]] = {"ours": [], "raw": []}
    try:
        # The agent runs in this process as in its own (Agent.run_forever): with the agent process's switch
        # interval. The baseline's publisher and subscriber share this process, and so the setting.
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        agent.start()
        if not agent.link.wait_connected(10) or not emulator.wait_for_reader(10):
            raise SystemExit("the agent did not connect, or its reader never polled")
        outgoing = fixtures.messages(fixtures.load(FIXTURES, hmac_key=HMAC_KEY), common.STORE_ID)
        fixtures.publish(outgoing, "127.0.0.1", broker.port)
        deadline = time.monotonic() + 30
        while agent.inbox.applied < len(outgoing):
            if time.monotonic() > deadline:
                raise SystemExit("the agent did not apply central's fixtures")
            time.sleep(0.05)
        sessions = common.Arrivals(broker.port, topics.session,
                                   lambda p: json.loads(p)["data"]["session"]
                                   if json.loads(p)["data"]["state"] == "started" else None, clock=time.time)
        schedules = common.Arrivals(broker.port, CONTENT_SCHEDULE.topic_for(common.STORE_ID, common.DEVICE_ID),
                                    revision_of, clock=time.time)
        base_messages = common.Arrivals(broker.port, BASE_TOPIC,
                                        lambda p: json.loads(p).get("k"), clock=time.time)
        cleanup += [lambda: common.close(sessions.client), lambda: common.close(schedules.client),
                    lambda: common.close(base_messages.client)]
        kiosk_frames, label_frames = workdir / "kiosk-frames.jsonl", workdir / "label-frames.jsonl"
        kiosk = KioskProcess(xvfb, broker.port, common.STORE_ID, common.DEVICE_ID, workdir / "kiosk", size=gui.SIZE,
                             args=("--config", str(workdir / "kiosk.toml"), "--transition", "none",
                                   "--frame-log", str(kiosk_frames), "--log-level", "WARNING")).start(timeout=60)
        cleanup.append(kiosk.stop)
        label = gui.label_app(xvfb, workdir, "--port", str(broker.port), "--topic", BASE_TOPIC,
                              "--frame-log", str(label_frames))
        apps.append(label)
        session = staff_session(agent, emulator, sessions)
        kiosk.wait(lambda s: s["screen"] == "staff", 20)
        kiosk.click("staff-inhoud")
        status = kiosk.wait(lambda s: s["screen"] == "inhoud" and f"inhoud-item-{ITEM}" in s["targets"], 20)
        revision = status["content"]["schedule_revision"] or 0
        publisher = common.raw_client("bench-staff-pub")
        common.connect(publisher, broker.port)
        cleanup.append(lambda: common.close(publisher))
        ours = Ours(publisher, topics, session, gui.FrameTail(kiosk_frames, Watched(kiosk)), schedules, revision)
        size = max(common.median(schedules.sizes) if schedules.sizes else 1000, 100)
        base = Baseline(publisher, gui.FrameTail(label_frames, label), base_messages, int(size))
        run(ours, 4, [])  # warm up both: first textures, first connections
        run(base, 4, [])
        base.size = int(common.median(schedules.sizes))
        for round_index in range(rounds):
            common.alternate(round_index,
                             lambda: run(ours, changes, results["ours"]),
                             lambda: run(base, changes, results["raw"]))
            if fsync_times is not None:
                fsyncs.extend(fsync_times(workdir))  # the disk under the agent's database, between rounds
            if args.verbose:
                print(f"round {round_index}: ours p95 "
                      f"{common.percentile([t['total'] for t in results['ours'][-changes:]], 95):.1f} ms, raw p95 "
                      f"{common.percentile([t['total'] for t in results['raw'][-changes:]], 95):.1f} ms", flush=True)
        assert agent.staff is not None, "staff mode ([nfc])"
        audited = sum(1 for entry in agent.staff.audit.last(1000) if entry.action.startswith("content-"))
    finally:
        for app in apps:
            app.stop()
        for step in reversed(cleanup):
            step()
        agent.stop()
        emulator.close()
        xvfb.close()
        broker.close()
        shutil.rmtree(workdir, ignore_errors=True)

    ours_totals, raw_totals = [t["total"] for t in results["ours"]], [t["total"] for t in results["raw"]]
    rows = []
    for q, name in ((50, "p50"), (95, "p95"), (100, "max")):
        o, r = common.percentile(ours_totals, q), common.percentile(raw_totals, q)
        if q == 95:
            rows.append(Row(f"change -> frame showing it {name}", o, r, "ms", o / r, f"<= {TARGET_RATIO}x",
                            o <= TARGET_RATIO * r))
        else:
            rows.append(Row(f"change -> frame showing it {name}", o, r, "ms", o / r, "info", None))
    for key, name in (("message", "request -> content-schedule message (raw: publish -> message)"),
                      ("frame", "message -> frame on screen"),
                      ("applied", "  message -> applied in the app (its mark)"),
                      ("drawn", "  applied -> the frame's draw starts"),
                      ("swap", "  draw -> buffers swapped")):
        for q in (50, 95):
            o = common.percentile([t[key] for t in results["ours"]], q)
            r = common.percentile([t[key] for t in results["raw"]], q)
            rows.append(Row(f"  part: {name} p{q}", o, r, "ms", o / r if r > 0 else None, "info", None))
    notes = [(f"{rounds} rounds x {changes} changes per side ({len(ours_totals)} each), alternating; window "
             f"{gui.SIZE} on one Xvfb; the kiosk in staff mode on its Inhoud screen; {audited} content changes "
             "audited (event/staff-audit, the last 1000 kept)"),
             ("ours: content-control request in the staff session -> staff gate -> SQLite change + audit (one durable "
             "commit) -> retained content-schedule -> kiosk lays it over the pack, sets the row's text -> first "
             "on_flip after"),
             "baseline: raw paho QoS 1 publish -> a Kivy Label set via Clock.schedule_once, first on_flip after",
             f"work dir (the agent's database): {workdir.parent}"]
    if fsyncs:
        notes.append(f"fsync of a 4 KiB write there (bench/_fsync.py, between rounds): p50 "
                     f"{common.median(fsyncs):.2f} ms, p95 {common.percentile(fsyncs, 95):.2f} ms")
    return common.finish("staff change -> kiosk frame (issue 14)", args, rows, notes)


if __name__ == "__main__":
    raise SystemExit(main())
