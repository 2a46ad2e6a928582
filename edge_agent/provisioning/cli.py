"""``edge-agent broker …``: provisioning the store broker and central's broker for the bridges.

::

    edge-agent broker provision --store store-0042 --devices kiosk-1,shelf-3 --lan-address 192.168.42.2 \\
        --out DIR [--hostname broker.store-0042.local] [--central-address central.example:8883] \\
        [--central-ca CENTRAL_DIR] [--etc /etc/mosquitto] [--port 1883] [--tls-port 8883]
    edge-agent broker central --address 10.0.0.5 --stores store-0042,store-0043 --out CENTRAL_DIR \\
        [--hostname central.example] [--etc /etc/mosquitto] [--port 1883] [--tls-port 8883]
    edge-agent broker revoke --central CENTRAL_DIR --cert STORE_DIR/mosquitto/certs/bridge.pem
    edge-agent broker examples --out config/mosquitto [--docs docs/broker.md]

What each writes is in :mod:`.store_broker` and :mod:`.central_broker`. The commands are part of the one
``edge-agent`` argparse tree (:mod:`edge_agent.cli`); :func:`add_commands` adds them there.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import EdgeAgentError
from ..problems import EXIT_OK

if TYPE_CHECKING:
    from .plan import Device


def _devices(text: str) -> tuple[Device, ...]:
    from .plan import parse_devices

    try:
        return parse_devices(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _stores(text: str) -> list[str]:
    return [store.strip() for store in text.split(",") if store.strip()]


def add_commands(sub: argparse._SubParsersAction, command: Callable[..., argparse.ArgumentParser]) -> None:
    """Add ``provision``, ``central`` and ``revoke`` to ``edge-agent broker``'s subcommands ``sub``.

    :param command: makes one subcommand, as :func:`edge_agent.cli._command` (name, help, handler, description).
    """
    provision = command(
        sub, "provision", "Provision a store broker: logins, ACL from the contract, certificates, config, bridge.",
        cmd_provision,
        description="Write into --out what the store's Mosquitto and devices need: per-device logins "
                    "(PBKDF2-SHA512 password file, credentials folders), the ACL of every login generated from "
                    "the contract, a store CA and the broker's server certificate, the broker configuration "
                    "(loopback and the LAN address only) and the TLS bridge to central (signed with "
                    "--central-ca, or waiting in pending/ with a signing request). Run again to add or drop "
                    "devices: existing passwords and certificates are kept.")
    provision.add_argument("--store", required=True, help="Store id (e.g. store-0042).")
    provision.add_argument("--devices", required=True, type=_devices, metavar="ID[:KIND],…",
                           help="The store's devices, e.g. kiosk-1,shelf-3 or entrance:kiosk (kind kiosk or shelf; "
                                "by default the id's first word).")
    provision.add_argument("--lan-address", required=True, help="The broker's address on the store LAN.")
    provision.add_argument("--hostname", default="", help="The broker's LAN host name (default broker.<store>.local).")
    provision.add_argument("--central-address", default="central.example.invalid:8883",
                           help="host:port of central's broker (default: %(default)s).")
    provision.add_argument("--central-ca", type=Path, metavar="DIR",
                           help="Central's folder (edge-agent broker central) to sign the bridge's certificate.")
    provision.add_argument("--etc", default="/etc/mosquitto",
                           help="Where the files go on the broker, as written in its config (default: %(default)s).")
    provision.add_argument("--port", type=int, default=1883, help="Loopback port (default %(default)s).")
    provision.add_argument("--tls-port", type=int, default=8883, help="LAN TLS port (default %(default)s).")
    provision.add_argument("--out", required=True, type=Path, help="Folder to write (created; kept across runs).")

    central = command(
        sub, "central", "Provision central's broker for the stores' bridges: CA, certificate, ACL, CRL.",
        cmd_central)
    central.add_argument("--address", required=True, help="The address of central's TLS listener.")
    central.add_argument("--hostname", default="", help="Central's host name (in its certificate).")
    central.add_argument("--stores", type=_stores, default=[], metavar="ID,…", help="The stores bridged in.")
    central.add_argument("--etc", default="/etc/mosquitto", help="Where the files go (default: %(default)s).")
    central.add_argument("--port", type=int, default=1883, help="Loopback port (default %(default)s).")
    central.add_argument("--tls-port", type=int, default=8883, help="TLS port (default %(default)s).")
    central.add_argument("--out", required=True, type=Path, help="Folder to write (created; kept across runs).")

    revoke = command(sub, "revoke", "Revoke a store's bridge certificate in central's CRL.", cmd_revoke)
    revoke.add_argument("--central", required=True, type=Path, metavar="DIR", help="Central's folder.")
    revoke.add_argument("--cert", required=True, type=Path, help="The bridge certificate (PEM) to revoke.")

    examples = command(sub, "examples", "Write the example store's generated files (the project's config/mosquitto).",
                       cmd_examples)
    examples.add_argument("--out", required=True, type=Path, help="Folder to write (config/mosquitto).")
    examples.add_argument("--docs", type=Path, metavar="FILE",
                          help="Also refresh the roles table in this document (docs/broker.md).")


def cmd_provision(args: argparse.Namespace) -> int:
    """Provision a store broker into ``--out``."""
    from .central_broker import load_central_ca
    from .plan import StorePlan
    from .store_broker import provision_store

    try:
        plan = StorePlan(args.store, args.devices, lan_address=args.lan_address, hostname=args.hostname,
                         central_address=args.central_address, port=args.port, tls_port=args.tls_port, etc=args.etc)
        central_ca = load_central_ca(args.central_ca) if args.central_ca else None
        done = provision_store(plan, args.out, central_ca=central_ca)
    except ValueError as error:
        raise EdgeAgentError(str(error)) from None
    print(f"store {plan.store}: {len(plan.devices)} device(s), {len(plan.logins)} login(s) written to {args.out}")
    print("bridge to central: " + ("ready (mosquitto/conf.d/central-bridge.conf)" if done.bridge_ready else
                                   "waiting for its certificate: have central sign mosquitto/certs/bridge.csr, "
                                   "or run again with --central-ca"))
    return EXIT_OK


def cmd_central(args: argparse.Namespace) -> int:
    """Provision central's broker into ``--out``."""
    from .central_broker import provision_central

    try:
        provision_central(args.out, address=args.address, hostname=args.hostname, stores=args.stores,
                          port=args.port, tls_port=args.tls_port, etc=args.etc)
    except ValueError as error:
        raise EdgeAgentError(str(error)) from None
    print(f"central broker for {len(args.stores)} store(s) written to {args.out}")
    return EXIT_OK


def cmd_revoke(args: argparse.Namespace) -> int:
    """Add a bridge certificate to central's CRL."""
    from .central_broker import revoke

    try:
        serials = revoke(args.central, args.cert)
    except (ValueError, OSError) as error:
        raise EdgeAgentError(str(error)) from None
    print(f"{args.cert}: revoked; central's CRL lists {len(serials)} certificate(s); restart central's broker")
    return EXIT_OK


def cmd_examples(args: argparse.Namespace) -> int:
    """Write the shipped example files."""
    from .examples import with_roles_table, write_examples

    for path in write_examples(args.out):
        print(f"wrote {path}")
    if args.docs:
        try:
            args.docs.write_text(with_roles_table(args.docs.read_text()))
        except (ValueError, OSError) as error:
            raise EdgeAgentError(f"{args.docs}: {error}") from None
        print(f"wrote the roles table in {args.docs}")
    return EXIT_OK
