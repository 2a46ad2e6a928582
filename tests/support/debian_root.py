"""Fresh Debian 12 roots for the installer's tests: debootstrap once, a copy per test, commands by chroot.

The base is a ``minbase`` bookworm root with python3, python3-venv and ca-certificates (what a Raspberry Pi
OS Lite or Debian 12 image has before our installer runs; ``.ci/fresh-debian`` makes the same kind of
root), made with debootstrap from the mirror this machine's apt uses. It is made once and kept across
test runs in ``$CS_DEBIAN_ROOT_CACHE`` (default ``/var/tmp/connected-store-roots``): a few minutes the
first time, then reused untouched. A lock keeps two sessions from making it at once.

Each test gets a copy (``cp -a``) with this machine's apt sources, DNS and local certificate
authorities (the mirror may be reachable only through the configured proxies), a ``policy-rc.d`` that
keeps package scripts from starting daemons in the chroot (a Mosquitto there would listen on this
machine's loopback), and /proc, /sys, /dev and /dev/pts bind-mounted; the .deb files apt fetches are
kept in the cache's ``apt-archives`` for the next copy and the next run. Everything needs root
(debootstrap, mount, chroot).
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import shutil
import subprocess
from pathlib import Path

from tests.support.system import MissingPackages, ensure_installed

logger = logging.getLogger(__name__)

CACHE = Path(os.environ.get("CS_DEBIAN_ROOT_CACHE", "/var/tmp/connected-store-roots"))
SUITE = "bookworm"
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates")
_COMPLETE = ".connected-store-base-complete"
_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class RootError(Exception):
    """A fresh root cannot be made or used here; the message says why."""


def mirror() -> str:
    """The Debian mirror this machine's apt uses for bookworm (deb822 or one-line sources)."""
    texts = [path.read_text(encoding="utf-8", errors="replace")
             for path in [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
             if path.suffix in (".list", ".sources", "") and path.is_file()]
    uri = None
    for line in "\n".join(texts).splitlines():
        if line.startswith("URIs:"):
            uri = line.split()[1]
        elif line.startswith("Suites:") and re.search(rf"\s{SUITE}(\s|$)", line) and uri:
            return uri
        elif line.startswith("deb ") and len(line.split()) > 2 and line.split()[2] == SUITE:
            return line.split()[1]
    return "http://deb.debian.org/debian"


def base_root(cache: Path = CACHE) -> Path:
    """The cached minbase bookworm root, made by debootstrap when it is not there yet.

    :raises RootError: not root, or no debootstrap, or debootstrap failed (its output in the message).
    """
    if os.geteuid() != 0:
        raise RootError("the installer tests need root (debootstrap, mount, chroot)")
    base = cache / f"{SUITE}-minbase"
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (base / _COMPLETE).is_file():
            return base
        try:
            ensure_installed("debootstrap", binary="debootstrap")
        except MissingPackages as exc:
            raise RootError(str(exc)) from None
        partial = cache / f"{SUITE}-minbase.partial"
        shutil.rmtree(partial, ignore_errors=True)
        logger.info("debootstrap: a minbase %s root in %s (a few minutes)", SUITE, base)
        result = subprocess.run(["debootstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}", SUITE,
                                 str(partial), mirror()], capture_output=True, text=True)
        if result.returncode != 0:
            raise RootError(f"debootstrap failed (exit {result.returncode}):\n{result.stdout[-3000:]}"
                            f"{result.stderr[-3000:]}")
        (partial / _COMPLETE).write_text(f"{SUITE} minbase with {' '.join(BASE_PACKAGES)}\n", encoding="utf-8")
        shutil.rmtree(base, ignore_errors=True)
        partial.rename(base)
        return base


class Chroot:
    """A copy of the base root at ``path``, ready for chroot; :meth:`close` undoes its mounts."""

    def __init__(self, path: Path, base: Path, cache: Path = CACHE):
        self.path = path
        self._mounts: list[Path] = []
        if path.exists():
            shutil.rmtree(path)
        subprocess.run(["cp", "-a", "--reflink=auto", str(base), str(path)], check=True)
        (path / _COMPLETE).unlink(missing_ok=True)
        try:
            self._prepare(cache)
        except BaseException:
            self.close()
            raise

    def _prepare(self, cache: Path) -> None:
        root = self.path
        if Path("/etc/apt/sources.list").is_file():
            shutil.copy2("/etc/apt/sources.list", root / "etc/apt/sources.list")
        for source in sorted(Path("/etc/apt/sources.list.d").glob("*")):
            if source.suffix in (".list", ".sources"):
                shutil.copy2(source, root / "etc/apt/sources.list.d" / source.name)
        shutil.copy(Path("/etc/resolv.conf").resolve(), root / "etc/resolv.conf")
        extra_cas = sorted(Path("/usr/local/share/ca-certificates").glob("*.crt"))
        for certificate in extra_cas:
            shutil.copy2(certificate, root / "usr/local/share/ca-certificates" / certificate.name)
        # Package scripts must not start daemons here (invoke-rc.d asks policy-rc.d; 101: not allowed).
        policy = root / "usr/sbin/policy-rc.d"
        policy.write_text("#!/bin/sh\nexit 101\n", encoding="utf-8")
        policy.chmod(0o755)
        for name in ("proc", "sys", "dev", "dev/pts"):
            self.bind(Path("/") / name, Path("/") / name)
        archives = cache / "apt-archives"
        (archives / "partial").mkdir(parents=True, exist_ok=True)
        self.bind(archives, Path("/var/cache/apt/archives"))
        if extra_cas:
            self.run("update-ca-certificates >/dev/null")

    def bind(self, source: Path, inside: Path, read_only: bool = False) -> Path:
        """Bind-mount ``source`` at ``inside`` (a path in the root); returns the path on this machine."""
        target = self.path / str(inside).lstrip("/")
        target.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", "--bind", str(source), str(target)], check=True)
        self._mounts.append(target)
        if read_only:
            subprocess.run(["mount", "-o", "remount,bind,ro", str(target)], check=True)
        return target

    def run(self, command: str, check: bool = True, timeout: float = 1800) -> subprocess.CompletedProcess:
        """``command`` by bash in the root, with a clean environment; stdout and stderr together."""
        result = subprocess.run(["chroot", str(self.path), "/usr/bin/env", "-i", "HOME=/root", "LANG=C.UTF-8",
                                 "TERM=dumb", f"PATH={_PATH}", "bash", "-c", command],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"in the root: {command!r} exited {result.returncode}:\n{result.stdout[-6000:]}")
        return result

    def file(self, inside: str) -> Path:
        """The path on this machine of ``inside``, a path in the root."""
        return self.path / inside.lstrip("/")

    def close(self) -> None:
        """Unmount what was mounted (innermost first) and remove the copy."""
        for target in reversed(self._mounts):
            if subprocess.run(["umount", str(target)], capture_output=True).returncode != 0:
                subprocess.run(["umount", "-l", str(target)], capture_output=True)
        self._mounts.clear()
        # Never remove a tree that still has something mounted in it (rm would walk into /dev or /proc).
        mounted = Path("/proc/self/mounts").read_text().split()
        if not any(entry.startswith(str(self.path) + "/") for entry in mounted):
            shutil.rmtree(self.path, ignore_errors=True)
