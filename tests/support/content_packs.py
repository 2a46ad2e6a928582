"""Content packs for the delivery tests and benchmarks: pack folders, central's content key, signed manifests.

A pack here is what central would publish: a folder the kiosk's validation
accepts (:func:`kiosk.content.load_pack`), copied into the test's web server
(:class:`tests.support.nginx.Nginx`) and announced by a manifest that
``edge-agent content build`` would write (:func:`edge_agent.content_delivery.publishing.build_manifest`),
signed with a key made for the test run.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge_agent.content_delivery.publishing import build_manifest
from edge_agent.content_delivery.signing import public_key_hex, sign_manifest
from tests.test_kiosk_screens import png

#: Central's content key for the tests (a new one per run) and its id in the agents' configuration.
KEY = Ed25519PrivateKey.generate()
KEY_ID = "content-1"
#: A key central once used and the agents never held.
STRANGER = Ed25519PrivateKey.generate()


def content_section(packs_dir: Path, extra: str = "", download: str = "", keys: dict[str, str] | None = None) -> str:
    """The agent's ``[content]`` section for delivered packs in ``packs_dir`` (fast retries), plus ``extra``."""
    keys = keys if keys is not None else {KEY_ID: public_key_hex(KEY)}
    key_lines = "".join(f'{key_id} = "{hex_key}"\n' for key_id, hex_key in keys.items())
    return (f'[content]\nfolder = "{packs_dir / "current"}"\npacks_dir = "{packs_dir}"\ncheck_s = 0.5\n{extra}'
            f"[content.public_keys]\n{key_lines}"
            f"[content.download]\nbackoff_min_s = 0.1\nbackoff_max_s = 0.5\nretries = 40\n{download}")


def write_pack(folder: Path, pack: str = "winkel", version: str = "1", colour: tuple[int, int, int] = (40, 120, 60),
               video_bytes: int = 4096, caption: str = "Welkom") -> Path:
    """A pack of one image and one video (random bytes of ``video_bytes``: validated, not played)."""
    (folder / "attract").mkdir(parents=True, exist_ok=True)
    (folder / "videos").mkdir(exist_ok=True)
    png(folder / "attract" / "welkom.png", 320, 180, colour, (20, 20, 20))
    with open(folder / "videos" / "uitleg.mp4", "wb") as handle:
        remaining = video_bytes
        while remaining > 0:
            block = os.urandom(min(remaining, 1 << 20))
            handle.write(block)
            remaining -= len(block)
    (folder / "content.yaml").write_text(
        f'pack: {pack}\nversion: "{version}"\nattract:\n'
        f'  - id: welkom\n    image: attract/welkom.png\n    seconds: 8\n    caption: {{nl: "{caption}"}}\n'
        f'  - id: uitleg\n    video: videos/uitleg.mp4\n    seconds: 20\n')
    return folder


def serve(pack_folder: Path, web_root: Path, name: str) -> Path:
    """Copy a pack folder into the web server's root under ``name``; the copy."""
    target = web_root / name
    shutil.copytree(pack_folder, target)
    return target


def signed(folder: Path, version: int, base_url: str, key: Ed25519PrivateKey = KEY, key_id: str = KEY_ID,
           **options: Any) -> dict[str, Any]:
    """The signed manifest of the pack in ``folder``, as ``edge-agent content build`` makes it."""
    return sign_manifest(build_manifest(folder, version=version, base_url=base_url, **options), key, key_id)
