"""Debian's nginx for tests and benchmarks: a static file server on a free loopback port, no root needed.

Central's content server is a plain HTTPS static server (packs by path, the
files named in a signed manifest); the tests put Debian's nginx in its place,
installed when missing (:func:`tests.support.system.ensure_installed`), serving
a temporary folder (:attr:`Nginx.root`) with the server's own Range support
(``206``, ``416``), ``sendfile`` and keep-alive.

It runs unprivileged and leaves the system's nginx alone: every path it
writes is in its own work folder — the prefix (``-p``), the configuration
(``-c``), the early error log (``-e``, before the configuration is read; nginx
>= 1.19.5), the pid file and the five temp folders — and ``daemon off;``
keeps it in the foreground as our subprocess, so stopping it is a SIGTERM to
that process. As root (a CI container) ``user root;`` keeps the workers able
to read pytest's root-only folders (like Mosquitto's ``user root``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Self

from tests.support.mosquitto import free_port, wait_for_port
from tests.support.process import terminate
from tests.support.system import ensure_installed

MIME_TYPES = Path("/etc/nginx/mime.types")


class Nginx:
    """One nginx serving ``root`` on 127.0.0.1.

    :param root: the folder served at ``/`` (created; a folder in the work folder by default).
    :param port: loopback port; a free one by default (kept across restarts).
    :param workdir: its prefix, configuration, logs and temp files (a temporary folder by default).
    :param extra_http: configuration lines added in its ``http`` block (e.g. ``max_ranges 0;``).
    :param location: the directives of its ``location /`` (e.g. ``return 503;``); none: serve the files.
    """

    def __init__(self, root: Path | None = None, port: int | None = None, workdir: Path | None = None,
                 extra_http: str = "", location: str = ""):
        self.binary = ensure_installed("nginx", binary="nginx")
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="nginx-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.root = Path(root or self.workdir / "www")
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.config_path = self.workdir / "nginx.conf"
        self.error_log = self.workdir / "error.log"
        self.access_log = self.workdir / "access.log"
        temp = self.workdir / "temp"
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (temp / name).mkdir(parents=True, exist_ok=True)
        mime = f"include {MIME_TYPES};" if MIME_TYPES.exists() else "types { text/html html; }"
        run_as = "user root;\n" if os.geteuid() == 0 else ""
        self.config_path.write_text(
            f"{run_as}daemon off;\n"
            "worker_processes 1;\n"
            f"pid {self.workdir / 'nginx.pid'};\n"
            f"error_log {self.error_log} info;\n"
            "events { worker_connections 256; }\n"
            "http {\n"
            f"    {mime}\n"
            "    default_type application/octet-stream;\n"
            f"    access_log {self.access_log};\n"
            + "".join(f"    {name}_temp_path {temp / name};\n" for name in ("client_body", "proxy", "fastcgi",
                                                                           "uwsgi", "scgi"))
            + "    sendfile on;\n"
            "    tcp_nopush on;\n"
            "    keepalive_timeout 65;\n"
            "    server_tokens off;\n"
            f"{extra_http}"
            "    server {\n"
            f"        listen 127.0.0.1:{self.port};\n"
            f"        root {self.root};\n"
            f"        location / {{ {location} }}\n"
            "    }\n"
            "}\n")
        self.process: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` (no trailing slash)."""
        return f"http://127.0.0.1:{self.port}"

    def check_config(self) -> None:
        """Run ``nginx -t`` on the configuration.

        :raises RuntimeError: with nginx's output when it refuses it.
        """
        result = subprocess.run(self._command("-t"), capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"nginx -t refused {self.config_path}:\n{result.stderr}")

    def _command(self, *extra: str) -> list[str]:
        return [self.binary, "-p", f"{self.workdir}/", "-e", str(self.error_log), "-c", str(self.config_path),
                *extra]

    def start(self) -> Self:
        """Start it (no-op when running); returns once the port accepts connections.

        :raises RuntimeError: with the error log when nginx exits at start.
        """
        if self.process is not None and self.process.poll() is None:
            return self
        with open(self.workdir / "nginx.stderr", "ab") as stderr:
            self.process = subprocess.Popen(self._command(), stdout=subprocess.DEVNULL, stderr=stderr)
        try:
            wait_for_port(self.port)
        except TimeoutError:
            code = terminate(self.process)
            raise RuntimeError(f"nginx did not listen on {self.port} (exit {code}):\n{self.log()[-2000:]}") from None
        return self

    def stop(self) -> None:
        """Stop it (SIGTERM: nginx's fast shutdown)."""
        terminate(self.process)
        self.process = None

    def log(self) -> str:
        """What nginx wrote to its error log so far."""
        return self.error_log.read_text() if self.error_log.exists() else ""

    def requests(self) -> list[str]:
        """The access log's lines so far (one per request)."""
        return self.access_log.read_text().splitlines() if self.access_log.exists() else []

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
