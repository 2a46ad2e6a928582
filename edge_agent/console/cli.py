"""``store-console``: run the store console, or check its configuration.

``store-console run --config /etc/connected-store/console.toml`` connects to the store broker with the
console's login (``mqtt-username`` / ``mqtt-password`` from ``$CREDENTIALS_DIRECTORY`` or the environment,
as for the agent) and serves HTTPS on every ``[https] listen`` address with the configured certificate.
``store-console validate-config FILE`` lists every mistake of a file (file:line: key: what).
"""

from __future__ import annotations

import argparse
import logging
import socket
import sys
from pathlib import Path

import uvicorn

from ..credentials import MQTT_PASSWORD, MQTT_USERNAME, Credentials
from ..errors import EdgeAgentError
from ..problems import InvalidInput, report
from ..redaction import setup_logging
from .config import ConsoleConfig, load_console_config
from .service import Console
from .web import build_app

logger = logging.getLogger(__name__)


def bind(address: str) -> socket.socket:
    """A listening socket on ``host:port`` (IPv6 when the host has a colon)."""
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Inherited by every accepted connection (Linux): a response's TLS records leave at once, not after the
    # client's delayed ACK (~40 ms per page without it, measured by bench/console_load.py).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, int(port)))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def serve(config: ConsoleConfig, credentials: Credentials | None = None) -> None:
    """Run the console until interrupted (SIGINT/SIGTERM)."""
    credentials = credentials or Credentials()
    console = Console(config, credentials.get(MQTT_USERNAME), credentials.get(MQTT_PASSWORD))
    sockets = [bind(address) for address in config.https.listen]
    server = uvicorn.Server(uvicorn.Config(
        build_app(console), ssl_certfile=str(config.https.cert_file), ssl_keyfile=str(config.https.key_file),
        log_level="warning", access_log=False, proxy_headers=False, server_header=False, lifespan="off"))
    console.start()
    logger.info("store console of %s on %s", config.store.id, ", ".join(config.https.listen))
    try:
        server.run(sockets=sockets)
    finally:
        console.stop()


def main(argv: list[str] | None = None) -> int:
    """The ``store-console`` command."""
    parser = argparse.ArgumentParser(prog="store-console", description="The store console (web, store LAN).")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = sub.add_parser("run", help="Run the console with a configuration file.")
    run.add_argument("--config", "-c", required=True, type=Path, help="TOML configuration file.")
    run.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    check = sub.add_parser("validate-config", help="Check a configuration file, listing every mistake.")
    check.add_argument("file", type=Path, help="TOML configuration file.")
    args = parser.parse_args(argv)
    try:
        if args.command == "validate-config":
            load_console_config(args.file)
            print(f"{args.file}: ok")
            return 0
        # As the agent's: the handler redacts UIDs and personal fields at every level (edge_agent.redaction).
        setup_logging(args.log_level, "%(asctime)s %(levelname)s %(name)s: %(message)s", sys.stderr)
        serve(load_console_config(args.config))
        return 0
    except InvalidInput as exc:
        return report(exc, sys.stderr)
    except EdgeAgentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
