"""The Debian packages the demo's kiosk window needs, and a one-line message naming the missing ones.

The Python packages come from PyPI (Kivy brings its own SDL2), but a few
libraries come from the system: a desktop Debian or Raspberry Pi OS has them,
a minimal one (a server, a container, a fresh ``debootstrap`` root) does not.
Without them the window fails deep inside Kivy or ffpyplayer with a
traceback; the demo checks first and names what to install instead
(installing system packages is the administrator's step, never the demo's).

:class:`SystemPackage` probes for one package by a binary or a shared
library it provides; the test setup (``tests/support/system.py``) uses the
same probe for the packages the tests need.
"""

from __future__ import annotations

import ctypes
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# Where Debian puts binaries that a user's PATH may not hold (a chroot's, root's without sbin).
_BINARY_DIRS = (Path("/usr/sbin"), Path("/usr/bin"), Path("/sbin"), Path("/bin"))


@dataclass(frozen=True)
class SystemPackage:
    """A Debian package, found by a binary or a shared library it installs.

    :param package: the Debian package's name.
    :param why: what needs it, for the messages.
    :param binary: a program the package installs (found on PATH or in /usr/sbin, /usr/bin).
    :param library: the soname of a shared library the package installs (found by the dynamic loader).
    """

    package: str
    why: str
    binary: str | None = None
    library: str | None = None

    def path(self) -> str | None:
        """Where the package's binary is, or None (also for a package probed by a library)."""
        if self.binary is None:
            return None
        found = shutil.which(self.binary)
        if found:
            return found
        return next((str(folder / self.binary) for folder in _BINARY_DIRS if (folder / self.binary).exists()), None)

    def present(self) -> bool:
        """Whether the package's binary or library is there."""
        if self.binary is not None:
            return self.path() is not None
        if self.library is not None:
            try:
                ctypes.CDLL(self.library)
            except OSError:
                return False
            return True
        raise ValueError(f"{self.package}: a SystemPackage needs a binary or a library to look for")


def missing(packages: Iterable[SystemPackage]) -> list[str]:
    """The names of the ``packages`` that are not there, each once, in order."""
    names: list[str] = []
    for package in packages:
        if package.package not in names and not package.present():
            names.append(package.package)
    return names


def install_command(names: Iterable[str]) -> str:
    """The command that installs Debian packages ``names``."""
    return "apt-get install -y " + " ".join(names)


# The kiosk window: Kivy's SDL2 window draws with OpenGL (libGL, which PyPI wheels leave to the system);
# SDL opens an audio device for a video even when muted; ffpyplayer's FFmpeg links GLib; Kivy probes
# for touchscreens (libmtdev) and the X clipboard (xsel) at every start and logs a traceback without them.
KIOSK_WINDOW = (
    SystemPackage("libgl1", "the kiosk window (OpenGL)", library="libGL.so.1"),
    SystemPackage("libglib2.0-0", "the kiosk's videos (ffpyplayer)", library="libglib-2.0.so.0"),
    SystemPackage("libasound2", "the kiosk's videos (SDL audio, even muted)", library="libasound.so.2"),
    SystemPackage("libmtdev1", "Kivy's touchscreen input", library="libmtdev.so.1"),
    SystemPackage("xsel", "Kivy's X clipboard", binary="xsel"),
)


def kiosk_window_problem() -> str | None:
    """One line naming the Debian packages the kiosk window needs and lacks, or None when it has them all."""
    names = missing(KIOSK_WINDOW)
    if not names:
        return None
    return (f"the kiosk window needs Debian packages that are missing: {' '.join(names)} "
            f"(install them as root: {install_command(names)}; or run the demo with --no-kiosk)")
