"""``edge-agent content``: central's tools for content packs: a key, a signed manifest, its publication.

A thin layer over :mod:`.publishing` and :mod:`.signing`; mistakes come back
as :class:`~edge_agent.errors.EdgeAgentError` and the CLI prints them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from ..errors import EdgeAgentError

EXIT_OK = 0


def add_commands(sub: argparse._SubParsersAction, command: Callable[..., argparse.ArgumentParser]) -> None:
    """Add ``keygen``, ``build`` and ``publish`` to ``edge-agent content``'s subcommands ``sub``.

    :param command: makes one subcommand, as :func:`edge_agent.cli._command` (name, help, handler).
    """
    keygen = command(sub, "keygen", "Make a content key: the private key file for central, the public key for "
                                    "the agents' [content] public_keys.", cmd_keygen)
    keygen.add_argument("key", type=Path, help="The private key file to write (PEM; never overwritten).")
    keygen.add_argument("--key-id", default="content-1", help="The key's id in the agents' configuration.")

    build = command(sub, "build", "Check a pack folder with the kiosk's validation, list its files (size, sha256, "
                                  "media type) and sign the manifest.", cmd_build)
    build.add_argument("folder", type=Path, help="The pack folder (content.yaml and its media).")
    build.add_argument("--key", type=Path, required=True, help="The content key (PEM, from `content keygen`).")
    build.add_argument("--key-id", default="content-1", help="The key's id (default content-1).")
    build.add_argument("--version", type=int, required=True,
                       help="Central's release number: above the one of every pack published before.")
    build.add_argument("--base-url", required=True, help="Where the folder is served: each file at BASE/path.")
    build.add_argument("--activate-at", type=datetime.fromisoformat,
                       help="When it becomes active, with its UTC offset (default: as soon as it is ready).")
    build.add_argument("--end", type=datetime.fromisoformat, help="When it stops (default: until replaced).")
    build.add_argument("--store", action="append", dest="stores", help="For this store only (repeatable).")
    build.add_argument("--device-kind", action="append", dest="device_kinds", choices=["kiosk", "shelf", "gateway"],
                       help="For this kind of device only (repeatable).")
    build.add_argument("--orientation", action="append", dest="orientations", choices=["landscape", "portrait"],
                       help="For screens of this orientation only (repeatable).")
    build.add_argument("--exclude", action="append", default=[], metavar="PATTERN",
                       help="Leave out paths matching this fnmatch pattern, e.g. make_media.py (repeatable).")
    build.add_argument("--output", "-o", type=Path, help="Write the manifest here (default: standard output).")

    publish = command(sub, "publish", "Publish a signed manifest on a store's content-pack topic, as central.",
                      cmd_publish)
    publish.add_argument("manifest", type=Path, help="The manifest (JSON, from `content build`).")
    publish.add_argument("--store", required=True, help="The store id.")
    publish.add_argument("--host", default="localhost", help="Broker host (default localhost).")
    publish.add_argument("--port", type=int, default=1883, help="Broker port (default 1883).")
    publish.add_argument("--print", action="store_true",
                         help="Print a mosquitto_pub command line that publishes it; publish nothing.")
    publish.add_argument("--timeout", type=float, default=30.0, help="Seconds to wait for the broker (default 30).")


def cmd_keygen(args: argparse.Namespace) -> int:
    """Write a new content key and print its public half."""
    from .signing import generate_key, public_key_hex, write_private_key

    key = generate_key()
    try:
        write_private_key(key, args.key)
    except FileExistsError:
        raise EdgeAgentError(f"{args.key} exists: a key is never overwritten") from None
    print(f"wrote {args.key}; in each agent's configuration:\n\n[content.public_keys]\n"
          f"{args.key_id} = \"{public_key_hex(key)}\"")
    return EXIT_OK


def cmd_build(args: argparse.Namespace) -> int:
    """Build and sign the manifest of a pack folder."""
    from .publishing import build_signed, write_manifest

    try:
        manifest = build_signed(args.folder, args.key, args.key_id, version=args.version, base_url=args.base_url,
                                activate_at=args.activate_at, end=args.end, stores=args.stores,
                                device_kinds=args.device_kinds, orientations=args.orientations,
                                exclude=args.exclude)
    except ValueError as exc:
        raise EdgeAgentError(str(exc)) from None
    total = sum(item["size"] for item in manifest["files"])
    summary = (f"{args.folder}: pack {manifest['pack']} {manifest['pack_version']}, release {manifest['version']}, "
               f"{len(manifest['files'])} files, {total} bytes, signed with {args.key_id}")
    if args.output is not None:
        write_manifest(manifest, args.output)
        print(f"{summary} -> {args.output}")
    else:
        import json

        print(summary, file=sys.stderr)
        print(json.dumps(manifest, indent=2, ensure_ascii=False))
    return EXIT_OK


def cmd_publish(args: argparse.Namespace) -> int:
    """Publish a manifest (or print the mosquitto_pub command line that would)."""
    from ..central_push import Outgoing, publish
    from ..credentials import Credentials
    from .publishing import mosquitto_pub_command, outgoing, read_manifest

    manifest = read_manifest(args.manifest)
    topic, payload = outgoing(manifest, args.store)
    if args.print:
        print(mosquitto_pub_command(topic, payload, args.host, args.port))
        return EXIT_OK
    credentials = Credentials()
    publish([Outgoing("content-pack", topic, payload, 1)], args.host, args.port,
            username=credentials.get("central-username"), password=credentials.get("central-password"),
            timeout=args.timeout)
    print(f"published pack {manifest.pack} release {manifest.version} to {topic} on {args.host}:{args.port}, "
          "acknowledged")
    return EXIT_OK
