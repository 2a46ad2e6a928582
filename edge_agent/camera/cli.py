"""``edge-agent camera …``: camera tools for store staff and developers.

``edge-agent camera decode IMAGE…`` prints one JSON line per image::

    {"path": "shelf.jpg", "codes": [{"format": "ean-13", "text": "8711000000000"}]}

with an empty list when nothing was found. An image that cannot be read gets
``{"path": …, "error": …}``; the exit code is then 1, after every image.

The commands are part of the one ``edge-agent`` argparse tree
(:mod:`edge_agent.cli`); :func:`add_commands` adds them there.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

from .barcodes import DEFAULT_FORMATS, FORMATS


def _formats(text: str) -> tuple[str, ...]:
    if text == "all":
        return tuple(FORMATS)
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in names if name not in FORMATS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown format(s) {', '.join(unknown) or '(none)'}; "
                                         f"choose from {', '.join(FORMATS)} or 'all'")
    return names


def add_commands(sub: argparse._SubParsersAction, command: Callable[..., argparse.ArgumentParser]) -> None:
    """Add the ``camera`` commands (``decode``) to ``edge-agent camera``'s subcommands ``sub``.

    :param command: makes one subcommand, as :func:`edge_agent.cli._command` (name, help, handler).
    """
    decode = command(sub, "decode", "Decode barcodes and QR codes in image files; one JSON line per image.",
                     cmd_decode)
    decode.add_argument("images", nargs="+", metavar="IMAGE", help="Image files (PNG, JPEG, WebP, BMP, TIFF…).")
    decode.add_argument("--formats", type=_formats, default=DEFAULT_FORMATS,
                        help=f"Comma-separated formats, or 'all' (default: {','.join(DEFAULT_FORMATS)}).")
    decode.add_argument("--no-enhance", dest="enhance", action="store_false",
                        help="Skip the second, contrast-equalised pass on images without a code.")


def cmd_decode(args: argparse.Namespace) -> int:
    """Decode each image; 1 when any could not be read."""
    from .barcodes import BarcodeReader, one_opencv_thread, quiet_opencv

    # OpenCV would also log its own complaint about an undecodable file to stderr;
    # the JSON line says it already.
    quiet_opencv()
    one_opencv_thread()  # single images are small: OpenCV's pool costs more CPU than it saves
    reader = BarcodeReader(args.formats, enhance=args.enhance)
    failed = False
    for path in args.images:
        try:
            codes = reader.decode_file(path)
        except OSError as exc:
            failed = True
            reason = exc.strerror if exc.strerror else str(exc)
            print(json.dumps({"path": path, "error": reason}, ensure_ascii=False), flush=True)
            continue
        print(json.dumps({"path": path, "codes": [code.as_dict() for code in codes]}, ensure_ascii=False),
              flush=True)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    """Run ``edge-agent camera`` with ``argv`` (without the ``camera`` word itself)."""
    from ..cli import run_command

    return run_command(["camera", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
