"""``edge-agent demo``: the whole store on one machine, zero setup.

One command starts:

* the **broker**: an embedded amqtt broker on loopback (:mod:`.broker`) when
  the demo configuration names none, else the configured one;
* the **agent**, with its real reader, camera pipeline and sessions, where
  the reader is nfcpy's simulated UDP reader with the demo cards played on
  the other side (:mod:`.cards`) and the camera is fed from generated
  videos (:mod:`.video`);
* **central**: the example fixtures (``config/central-fixtures.example.yaml``)
  pushed as ``edge-agent central push`` does;
* the **content** pack ``content/tuincentrum``, delivered as a chain delivers it
  (:mod:`.content`): served over HTTP from the demo process, announced by a
  signed manifest, fetched, verified and switched to by the agent; its
  ``packs/current`` is the kiosk window's folder and the agent's ``[content]
  folder``: it publishes the pack's schedule (retained ``content-schedule``) and
  staff mode's Inhoud screen changes it;
* the **kiosk** window (``python -m kiosk … --demo``) when there is a display;
  its demo buttons and keys publish ``demo-control`` messages, which
  :mod:`.controls` turns into card taps and the product clip. Closing the
  window stops the demo; stopping the demo closes the window.

It prints a one-line summary of every message on the store's topics: topic
and schema only, as payloads may hold personal data. No UID is ever printed
or logged.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from .. import central_push
from ..agent import Agent
from ..config import AgentConfig, load_config
from ..content_control.config import ContentConfig
from ..contract import DEMO_CONTROL, EVERYTHING
from ..credentials import STORE_HMAC_KEY, Credentials, env_name
from ..errors import EdgeAgentError
from ..nfc.emulator import free_udp_port
from .broker import EMBEDDED_PORT, EmbeddedBroker
from .content import DemoContent
from .controls import HELP, DemoControls
from .system_packages import kiosk_window_problem
from .video import DemoCamera, DemoVideos, make_videos

logger = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = PROJECT_ROOT / "config" / "demo.toml"
DEMO_FIXTURES = PROJECT_ROOT / "config" / "central-fixtures.example.yaml"
DEMO_CONTENT = PROJECT_ROOT / "content" / "tuincentrum"
DEMO_VIDEO = "demo-video"  # the [camera] source that means: the demo's generated videos


class Monitor:
    """Prints a line per message on the store's topics: time, topic, schema."""

    def __init__(self, host: str, port: int, store: str):
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"demo-monitor-{store}",
                                  protocol=mqtt.MQTTv311)
        self.client.on_connect = lambda c, *_: c.subscribe(EVERYTHING, qos=0)
        self.client.on_message = self._on_message
        self.client.connect(host, port)
        self.client.loop_start()

    @staticmethod
    def _on_message(client, userdata, message) -> None:
        try:
            schema = json.loads(message.payload).get("schema", "?")
        except (ValueError, AttributeError):
            schema = "(not an envelope)"
        print(f"{time.strftime('%H:%M:%S')}  {message.topic:<55} {schema}", flush=True)

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def demo_config(config_path: Path | None, state_dir: Path, content: Path | None = None,
                delivered: DemoContent | None = None) -> tuple[AgentConfig, DemoVideos | None]:
    """The demo configuration with the database in ``state_dir``, a free UDP port for a simulated
    reader on port 0, and for a ``demo-video`` camera the generated videos (made in ``state_dir``).

    :param content: the pack folder the demo's kiosk shows: the agent's ``[content] folder`` when the
        configuration sets none, so staff mode's Inhoud screen has the store's control over that pack.
    :param delivered: with it, that pack is delivered as central delivers packs (its ``[content]`` section).
    """
    path = config_path or DEFAULT_CONFIG
    config = load_config(path)
    update: dict = {"database": config.database.model_copy(update={"path": state_dir / "agent.db"})}
    if config.content is None and delivered is not None:
        update["content"] = delivered.config()
    elif config.content is None and content is not None:
        update["content"] = ContentConfig(folder=content)
    nfc = config.nfc
    if nfc is not None and nfc.device.startswith("udp:") and nfc.device.endswith(":0"):
        host = nfc.device.split(":")[1] or "127.0.0.1"
        update["nfc"] = nfc.model_copy(update={"device": f"udp:{host}:{free_udp_port(host)}"})
    videos = None
    if config.camera is not None and config.camera.source == DEMO_VIDEO:
        videos = make_videos(state_dir)
        update["camera"] = config.camera.model_copy(update={"source": str(videos.idle)})
    return config.model_copy(update=update), videos


def demo_credentials(environ: Mapping[str, str] | None = None) -> Credentials:
    """The environment's credentials, with made-up keys for the store's card tokens and the demo
    cards' SUN messages where the environment has none."""
    from ..nfc.sun import SUN_FILE_READ_MASTER_KEY, SUN_META_READ_KEY

    values = dict(os.environ if environ is None else environ)
    for name, size in ((STORE_HMAC_KEY, 32), (SUN_META_READ_KEY, 16), (SUN_FILE_READ_MASTER_KEY, 16)):
        values.setdefault(env_name(name), os.urandom(size).hex())
    return Credentials(values)


def display_available(environ: Mapping[str, str] | None = None) -> bool:
    """Whether a window can open: an X11 ``$DISPLAY`` or a ``$WAYLAND_DISPLAY``."""
    values = os.environ if environ is None else environ
    return bool(values.get("DISPLAY") or values.get("WAYLAND_DISPLAY"))


def prepare_content(folder: Path = DEMO_CONTENT) -> Path | None:
    """The demo content pack, with its media made by its own ``make_media.py`` when that exists
    (it keeps what is there already); None when there is no pack."""
    if not (folder / "content.yaml").is_file():
        return None
    maker = folder / "make_media.py"
    if maker.is_file():
        try:
            spec = importlib.util.spec_from_file_location("demo_content_media", maker)
            if spec is None or spec.loader is None:
                raise ImportError(f"{maker} cannot be loaded as a module")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            module.build_media(folder, force=False)
        except Exception as exc:  # noqa: BLE001 - the demo runs on without the pictures
            logger.warning("the content pack's media could not be made (%s: %s); the kiosk shows what is there",
                           type(exc).__name__, exc)
    return folder


def _deliver_demo_pack(agent: Agent, delivered: DemoContent, store: str, host: str, port: int,
                       timeout_s: float = 120.0) -> None:
    """Publish the demo pack and wait until the agent shows it (the kiosk window opens on it)."""
    manifest = delivered.publish(store, host, port)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        delivery = agent.content_delivery
        view = delivery.active_view() if delivery is not None else None
        if view is not None and view.active is not None and view.active.version == manifest.version:
            print(f"content pack {manifest.pack} {manifest.pack_version} delivered and active "
                  f"({len(manifest.files)} files from {delivered.server.base_url if delivered.server else '?'})",
                  flush=True)
            if agent.content_control is not None:
                agent.content_control.refresh()  # its schedule at once, not at the next check
            return
        time.sleep(0.1)
    logger.warning("the demo content pack is not active after %.0f s: the kiosk shows what it has", timeout_s)


class KioskWindow:
    """The kiosk app as a child process (``python -m kiosk … --demo``).

    :param extra_args: more options for the kiosk (``--status-file``, ``--size`` …).
    """

    def __init__(self, host: str, port: int, store: str, device: str, content: Path | None,
                 extra_args: Sequence[str] = ()):
        self.command = [sys.executable, "-m", "kiosk", "--host", host, "--port", str(port), "--store", store,
                        "--device", device, "--demo",
                        *(["--content", str(content)] if content is not None else []), *extra_args]
        self.process: subprocess.Popen | None = None

    def start(self) -> KioskWindow:
        self.process = subprocess.Popen(self.command, cwd=PROJECT_ROOT)
        return self

    @property
    def pid(self) -> int | None:
        """The kiosk's process id; None before :meth:`start`."""
        return None if self.process is None else self.process.pid

    @property
    def exit_code(self) -> int | None:
        """None while the window is open; the kiosk's exit code once it has ended."""
        return None if self.process is None else self.process.poll()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            logger.warning("the kiosk did not stop within 10 s; killing it")
            self.process.kill()
            self.process.wait(10)


def run_demo(config_path: Path | None = None, state_dir: Path | None = None,
             duration_s: float | None = None, broker_port: int = EMBEDDED_PORT, kiosk: bool = True,
             kiosk_args: Sequence[str] = ()) -> int:
    """Run the demo until Ctrl-C, the kiosk window is closed, or ``duration_s``; returns the exit code.

    :param kiosk: open the kiosk window (when there is a display).
    :param kiosk_args: more options for the kiosk.
    :raises EdgeAgentError: when the broker or the emulated reader cannot start, or the kiosk window would
        open but lacks Debian packages (named in the message).
    """
    if kiosk and display_available():
        problem = kiosk_window_problem()
        if problem is not None:
            raise EdgeAgentError(problem)
    state_dir = Path(state_dir or tempfile.mkdtemp(prefix="connected-store-demo-"))
    state_dir.mkdir(parents=True, exist_ok=True)
    content = prepare_content()  # before the agent reads it: the media are made first
    # The demo pack arrives as central would send it, unless the configuration names its own [content].
    delivered = DemoContent(content, state_dir) if content is not None else None
    config, videos = demo_config(config_path, state_dir, content, delivered)
    if config.content is None or not config.content.public_keys:
        delivered = None
    credentials = demo_credentials()
    broker = cards = camera = agent = monitor = controls = window = None
    stopping = threading.Event()
    if threading.current_thread() is threading.main_thread():
        # Ctrl-C and SIGTERM stop the demo, also when started where SIGINT is ignored (a shell's background job,
        # `nohup`): Python then leaves SIGINT ignored and the demo could only be killed, leaving its broker
        # and reader ports taken until the process died.
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stopping.set())
    try:
        if config.mqtt is None:
            broker = EmbeddedBroker(port=broker_port).start()
            config = config.with_mqtt(broker.host, broker.port)
            print(f"embedded broker on mqtt://{broker.host}:{broker.port} "
                  f"(try: mosquitto_sub -p {broker.port} -t '{EVERYTHING}' -v)", flush=True)
        assert config.mqtt is not None, "with_mqtt() names the broker"
        host, port = config.mqtt.host, config.mqtt.port
        camera_options = {}
        if config.nfc is not None and config.nfc.device.startswith("udp:"):
            from ..nfc.sun import SunKeys
            from .cards import DemoCards

            sun_keys = SunKeys.from_credentials(credentials, config.nfc.sun_system_identifier.encode())
            try:
                cards = DemoCards(config.nfc.device, sun_keys)
            except OSError as exc:
                raise EdgeAgentError(f"the card emulator cannot listen on {config.nfc.device}: {exc}") from None
        if videos is not None:
            camera = DemoCamera(videos)
            camera_options["opener"] = camera.opener
        agent = Agent(config, credentials, camera_options=camera_options)
        agent.start()
        monitor = Monitor(host, port, config.store.id)
        if cards is not None and not cards.wait_for_reader(5):
            logger.warning("the agent's reader has not polled the emulated cards yet")
        time.sleep(0.5)
        # Central's data, pushed the way `edge-agent central push` does it. The demo's
        # card key is made up per run: the fixtures name their demo cards by UID.
        demo_fixtures = central_push.load(DEMO_FIXTURES, hmac_key=credentials.require_key(STORE_HMAC_KEY))
        central_push.publish(central_push.messages(demo_fixtures, config.store.id), host, port)
        if delivered is not None:
            _deliver_demo_pack(agent, delivered, config.store.id, host, port)
        controls = DemoControls(host, port, agent.topics, cards, camera)
        if not controls.wait_ready(30):
            logger.warning("the demo controls are not subscribed yet: a demo button may do nothing at first")
        if not kiosk:
            print("no kiosk window (--no-kiosk)", flush=True)
        elif not display_available():
            print("no display ($DISPLAY and $WAYLAND_DISPLAY are unset): running without the kiosk window",
                  flush=True)
        else:
            window = KioskWindow(host, port, config.store.id, config.device.id,
                                 config.content.folder if config.content else content, kiosk_args).start()
            print(f"kiosk window started (pid {window.pid}); closing it stops the demo", flush=True)
        ways = ["the kiosk's keys or demo buttons"] if window is not None else []
        if sys.stdin is not None and sys.stdin.isatty():
            ways.append("the number and Enter here")
            threading.Thread(target=controls.read_keys, args=(sys.stdin,), name="demo-keys", daemon=True).start()
        ways.append(("or " if ways else "") + f"a {DEMO_CONTROL.schema_id} message on {agent.topics.demo}")
        print(HELP.format(how=", ".join(ways)), flush=True)
        print(f"agent {config.store.id}/{config.device.id} running, state in {state_dir}; Ctrl-C stops",
              flush=True)
        deadline = None if duration_s is None else time.monotonic() + duration_s
        while not stopping.is_set() and (deadline is None or time.monotonic() < deadline):
            code = None if window is None else window.exit_code
            if code in (0, -signal.SIGTERM, -signal.SIGINT):
                print("the kiosk window was closed: stopping", flush=True)
                break
            if code is not None:
                print(f"the kiosk window failed (exit code {code}; its messages are above); "
                      "the demo runs on without it", flush=True)
                window = None
            stopping.wait(0.2)
    except KeyboardInterrupt:  # a signal handler of the caller's, or one before ours was set
        pass
    finally:
        if window is not None:
            window.stop()
        if delivered is not None:
            delivered.stop()
        if controls is not None:
            controls.stop()
        if monitor is not None:
            monitor.stop()
        if cards is not None:
            cards.close()
        if agent is not None:
            agent.stop()
        if broker is not None:
            broker.stop()
    return 0
