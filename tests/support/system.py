"""The Debian packages the tests need, installed with apt-get when they are missing.

The README's test command must do all the set-up on a fresh Debian 12 that
has only python3, python3-venv and git (``.ci/fresh-debian`` proves it). The
Python packages come from ``.venv``; the rest is here, each with what needs it.
``tests/conftest.py`` calls :func:`ensure_test_packages` once at the start of
a session, before the test files are imported (some decide at import what
they can run). As root the missing packages are installed in one apt-get
call; otherwise the message names them and the tests that need them fail
saying so. ``CS_TESTS_NO_APT=1`` asks for the message instead of apt-get
(a machine whose packages someone else manages).

The probe (a binary on PATH, or a shared library the loader finds) is the
demo's own (:mod:`edge_agent.demo.system_packages`).
"""

from __future__ import annotations

import logging
import os
import subprocess

from edge_agent.demo.system_packages import KIOSK_WINDOW, SystemPackage, install_command, missing

logger = logging.getLogger(__name__)

NO_APT = "CS_TESTS_NO_APT"

TEST_PACKAGES: tuple[SystemPackage, ...] = (
    SystemPackage("mosquitto", "the broker the tests run against", binary="mosquitto"),
    SystemPackage("mosquitto-clients", "the README's mosquitto_pub examples", binary="mosquitto_pub"),
    SystemPackage("xvfb", "the kiosk's virtual display", binary="Xvfb"),
    SystemPackage("xdotool", "real pointer clicks on the kiosk", binary="xdotool"),
    SystemPackage("gettext", "comparing the catalogues with GNU msgfmt", binary="msgfmt"),
    SystemPackage("nodejs", "the AsyncAPI CLI's check of docs/asyncapi.yaml", binary="node"),
    SystemPackage("npm", "the AsyncAPI CLI's check of docs/asyncapi.yaml (npx)", binary="npx"),
    SystemPackage("nginx", "the content server the pack downloads are fetched from", binary="nginx"),
    SystemPackage("curl", "the download benchmark's baseline", binary="curl"),
    *KIOSK_WINDOW,
)


class MissingPackages(RuntimeError):
    """Debian packages the tests need are missing and cannot be installed here."""


def may_install() -> bool:
    """Whether this process installs packages itself: as root, unless ``CS_TESTS_NO_APT`` is set."""
    return os.geteuid() == 0 and not os.environ.get(NO_APT)


def install(names: list[str]) -> None:
    """Install Debian packages ``names`` with apt-get (as root), quietly.

    :raises MissingPackages: when apt-get fails, with its last lines.
    """
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    logger.warning("installing Debian packages the tests need: %s", " ".join(names))
    for command in (["apt-get", "update", "-qq"],
                    ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *names]):
        result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).splitlines()[-15:])
            raise MissingPackages(f"{' '.join(command)} failed ({result.returncode}):\n{tail}")


def ensure_packages(packages: tuple[SystemPackage, ...] | list[SystemPackage]) -> None:
    """Install whichever of ``packages`` are missing.

    :raises MissingPackages: when some are missing and this process may not install them (not root, or
        ``CS_TESTS_NO_APT``), naming them and the command that installs them; or when they are still missing
        afterwards.
    """
    names = missing(packages)
    if not names:
        return
    if not may_install():
        why = "not root" if os.geteuid() != 0 else f"{NO_APT} is set"
        raise MissingPackages(f"the tests need Debian packages that are missing: {' '.join(names)} ({why}; "
                              f"install them with: sudo {install_command(names)})")
    install(names)
    still = missing(packages)
    if still:
        raise MissingPackages(f"still missing after apt-get install: {' '.join(still)}")


def ensure_test_packages() -> None:
    """Install every Debian package the tests need that is missing (see :func:`ensure_packages`)."""
    ensure_packages(TEST_PACKAGES)


def ensure_installed(*packages: str, binary: str) -> str:
    """Path of ``binary``, installing Debian ``packages`` when it is missing.

    :raises MissingPackages: when it is missing and cannot be installed here.
    """
    wanted = [SystemPackage(package, f"{binary}", binary=binary) for package in packages]
    ensure_packages(wanted)
    found = wanted[0].path()
    if found is None:
        raise MissingPackages(f"{binary} still missing after installing {' '.join(packages)}")
    return found
