"""``edge-agent``: the command line, one argparse tree. A thin layer: it parses arguments, sets up
logging and turns the agent's errors into messages and exit codes.

Every command and every option is in the one tree :func:`build_parser` makes
(``camera decode`` from :mod:`edge_agent.camera.cli`), so ``--help`` at any
level shows them and each option is parsed once. Exit codes are those of
:mod:`edge_agent.problems`: 2 when the input given is invalid (options, a
configuration, a ``central push`` file), 1 when a valid request failed.
Hardware and Kivy libraries are imported by the command that needs them,
so ``edge-agent --help`` and ``validate-config`` run anywhere.
"""

from __future__ import annotations

import argparse
import faulthandler
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from .camera import cli as camera_cli
from .config import load_config
from .content_delivery import cli as content_cli
from .errors import ConfigError, EdgeAgentError
from .problems import EXIT_FAILURE, EXIT_INVALID, EXIT_OK, InvalidInput, Problem, report
from .provisioning import cli as broker_cli
from .redaction import setup_logging

logger = logging.getLogger(__name__)

LOG_FORMAT = "%(asctime)s %(levelname)-7s %(threadName)s %(name)s: %(message)s"
LOG_LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR"]

Handler = Callable[[argparse.Namespace], int]


class UsageError(EdgeAgentError):
    """Options that argparse accepted one by one but that do not go together: reported like argparse's own
    usage errors (the command's usage, exit code 2)."""


def _setup_logging(level: str) -> None:
    # Every handler redacts UIDs and personal fields (edge_agent.redaction), whatever the level.
    setup_logging(level, LOG_FORMAT, sys.stderr)


# --------------------------------------------------------------------------- the commands


def cmd_run(args: argparse.Namespace) -> int:
    """Run the agent until SIGTERM."""
    from .agent import Agent

    config = load_config(args.config)
    _setup_logging(args.log_level or config.logging.level)
    if config.mqtt is None:
        raise ConfigError(str(args.config), [Problem(args.config, None, "mqtt", "the agent needs a broker; "
                                                                               "`edge-agent demo` starts one")])
    Agent(config).run_forever()
    return EXIT_OK


def cmd_validate_config(args: argparse.Namespace) -> int:
    """Check a configuration file; its mistakes are reported by :func:`main`."""
    config = load_config(args.file)
    print(f"{args.file}: ok (store {config.store.id}, device {config.device.id}, hash {config.config_hash()})")
    return EXIT_OK


def cmd_contract_asyncapi(args: argparse.Namespace) -> int:
    """Print or write the AsyncAPI document."""
    from .contract.asyncapi import render_yaml

    text = render_yaml()
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return EXIT_OK


def cmd_card_verify_sun(args: argparse.Namespace) -> int:
    """Verify one SUN URL; 1 when it is not valid."""
    import json

    from .credentials import Credentials
    from .nfc.sun import DEFAULT_SYSTEM_IDENTIFIER, SUN_FILE_READ_MASTER_KEY, SUN_META_READ_KEY, verify_sun_command

    system_identifier = DEFAULT_SYSTEM_IDENTIFIER
    if args.config is not None:
        config = load_config(args.config)
        if config.nfc is not None:
            system_identifier = config.nfc.sun_system_identifier.encode()
    if (args.meta_read_key is None) != (args.file_read_key is None):
        raise UsageError("give both --meta-read-key and --file-read-key, or neither (keys from credentials)")
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
    return EXIT_OK if result["valid"] else EXIT_FAILURE


def cmd_card_emulate(args: argparse.Namespace) -> int:
    """Tap a simulated card on nfcpy's UDP reader, ``--taps`` times."""
    from .nfc.emulator import Card, CardEmulator, Type2Card, Type4Card

    if not args.uid and not args.url:
        raise UsageError("give --uid, --url or both")
    card: Card
    if args.url:
        url = args.url
        card = Type4Card(args.uid or b"\x04" + os.urandom(6), url_for_tap=lambda: url)
    else:
        card = Type2Card(args.uid)
    try:
        emulator = CardEmulator(args.device)
    except (ValueError, OSError) as error:
        raise EdgeAgentError(f"cannot play a card on {args.device}: {error}") from None
    with emulator:
        if not emulator.wait_for_reader(timeout=2.0):
            print(f"no reader polls on {args.device} (yet); tapping anyway")
        for number in range(1, args.taps + 1):
            if number > 1:
                time.sleep(args.gap)
            before = emulator.activations
            emulator.tap(card, hold_s=args.hold)
            seen = "read by a reader" if emulator.activations > before else "no reader activated it"
            kind = "Type 4 (URL)" if isinstance(card, Type4Card) else "Type 2 (UID only)"
            print(f"tap {number}/{args.taps}: {kind} card held {args.hold:g} s on {args.device}: {seen}")
    return EXIT_OK


def cmd_central_push(args: argparse.Namespace) -> int:
    """Check a fixtures file and publish it (or only check, or print it)."""
    from .central_push import load, messages, publish
    from .credentials import STORE_HMAC_KEY, Credentials

    credentials = Credentials()
    hmac_key = credentials.require_key(STORE_HMAC_KEY) if credentials.get(STORE_HMAC_KEY) else None
    fixtures = load(args.file, hmac_key=hmac_key)
    store = args.store or fixtures.store
    if store is None:
        raise UsageError("which store? give --store or a store: line in the file")
    outgoing = messages(fixtures, store, batch=args.batch)
    counts = ", ".join(f"{name.replace('_', ' ')} {count}" for name, count in fixtures.counts().items()) or "nothing"
    # With --print, standard output carries only the messages (for a pipe into mosquitto_pub).
    print(f"{args.file}: ok ({counts}) -> {len(outgoing)} message(s) for store {store}",
          file=sys.stderr if args.print else sys.stdout)
    if args.print:
        for message in outgoing:
            print(f"{message.topic} {message.payload.decode()}")
    if args.check or args.print:
        return EXIT_OK
    publish(outgoing, args.host, args.port, username=credentials.get("central-username"),
            password=credentials.get("central-password"), timeout=args.timeout)
    print(f"published {len(outgoing)} message(s) to {args.host}:{args.port} with QoS 1, all acknowledged")
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the demo until Ctrl-C, the kiosk window closes or ``--duration`` passes."""
    from .demo import run_demo

    _setup_logging(args.log_level or "INFO")
    return run_demo(config_path=args.config, state_dir=args.state_dir, duration_s=args.duration,
                    broker_port=args.broker_port, kiosk=args.kiosk, kiosk_args=args.kiosk_arg or ())


# --------------------------------------------------------------------------- option types


def _uid(text: str) -> bytes:
    try:
        uid = bytes.fromhex(text.replace(":", "").replace(" ", ""))
    except ValueError:
        raise argparse.ArgumentTypeError("must be hex") from None
    if len(uid) not in (4, 7, 10):
        raise argparse.ArgumentTypeError("must be 4, 7 or 10 bytes")
    return uid


def _number(kind: type[int | float], lowest: float, inclusive: bool = True) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value < lowest or (value == lowest and not inclusive):
            raise argparse.ArgumentTypeError(f"must be {'at least' if inclusive else 'more than'} {lowest:g}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its own messages
    return parse


# --------------------------------------------------------------------------- the tree


def _command(sub: argparse._SubParsersAction, name: str, help: str, func: Handler | None = None,
             description: str | None = None) -> argparse.ArgumentParser:
    """A subcommand whose help shows in its parent's list and, with ``description``, on its own ``--help``.

    A command with ``func`` is run by :func:`main`; one without has subcommands of its own.
    """
    parser: argparse.ArgumentParser = sub.add_parser(name, help=help, description=description or help)
    if func is not None:
        parser.set_defaults(func=func, command_parser=parser)
    return parser


def _subcommands(parser: argparse.ArgumentParser, dest: str) -> argparse._SubParsersAction:
    return parser.add_subparsers(dest=dest, required=True, metavar="COMMAND")


def build_parser() -> argparse.ArgumentParser:
    """The whole ``edge-agent`` command line; its epilog lists every command."""
    parser = argparse.ArgumentParser(prog="edge-agent", description="Connected Store edge agent.",
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = _subcommands(parser, "command")

    run = _command(sub, "run", "Run the agent with a configuration file.", cmd_run)
    run.add_argument("--config", "-c", required=True, type=Path, help="TOML configuration file.")
    run.add_argument("--log-level", choices=LOG_LEVELS, help="Override the configured log level.")

    validate = _command(
        sub, "validate-config", f"Check a configuration file; exit {EXIT_INVALID} listing every mistake "
                                "(file:line: key: what).", cmd_validate_config)
    validate.add_argument("file", type=Path, help="TOML configuration file.")

    contract_sub = _subcommands(_command(sub, "contract", "The MQTT contract."), "contract_command")
    asyncapi = _command(contract_sub, "asyncapi", "Print the AsyncAPI 3 document generated from the code.",
                        cmd_contract_asyncapi)
    asyncapi.add_argument("--output", "-o", type=Path, help="Write to this file instead of standard output.")

    card_sub = _subcommands(_command(sub, "card", "Card tools for store staff."), "card_command")
    verify = _command(card_sub, "verify-sun",
                      "Check an NTAG 424 DNA SUN URL; prints one JSON object (valid, uid, counter, reason).",
                      cmd_card_verify_sun)
    verify.add_argument("--url", required=True, help="The URL the card gave (picc_data/cmac or e/c parameters).")
    verify.add_argument("--meta-read-key", metavar="HEX", help="SDMMetaReadKey (default: from credentials).")
    verify.add_argument("--file-read-key", metavar="HEX",
                        help="The card's SDMFileReadKey, or with --master the master key it is derived from.")
    verify.add_argument("--master", action="store_true",
                        help="--file-read-key is the master key: derive the card's key (AN10922).")
    verify.add_argument("--last-counter", type=int, default=None,
                        help="Reject the message unless its read counter is above this.")
    verify.add_argument("--config", "-c", type=Path, help="Agent configuration (for the SUN system identifier).")
    emulate = _command(
        card_sub, "emulate", "Play a card on nfcpy's simulated UDP reader (tests, demo).", cmd_card_emulate,
        description="Tap a simulated card on nfcpy's UDP reader (an agent whose [nfc] device is udp:host:port). "
                    "--uid alone taps a UID-only Type 2 card (NTAG213); --url taps a Type 4 card "
                    "(NTAG 424 DNA-like) whose NDEF URI record is that URL.")
    emulate.add_argument("--device", default="udp:127.0.0.1:54321",
                         help="The reader's device path, udp:host:port (default: %(default)s).")
    emulate.add_argument("--uid", type=_uid,
                         help="The card UID in hex, 4, 7 or 10 bytes (default with --url: random, NXP).")
    emulate.add_argument("--url", help="The URL in the card's NDEF URI record (e.g. a SUN URL).")
    emulate.add_argument("--hold", type=_number(float, 0, inclusive=False), default=0.5, metavar="SECONDS",
                         help="How long the card stays in the field (default: %(default)s).")
    emulate.add_argument("--taps", type=_number(int, 1), default=1, help="How many taps (default: %(default)s).")
    emulate.add_argument("--gap", type=_number(float, 0), default=1.0, metavar="SECONDS",
                         help="Pause between taps (default: %(default)s).")

    central_sub = _subcommands(_command(sub, "central", "Tools that play central systems (integrators, demo, tests)."),
                               "central_command")
    push = _command(
        central_sub, "push", "Check a YAML fixtures file against the contract and publish it as central would.",
        cmd_central_push,
        description="Sections: catalogue, price_groups, prices, offers, customers, card_links, orders, "
                    "purchase_history (see config/central-fixtures.example.yaml). Every record is checked "
                    f"first; nothing is published when one is wrong (exit {EXIT_INVALID}). A broker login, when "
                    "needed, comes from the credentials central-username and central-password "
                    "(CS_CENTRAL_USERNAME, CS_CENTRAL_PASSWORD); card links given by uid need store-hmac-key "
                    "(CS_STORE_HMAC_KEY). Dates may be relative to now, in UTC: today, today+180d, today-2w "
                    "(dates), today+3dT18:00Z, now, now-90min, now+330d (date-times; units s, min, h, d, w).")
    push.add_argument("file", type=Path, help="YAML fixtures file.")
    push.add_argument("--host", default="localhost", help="Broker host (default localhost).")
    push.add_argument("--port", type=int, default=1883, help="Broker port (default 1883).")
    push.add_argument("--store", help="Store id (default: the file's store:).")
    push.add_argument("--batch", type=_number(int, 1), default=500,
                      help="Records per message for catalogue, price lists, offers and history (default 500).")
    push.add_argument("--check", action="store_true", help="Only check the file; publish nothing.")
    push.add_argument("--print", action="store_true",
                      help="Print each message as 'topic payload' (for mosquitto_pub); publish nothing.")
    push.add_argument("--timeout", type=float, default=30.0, help="Seconds to wait for the broker (default 30).")

    camera_cli.add_commands(_subcommands(_command(sub, "camera", "Camera tools for store staff and developers."),
                                         "camera_command"), _command)

    # Content packs from central (edge_agent.content_delivery): central's tools.
    content_cli.add_commands(_subcommands(_command(sub, "content", "Central's tools for content packs: a key, a "
                                                                   "signed manifest, its publication."),
                                          "content_command"), _command)

    broker_cli.add_commands(_subcommands(_command(sub, "broker", "Provision the store broker and central's broker "
                                                                 "(logins, ACL, certificates, bridge)."),
                                         "broker_command"), _command)

    demo = _command(
        sub, "demo", "Run the demo: broker, agent with emulated cards and a demo video, central fixtures, kiosk.",
        cmd_demo,
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
    demo.add_argument("--log-level", choices=LOG_LEVELS, help="Log level (default INFO).")

    parser.epilog = "every command:\n" + "\n".join(
        f"  {' '.join(path):<28} {help}" for path, help, command in walk(parser) if path and is_leaf(command))
    return parser


def walk(parser: argparse.ArgumentParser, path: tuple[str, ...] = (), help: str = ""
         ) -> Iterator[tuple[tuple[str, ...], str, argparse.ArgumentParser]]:
    """``parser`` and every command under it, depth first, as (path of names, help in its parent's list, parser)."""
    yield path, help or parser.description or "", parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
            for name, child in action.choices.items():
                yield from walk(child, (*path, name), helps.get(name, ""))


def is_leaf(parser: argparse.ArgumentParser) -> bool:
    """Whether ``parser`` runs a command (it has no subcommands of its own)."""
    return not any(isinstance(action, argparse._SubParsersAction) for action in parser._actions)


def run_command(argv: list[str] | None = None) -> int:
    """Parse ``argv`` (default: the process's arguments) with the one tree and run the command; the exit code.

    :raises SystemExit: for ``--help`` and for options argparse refuses (code 2).
    """
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except InvalidInput as exc:
        return report(exc, sys.stderr)
    except UsageError as exc:
        command: argparse.ArgumentParser = args.command_parser
        command.error(str(exc))  # exits with argparse's code for usage errors, EXIT_INVALID
    except EdgeAgentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILURE


def main(argv: list[str] | None = None) -> int:
    """The ``edge-agent`` command: :func:`run_command`, with stack dumps on SIGUSR1."""
    # `kill -USR1 <pid>` prints every thread's stack to stderr (the journal): for a process that hangs.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    return run_command(argv)


if __name__ == "__main__":
    sys.exit(main())
