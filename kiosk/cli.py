"""``kiosk``: the kiosk's command line. It reads the configuration, checks it and opens the window::

    kiosk --config /etc/connected-store/kiosk.toml [--fullscreen]
    kiosk --store store-0042 --device kiosk-1 [--host 127.0.0.1] [--port 1883]
    kiosk --config FILE --validate-config

Options override the file (:mod:`kiosk.config`). Mistakes are reported as
``file:line: key.path: what is wrong`` and the exit codes are the agent's
(:mod:`edge_agent.problems`): 2 for an invalid configuration or content
pack, 0 otherwise.

Kivy is imported only by :func:`run`, through :mod:`kiosk.app`, which sets
the environment Kivy reads at import (its own command line off, logging
through Python's) before importing it: ``--help`` and ``--validate-config``
need no display and load no Kivy.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from edge_agent.contract import LANGUAGES
from edge_agent.problems import EXIT_INVALID, EXIT_OK, InvalidInput, report
from edge_agent.redaction import install_everywhere, setup_logging

from .config import OPTIONS, KioskConfig, check_tls_files, merge, parse_config, read_toml
from .content import load_pack

if TYPE_CHECKING:
    from kivy.base import ExceptionHandler

logger = logging.getLogger(__name__)

FRAME_RECORD_ENV = "CS_KIOSK_FRAME_RECORD"  # kiosk.frame_recorder.ENV, named here so --help loads no Kivy
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WxH, e.g. 800x480, got {text!r}") from None
    return width, height


def build_parser() -> argparse.ArgumentParser:
    """The ``kiosk`` command line."""
    parser = argparse.ArgumentParser(prog="kiosk", description="Connected Store kiosk (a Kivy touchscreen app).")
    parser.add_argument("--config", "-c", type=Path, help="TOML configuration (config/kiosk.example.toml).")
    parser.add_argument("--validate-config", action="store_true",
                        help="Check the configuration (file and options) and the content pack it names, print "
                             f"every mistake, exit {EXIT_OK} or {EXIT_INVALID}.")
    parser.add_argument("--host", help="Broker host (mqtt.host).")
    parser.add_argument("--port", type=int, help="Broker port (mqtt.port).")
    parser.add_argument("--store", help="Store id (store.id).")
    parser.add_argument("--device", help="The agent's device id (device.id).")
    parser.add_argument("--fullscreen", action="store_true", default=None, help="Fill the screen.")
    parser.add_argument("--size", metavar="WxH", type=_size,
                        help="Window size when not fullscreen, e.g. 800x480 or 1080x1920.")
    parser.add_argument("--language", choices=LANGUAGES, help="Language when nobody is recognised.")
    parser.add_argument("--content", type=Path, help="Content pack folder with content.yaml (content.folder).")
    parser.add_argument("--idle-timeout", type=float, help="Seconds without a touch before a session ends.")
    parser.add_argument("--countdown", type=float, help="The countdown shows for the last this many seconds.")
    parser.add_argument("--transition", choices=["slide", "fade", "none"], help="Animation between screens.")
    parser.add_argument("--status-file", type=Path, help="Write what is on screen as JSON here on every change.")
    parser.add_argument("--screenshot-dir", type=Path, help="Save a screenshot of every change here.")
    parser.add_argument("--demo", action="store_true", default=None,
                        help="Demo buttons and keys 1-5 that tap the demo cards (edge-agent demo; display.demo).")
    parser.add_argument("--frame-log", type=Path,
                        help="Append a JSON line (time, hashed session id) when a name or the attract screen is "
                             "first on screen (for bench/kiosk_tap_to_frame.py).")
    parser.add_argument("--frame-record", type=Path, default=os.environ.get(FRAME_RECORD_ENV) or None,
                        help="Append a JSON line for every frame drawn: its time and whether the attract area showed "
                             f"only the background (kiosk.frame_recorder; also ${FRAME_RECORD_ENV}; for tests and "
                             "bench/attract_transitions.py).")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="Log level (default INFO; Kivy's own logging shows from DEBUG).")
    return parser


def load_config(args: argparse.Namespace) -> KioskConfig:
    """The configuration from ``--config`` with the other options on top.

    :raises ConfigError: naming the file, line and key path of each mistake (or ``options`` for an option's),
        or of each file of ``[mqtt.tls]`` that cannot be used.
    """
    document: dict[str, Any] = {}
    text = None
    if args.config:
        document, text = read_toml(args.config)
    width, height = args.size or (None, None)
    overrides: dict[str, dict[str, Any]] = {
        "store": {"id": args.store}, "device": {"id": args.device},
        "mqtt": {"host": args.host, "port": args.port},
        "session": {"idle_timeout_s": args.idle_timeout, "countdown_s": args.countdown},
        "display": {"fullscreen": args.fullscreen, "width": width, "height": height, "language": args.language,
                    "transition": args.transition, "demo": args.demo},
        "content": {"folder": str(args.content) if args.content else None},
    }
    given = {f"{section}.{key}" for section, values in overrides.items()
             for key, value in values.items() if value is not None}
    source = str(args.config) if args.config else OPTIONS
    settings = parse_config(merge(document, overrides), source, text, given)
    # At every start, not only with --validate-config: the broker's CA is read when the bridge is built.
    check_tls_files(settings, source, text)
    return settings


def check_content(settings: KioskConfig) -> None:
    """Load the content pack the configuration names, if any.

    :raises ContentError: listing every problem of its manifest.
    """
    if settings.content.folder is not None:
        load_pack(settings.content.folder, ZoneInfo(settings.store.timezone))


def _keep_running() -> ExceptionHandler:
    """A Kivy exception handler: a bug in a callback is logged with its traceback and the kiosk stays up (on
    the screen it was on): a kiosk that quits leaves the shopper with a desktop. Called by :func:`run`, after
    :mod:`kiosk.app` has set Kivy's environment."""
    from kivy.base import ExceptionHandler, ExceptionManager

    class KeepRunning(ExceptionHandler):
        def handle_exception(self, exception: BaseException) -> int:
            if isinstance(exception, KeyboardInterrupt | SystemExit):
                return ExceptionManager.RAISE
            logger.error("unhandled error in the kiosk, carrying on", exc_info=exception)
            return ExceptionManager.PASS

    return KeepRunning()


def run(settings: KioskConfig, status_file: Path | None = None, screenshot_dir: Path | None = None,
        frame_log: Path | None = None, frame_record: Path | None = None) -> int:
    """Open the window and run until it is closed or the process gets SIGTERM/SIGINT; the exit code (a
    manager's restart from the device checks: the code the agent gave, which the kiosk's unit restarts)."""
    import signal

    # kiosk.app first: it sets Kivy's environment before Kivy is imported.
    from .app import KioskApp

    # isort: split
    from kivy.base import ExceptionManager
    from kivy.clock import Clock
    from kivy.config import Config

    display = settings.display
    # Before the window exists (it is created on first use of kivy.core.window).
    Config.set("graphics", "fullscreen", "auto" if display.fullscreen else "0")
    Config.set("graphics", "width", str(display.width))
    Config.set("graphics", "height", str(display.height))
    Config.set("graphics", "show_cursor", "1" if display.show_cursor else "0")
    Config.set("graphics", "multisamples", str(display.multisamples))
    Config.set("kivy", "exit_on_escape", "0")
    Config.set("input", "mouse", "mouse,disable_multitouch")
    install_everywhere()  # any handler Kivy added at import redacts too
    ExceptionManager.add_handler(_keep_running())
    app = KioskApp(settings, status_file=status_file, screenshot_dir=screenshot_dir, frame_log=frame_log,
                   frame_record=frame_record)

    def stop(signum, _frame) -> None:
        logger.info("signal %d: stopping", signum)
        Clock.schedule_once(lambda _dt: app.stop(), 0)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stop)
    app.run()
    return app.exit_code


def main(argv: list[str] | None = None) -> int:
    """The ``kiosk`` command; the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.frame_log is not None and args.frame_record is not None:
        # Both observe the window's on_flip, and the frame log ends its dispatch: one would miss frames.
        parser.error("--frame-log and --frame-record (or $CS_KIOSK_FRAME_RECORD) cannot be used together")
    # Every handler redacts UIDs and personal fields (edge_agent.redaction), whatever the level.
    setup_logging(args.log_level, LOG_FORMAT)
    if args.log_level != "DEBUG":
        logging.getLogger("kivy").setLevel(logging.WARNING)
    try:
        settings = load_config(args)
        if args.validate_config:
            check_content(settings)
    except InvalidInput as exc:
        return report(exc, sys.stderr)
    if args.validate_config:
        print("configuration is valid")
        return EXIT_OK
    return run(settings, status_file=args.status_file, screenshot_dir=args.screenshot_dir, frame_log=args.frame_log,
               frame_record=args.frame_record)


if __name__ == "__main__":
    sys.exit(main())
