"""``edge-agent``: the command line. A thin layer: it parses arguments, sets up
logging and turns the agent's errors into messages and exit codes."""

from __future__ import annotations

import argparse
import faulthandler
import logging
import signal
import sys
from pathlib import Path

from .config import load_config
from .errors import ConfigError, EdgeAgentError

logger = logging.getLogger(__name__)

LOG_FORMAT = "%(asctime)s %(levelname)-7s %(threadName)s %(name)s: %(message)s"


def _setup_logging(level: str) -> None:
    logging.basicConfig(level=level, format=LOG_FORMAT, stream=sys.stderr)


def cmd_run(args: argparse.Namespace) -> int:
    from .agent import Agent

    config = load_config(args.config)
    _setup_logging(args.log_level or config.logging.level)
    if config.mqtt is None:
        raise ConfigError(str(args.config), ["mqtt: the agent needs a broker; `edge-agent demo` starts one"])
    Agent(config).run_forever()
    return 0


def cmd_validate_config(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.file)
    except ConfigError as exc:
        print(f"{exc.source}: {len(exc.problems)} problem(s)", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    print(f"{args.file}: ok (store {config.store.id}, device {config.device.id}, hash {config.config_hash()})")
    return 0


def cmd_contract_asyncapi(args: argparse.Namespace) -> int:
    from .contract.asyncapi import render_yaml

    text = render_yaml()
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def cmd_card_verify_sun(args: argparse.Namespace) -> int:
    import json

    from .credentials import Credentials
    from .nfc.sun import DEFAULT_SYSTEM_IDENTIFIER, SUN_FILE_READ_MASTER_KEY, SUN_META_READ_KEY, verify_sun_command

    system_identifier = DEFAULT_SYSTEM_IDENTIFIER
    if args.config is not None:
        config = load_config(args.config)
        if config.nfc is not None:
            system_identifier = config.nfc.sun_system_identifier.encode()
    if (args.meta_read_key is None) != (args.file_read_key is None):
        raise EdgeAgentError("give both --meta-read-key and --file-read-key, or neither (keys from credentials)")
    if args.meta_read_key is not None:
        meta, file_key, master = args.meta_read_key, args.file_read_key, args.master
    else:
        credentials = Credentials()
        meta = credentials.require(SUN_META_READ_KEY)
        file_key = credentials.require(SUN_FILE_READ_MASTER_KEY)
        master = True
    result = verify_sun_command(args.url, meta, file_key, args.last_counter, file_key_is_master=master,
                                system_identifier=system_identifier)
    print(json.dumps(result))
    return 0 if result["valid"] else 1


def cmd_card_emulate(args: argparse.Namespace) -> int:
    from .nfc.emulator import main as emulator_main

    return emulator_main(args.emulator_args)


def cmd_central_push(args: argparse.Namespace) -> int:
    from .credentials import STORE_HMAC_KEY, Credentials
    from .fixtures import FixtureError, load, messages, publish

    credentials = Credentials()
    hmac_key = credentials.require_key(STORE_HMAC_KEY) if credentials.get(STORE_HMAC_KEY) else None
    try:
        fixtures = load(args.file, hmac_key=hmac_key)
    except FixtureError as exc:
        print(f"{exc.source}: {len(exc.problems)} problem(s)", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    store = args.store or fixtures.store
    if store is None:
        raise EdgeAgentError("which store? give --store or a store: line in the file")
    outgoing = messages(fixtures, store, batch=args.batch)
    counts = ", ".join(f"{name.replace('_', ' ')} {count}" for name, count in fixtures.counts().items()) or "nothing"
    # With --print, standard output carries only the messages (for a pipe into mosquitto_pub).
    print(f"{args.file}: ok ({counts}) -> {len(outgoing)} message(s) for store {store}",
          file=sys.stderr if args.print else sys.stdout)
    if args.print:
        for message in outgoing:
            print(f"{message.topic} {message.payload.decode()}")
    if args.check or args.print:
        return 0
    publish(outgoing, args.host, args.port, username=credentials.get("central-username"),
            password=credentials.get("central-password"), timeout=args.timeout)
    print(f"published {len(outgoing)} message(s) to {args.host}:{args.port} with QoS 1, all acknowledged")
    return 0


def cmd_camera(args: argparse.Namespace) -> int:
    from .camera.cli import main as camera_main

    return camera_main(args.camera_args)


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    _setup_logging(args.log_level or "INFO")
    return run_demo(config_path=args.config, state_dir=args.state_dir, duration_s=args.duration,
                    broker_port=args.broker_port, kiosk=args.kiosk, kiosk_args=args.kiosk_arg or ())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edge-agent", description="Connected Store edge agent.")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="Run the agent with a configuration file.")
    run.add_argument("--config", "-c", required=True, type=Path, help="TOML configuration file.")
    run.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                     help="Override the configured log level.")
    run.set_defaults(func=cmd_run)

    validate = sub.add_parser("validate-config", help="Check a configuration file; exit 1 listing every mistake.")
    validate.add_argument("file", type=Path, help="TOML configuration file.")
    validate.set_defaults(func=cmd_validate_config)

    contract = sub.add_parser("contract", help="The MQTT contract.")
    contract_sub = contract.add_subparsers(dest="contract_command", required=True)
    asyncapi = contract_sub.add_parser("asyncapi", help="Print the AsyncAPI 3 document generated from the code.")
    asyncapi.add_argument("--output", "-o", type=Path, help="Write to this file instead of standard output.")
    asyncapi.set_defaults(func=cmd_contract_asyncapi)

    card = sub.add_parser("card", help="Card tools for store staff.")
    card_sub = card.add_subparsers(dest="card_command", required=True)
    verify = card_sub.add_parser(
        "verify-sun", help="Check an NTAG 424 DNA SUN URL; prints one JSON object (valid, uid, counter, reason).")
    verify.add_argument("--url", required=True, help="The URL the card gave (picc_data/cmac or e/c parameters).")
    verify.add_argument("--meta-read-key", metavar="HEX", help="SDMMetaReadKey (default: from credentials).")
    verify.add_argument("--file-read-key", metavar="HEX",
                        help="The card's SDMFileReadKey, or with --master the master key it is derived from.")
    verify.add_argument("--master", action="store_true",
                        help="--file-read-key is the master key: derive the card's key (AN10922).")
    verify.add_argument("--last-counter", type=int, default=None,
                        help="Reject the message unless its read counter is above this.")
    verify.add_argument("--config", "-c", type=Path, help="Agent configuration (for the SUN system identifier).")
    verify.set_defaults(func=cmd_card_verify_sun)
    emulate = card_sub.add_parser("emulate", help="Play a card on nfcpy's simulated UDP reader (tests, demo).",
                                  add_help=False)
    emulate.add_argument("emulator_args", nargs=argparse.REMAINDER, help="Arguments of the emulator (--help).")
    emulate.set_defaults(func=cmd_card_emulate)

    central = sub.add_parser("central", help="Tools that play central systems (integrators, demo, tests).")
    central_sub = central.add_subparsers(dest="central_command", required=True)
    push = central_sub.add_parser(
        "push", help="Check a YAML fixtures file against the contract and publish it as central would.",
        description="Sections: catalogue, price_groups, prices, offers, customers, card_links, orders, "
                    "purchase_history (see config/central-fixtures.example.yaml). Every record is checked "
                    "first; nothing is published when one is wrong. A broker login, when needed, comes from "
                    "the credentials central-username and central-password (CS_CENTRAL_USERNAME, "
                    "CS_CENTRAL_PASSWORD); card links given by uid need store-hmac-key (CS_STORE_HMAC_KEY).")
    push.add_argument("file", type=Path, help="YAML fixtures file.")
    push.add_argument("--host", default="localhost", help="Broker host (default localhost).")
    push.add_argument("--port", type=int, default=1883, help="Broker port (default 1883).")
    push.add_argument("--store", help="Store id (default: the file's store:).")
    push.add_argument("--batch", type=int, default=500,
                      help="Records per message for catalogue, price lists, offers and history (default 500).")
    push.add_argument("--check", action="store_true", help="Only check the file; publish nothing.")
    push.add_argument("--print", action="store_true",
                      help="Print each message as 'topic payload' (for mosquitto_pub); publish nothing.")
    push.add_argument("--timeout", type=float, default=30.0, help="Seconds to wait for the broker (default 30).")
    push.set_defaults(func=cmd_central_push)

    camera = sub.add_parser("camera", help="Camera tools: `camera decode IMAGE...` prints what each image holds.",
                            add_help=False)
    camera.add_argument("camera_args", nargs=argparse.REMAINDER, help="Arguments of the camera tool (--help).")
    camera.set_defaults(func=cmd_camera)

    demo = sub.add_parser(
        "demo", help="Run the demo: broker, agent with emulated cards and a demo video, central fixtures, kiosk.",
        description="Starts an embedded broker (unless the configuration names one), the agent with nfcpy's "
                    "simulated reader and the demo cards, a camera fed from generated demo videos, pushes the "
                    "example fixtures and opens the kiosk window (when there is a display). Keys 1-5 or the "
                    "kiosk's demo buttons tap the demo cards (gold, expired, unknown, staff) and hold up the "
                    "demo product.")
    demo.add_argument("--config", "-c", type=Path, default=None,
                      help="Configuration file (default: config/demo.toml of the project).")
    demo.add_argument("--state-dir", type=Path, default=None,
                      help="Where the demo keeps its database (default: a fresh temporary folder).")
    demo.add_argument("--duration", type=float, default=None, help="Stop after this many seconds.")
    demo.add_argument("--broker-port", type=int, default=18830, help="Port of the embedded broker.")
    demo.add_argument("--no-kiosk", dest="kiosk", action="store_false",
                      help="Do not open the kiosk window (without a display it is not opened anyway).")
    demo.add_argument("--kiosk-arg", action="append", metavar="OPTION",
                      help="One more option for the kiosk, e.g. --kiosk-arg=--size=1080x1920 (repeatable).")
    demo.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # `kill -USR1 <pid>` prints every thread's stack to stderr (the journal): for a process that hangs.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"error: {exc.source}:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    except EdgeAgentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
