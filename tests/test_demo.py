"""The README's first command: `edge-agent demo` runs the whole store on one machine.

The demo runs as a subprocess, as a user starts it: the embedded broker, the
agent with nfcpy's simulated reader and the emulated demo cards, the camera
fed from the generated demo videos, the example fixtures, and the kiosk
window (under Xvfb). The kiosk's demo buttons and keys go through the broker
to the demo process, which taps its cards and plays its product clip; the
screens show what the agent then publishes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from edge_agent.contract import CONTENT_SCHEDULE, DEMO_CONTROL, decode, encode
from edge_agent.demo.cards import DEMO_CARDS
from edge_agent.demo.run import DEMO_CONTENT
from kiosk.content import load_pack
from tests.support.mosquitto import free_port
from tests.support.uid_spellings import found_uids

ROOT = Path(__file__).resolve().parent.parent
UIDS = [card.uid for card in DEMO_CARDS.values()]


def no_uid_in(text: str) -> bool:
    return not found_uids(text, UIDS)


def tracebacks(text: str) -> list[str]:
    """The tracebacks in ``text`` (Kivy's probes for libmtdev and xsel log none: the test setup installs them)."""
    return [block[:400] for block in text.split("Traceback (most recent call last):")[1:]]


def retained(client, topic: str, timeout: float = 30.0):
    """The payload of the retained message on ``topic`` (``client`` connected, its loop running)."""
    got: list[bytes] = []
    arrived = threading.Event()

    def on_message(_client, _userdata, message) -> None:
        if message.topic == topic and message.payload:
            got.append(message.payload)
            arrived.set()

    client.on_message = on_message
    client.subscribe(topic, qos=1)
    assert arrived.wait(timeout), f"nothing retained on {topic} in {timeout} s"
    client.unsubscribe(topic)
    return decode(CONTENT_SCHEDULE, got[0]).payload


def headless_env() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if key not in ("DISPLAY", "WAYLAND_DISPLAY")}


class Demo:
    """`edge-agent demo` as a subprocess whose output is collected line by line."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path, sigint_ignored: bool = False):
        self.log_path = log_path
        self.lines: list[str] = []
        self._log = open(log_path, "w", encoding="utf-8")  # noqa: SIM115 - closed in stop()
        command = [sys.executable, "-m", "edge_agent", "demo", *args]
        if sigint_ignored:
            # Started as a shell starts a background job (`demo &`, `nohup`), with SIGINT ignored: Ctrl-C must
            # still stop it. The shell sets the disposition and exec keeps it.
            command = ["sh", "-c", 'trap "" INT; exec "$0" "$@"', *command]
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)
            self._log.write(line)
            self._log.flush()

    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, text: str, timeout: float = 60.0, after: int = 0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines[after:]:
                if text in line:
                    return line
            if self.process.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.05)
        raise AssertionError(f"{text!r} not in the demo's output:\n{self.output()[-4000:]}")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # Ctrl-C
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                # Hung on the way out: every thread's stack into the output (edge_agent.cli), then kill.
                self.process.send_signal(signal.SIGUSR1)
                time.sleep(1)
                self.process.kill()
                self.process.wait(10)
        self._reader.join(10)
        self._log.close()
        return self.process.returncode


def test_demo_starts_embedded_broker_and_agent_and_pushes_the_example_fixtures(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "edge_agent", "demo", "--no-kiosk", "--duration", "3", "--broker-port",
         str(free_port()), "--state-dir", str(tmp_path)],
        capture_output=True, text=True, cwd=ROOT, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for schema in ("state/1", "birth/1", "catalogue/1", "offers/1", "order/1", "card-link/1", "content-schedule/1"):
        assert schema in out, f"{schema} missing from demo output:\n{out}"
    assert "no kiosk window (--no-kiosk)" in out
    assert "Traceback" not in result.stderr
    assert (tmp_path / "agent.db").exists()
    assert sorted(path.name for path in tmp_path.glob("demo-*.avi")) == ["demo-idle-v1.avi", "demo-product-v1.avi"]


def test_without_a_display_the_demo_says_so_and_its_controls_tap_cards_and_hold_up_the_product(tmp_path):
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    port = free_port()
    demo = Demo(["--broker-port", str(port), "--state-dir", str(tmp_path)], headless_env(), tmp_path / "demo.log",
                sigint_ignored=True)
    try:
        demo.wait_for("no display ($DISPLAY and $WAYLAND_DISPLAY are unset)")
        demo.wait_for("running, state in")
        client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        client.connect("127.0.0.1", port)
        client.loop_start()
        topic = DEMO_CONTROL.topic_for("demo-store", "kiosk-1")
        mark = len(demo.lines)
        client.publish(topic, encode(DEMO_CONTROL, {"action": "tap", "card": "gold"})[1]).wait_for_publish(5)
        demo.wait_for("local/session", after=mark)
        demo.wait_for("recognised at assurance sun", after=mark)
        mark = len(demo.lines)
        client.publish(topic, encode(DEMO_CONTROL, {"action": "product"})[1]).wait_for_publish(5)
        demo.wait_for("local/scan", after=mark, timeout=15)
        client.publish(topic, b"not an envelope").wait_for_publish(5)  # ignored, with a warning
        demo.wait_for("ignored a malformed demo control")
        schedule = retained(client, CONTENT_SCHEDULE.topic_for("demo-store", "kiosk-1"))
        client.loop_stop()
        client.disconnect()
    finally:
        code = demo.stop()
    out = demo.output()
    assert code == 0, out[-8000:]
    assert "Traceback" not in out
    assert no_uid_in(out), "a demo card's UID was printed or logged"
    # The demo's agent has the pack the demo's kiosk shows: staff mode's Inhoud screen has its schedule.
    pack = load_pack(DEMO_CONTENT)
    assert (schedule.pack, schedule.version) == (pack.name, pack.version)
    assert [item.id for item in schedule.attract] == [item.id for item in pack.attract_items]


@pytest.fixture
def xvfb():
    from tests.support.xvfb import Xvfb

    with Xvfb() as display:
        yield display


class _Child:
    """The kiosk window the demo started: its child, watched by pid."""

    def __init__(self, pid: int):
        self.pid = pid
        self.returncode = None

    def poll(self):
        return None if Path(f"/proc/{self.pid}").exists() and "zombie" not in self._state() else 0

    def _state(self) -> str:
        try:
            return Path(f"/proc/{self.pid}/status").read_text().lower()
        except OSError:
            return "zombie"


def test_demo_opens_the_kiosk_whose_buttons_and_keys_tap_the_demo_cards_and_show_the_product(tmp_path, xvfb):
    from tests.support.kiosk import KioskProcess

    port = free_port()
    work = tmp_path / "kiosk"
    kiosk = KioskProcess(xvfb, port, "demo-store", "kiosk-1", work)
    env = dict(os.environ, **xvfb.env(), KIVY_HOME=str(work / "kivy-home"), KIVY_WINDOW="sdl2")
    demo = Demo(["--broker-port", str(port), "--state-dir", str(tmp_path / "state"),
                 f"--kiosk-arg=--status-file={kiosk.status_path}", f"--kiosk-arg=--screenshot-dir={kiosk.shots}",
                 "--kiosk-arg=--size=1000x600", "--kiosk-arg=--transition=none"],
                env, kiosk.log_path)
    try:
        # A fresh clone makes the content pack's pictures and videos first: minutes on a busy machine.
        pid = int(demo.wait_for("kiosk window started (pid", timeout=300).split("pid ")[1].split(")")[0])
        kiosk.process = _Child(pid)
        status = kiosk.wait(lambda s: s["connected"], timeout=60)
        assert {"demo-gold", "demo-expired", "demo-unknown", "demo-staff", "demo-product"} <= set(status["targets"])
        assert all(min(w, h) >= status["min_target_px"] - 0.5
                   for name, (_x, _y, w, h) in status["targets"].items() if name.startswith("demo-"))

        # The demo video: someone walks up (about 3 s in) and the camera's presence wakes the kiosk.
        kiosk.wait(lambda s: s["present"], timeout=30)
        kiosk.click("demo-expired")
        kiosk.keep(kiosk.wait_screen("enrolment", timeout=15), "demo-expired")
        kiosk.click("demo-gold")
        status = kiosk.wait_screen("begrijp", "Sanne", timeout=15)
        kiosk.keep(status, "demo-gold")
        # Its row of demo buttons included, the bars leave the screens 65 % of the height (kiosk/bars.py).
        assert status["geometry"]["content"][3] >= 0.65 * status["window"][1], status["geometry"]
        kiosk.click("demo-product")
        kiosk.keep(kiosk.wait_screen("informeer", "Gazonmest 5 kg", timeout=20), "demo-product")
        kiosk.click("demo-unknown")
        kiosk.wait(lambda s: s["screen"] == "enrolment" and not kiosk.shows(s, "Sanne"), timeout=15)
        kiosk.click("demo-staff")
        kiosk.keep(kiosk.wait_screen("staff-pin", "Voer uw pincode in", timeout=15), "demo-staff-pin")
        for key in "2468":  # Anna's PIN in the fixtures (README)
            kiosk.click(f"pin-{key}")
        kiosk.click("pin-ok")
        kiosk.keep(kiosk.wait_screen("staff", "Anna · Manager", timeout=15), "demo-staff")
        # Key 1 taps the gold card as its button does (the keyboard follows the pointer: no window manager).
        subprocess.run([kiosk._pointer.binary, "key", "1"], env=kiosk._pointer.env, check=True, capture_output=True)
        kiosk.wait_screen("begrijp", "Sanne", timeout=15)

        os.kill(pid, signal.SIGTERM)  # the window is closed: the demo stops
        demo.wait_for("the kiosk window was closed: stopping", timeout=20)
        demo.process.wait(30)
    finally:
        if Path(f"/proc/{pid}").exists() if "pid" in locals() else False:
            os.kill(pid, signal.SIGTERM)
        code = demo.stop()
    out = demo.output()
    assert code == 0, out[-8000:]
    assert not tracebacks(out), tracebacks(out)
    assert no_uid_in(out), "a demo card's UID was printed or logged"


def test_a_demo_control_names_a_card_exactly_when_it_taps_one():
    from edge_agent.contract import DemoControlPayload
    from edge_agent.errors import ContractError

    assert DemoControlPayload(action="tap", card="staff").card == "staff"
    for bad in ({"action": "tap"}, {"action": "product", "card": "gold"}, {"action": "tap", "card": "someone"},
                {"action": "erase"}):
        with pytest.raises((ValueError, ContractError)):
            encode(DEMO_CONTROL, bad)
    assert not DEMO_CONTROL.retained and not DEMO_CONTROL.bridged


def test_demo_keys_come_from_the_environment_first_and_a_window_needs_a_display():
    from edge_agent.demo.run import demo_credentials, display_available

    mine = "ab" * 32
    credentials = demo_credentials({"CS_STORE_HMAC_KEY": mine})
    assert credentials.get("store-hmac-key") == mine
    assert len(bytes.fromhex(credentials.get("sun-meta-read-key"))) == 16
    assert demo_credentials({}).get("store-hmac-key") != demo_credentials({}).get("store-hmac-key")
    assert not display_available({}) and display_available({"WAYLAND_DISPLAY": "wayland-0"})
    assert display_available({"DISPLAY": ":0"})


def test_a_kiosk_window_lacking_debian_packages_stops_the_demo_before_it_starts_with_one_line_naming_them(
        monkeypatch, tmp_path):
    from edge_agent.demo import run_demo, system_packages
    from edge_agent.demo.system_packages import SystemPackage
    from edge_agent.errors import EdgeAgentError

    monkeypatch.setattr(system_packages, "KIOSK_WINDOW", (
        SystemPackage("libgl1", "the kiosk window (OpenGL)", library="libGL-not-here.so.1"),
        SystemPackage("libc6", "the C library", library="libc.so.6"),
        SystemPackage("xsel", "Kivy's X clipboard", binary="xsel-not-here"),
    ))
    monkeypatch.setenv("DISPLAY", ":99")
    with pytest.raises(EdgeAgentError) as raised:
        run_demo(state_dir=tmp_path / "state", duration_s=1, broker_port=free_port())
    message = str(raised.value)
    assert "\n" not in message and "missing: libgl1 xsel " in message and "libc6" not in message
    assert "apt-get install -y libgl1 xsel" in message and "--no-kiosk" in message
    assert not (tmp_path / "state").exists(), "nothing started before the check"


def test_system_packages_are_found_by_binary_or_library_and_each_missing_one_is_named_once():
    from edge_agent.demo.system_packages import SystemPackage, missing

    here = [SystemPackage("libc6", "C", library="libc.so.6"), SystemPackage("coreutils", "ls", binary="ls")]
    gone = [SystemPackage("gone", "a", binary="not-a-binary-here"), SystemPackage("gone", "b", library="libnot.so.9")]
    assert missing(here) == [] and missing([*gone, *here]) == ["gone"]
    with pytest.raises(ValueError, match="a binary or a library"):
        SystemPackage("vague", "nothing to look for").present()
