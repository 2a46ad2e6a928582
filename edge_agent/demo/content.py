"""The demo's content the way a chain delivers it: a signed pack manifest, the pack served over HTTP.

The demo plays central's content side in its own process: a content key made
up per run (its public half in the agent's ``[content] public_keys``), a web
server on loopback serving the demo pack's folder as it is (Python's
``http.server``: no Range support, so a cut download starts again, which the
downloader handles), and the manifest built and signed as ``edge-agent
content build`` does and pushed as ``edge-agent content publish`` does. The
agent fetches, verifies, validates and switches to it; the kiosk window shows
``packs/current``.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .. import central_push
from ..content_control.config import ContentConfig
from ..content_delivery.publishing import build_manifest, outgoing
from ..content_delivery.signing import generate_key, public_key_hex, sign_manifest
from ..contract.payloads_content_delivery import ContentPackManifest

logger = logging.getLogger(__name__)

DEMO_KEY_ID = "demo-content"
#: Releases count minutes from here: always newer than the run before, and short (a run of eight hex digits or
#: more is redacted from the log as if it were a card's UID, edge_agent.redaction).
_RELEASE_EPOCH = 1_767_225_600  # 2026-01-01T00:00:00Z
#: Files of the demo pack's folder that are its tools, not its content.
NOT_CONTENT = ("make_media.py",)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        logger.debug("content server: " + format, *args)


class DemoContentServer:
    """``root`` served on ``http://127.0.0.1:<port>/`` from a thread of the demo process."""

    def __init__(self, root: Path):
        handler = functools.partial(_QuietHandler, directory=str(root))
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, name="demo-content-server", daemon=True)

    def start(self) -> DemoContentServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class DemoContent:
    """Central's content side for the demo: its key, its server, the agent's ``[content]`` section.

    :param pack: the demo pack's folder (served; its parent is the server's root).
    :param state_dir: the demo's state folder (the delivered packs go under ``packs/``).
    """

    def __init__(self, pack: Path, state_dir: Path, key: Ed25519PrivateKey | None = None):
        self.pack = pack
        self.key = key or generate_key()
        self.packs_dir = state_dir / "packs"
        self.server: DemoContentServer | None = None

    def config(self) -> ContentConfig:
        """The agent's ``[content]``: delivered packs under the state folder, the demo key, quick checks."""
        return ContentConfig(folder=self.packs_dir / "current", packs_dir=self.packs_dir, check_s=1,
                             public_keys={DEMO_KEY_ID: public_key_hex(self.key)})

    def publish(self, store: str, host: str, port: int) -> ContentPackManifest:
        """Serve the pack and push its signed manifest (release: minutes since 2026, newer than any before)."""
        if self.server is None:
            self.server = DemoContentServer(self.pack.parent).start()
        release = max(1, int(time.time() - _RELEASE_EPOCH) // 60)
        manifest = sign_manifest(build_manifest(self.pack, version=release,
                                                base_url=f"{self.server.base_url}/{self.pack.name}",
                                                exclude=NOT_CONTENT), self.key, DEMO_KEY_ID)
        model = ContentPackManifest.model_validate(manifest)
        topic, payload = outgoing(model, store)
        central_push.publish([central_push.Outgoing("content-pack", topic, payload, 1)], host, port)
        logger.info("demo content: published pack %s release %d (%d files, %d bytes) from %s", model.pack,
                    model.version, len(model.files), model.total_bytes, self.server.base_url)
        return model

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
