"""The versions the device checks show: the agent's, the contract's, Python's, SQLite's and those of the
libraries the agent relies on, as installed (``importlib.metadata``), read once per process."""

from __future__ import annotations

import functools
import platform
import sqlite3
from importlib.metadata import PackageNotFoundError, version

from .. import __version__
from ..contract import ROOT
from ..contract.payloads_device_checks import Versions

# The distributions whose version a support call asks for first: the MQTT client, the card reader, the camera,
# the database layer, the contract's validation, and the kiosk's toolkit (installed beside the agent).
LIBRARIES: tuple[str, ...] = ("paho-mqtt", "nfcpy", "ndeflib", "opencv-python-headless", "opencv-python",
                              "zxing-cpp", "sqlite-utils", "pydantic", "cryptography", "kivy")


@functools.cache
def versions() -> Versions:
    """What runs here; a library that is not installed is left out."""
    found = {}
    for name in LIBRARIES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return Versions(agent=__version__, contract=ROOT.rsplit("/", 1)[-1], python=platform.python_version(),
                    sqlite=sqlite3.sqlite_version, libraries=found)
