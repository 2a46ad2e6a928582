"""The installer tests' wheelhouse (tests/support/wheelhouse.py) re-packs what the test venv installed: also a
package pip installed the legacy way (an ``.egg-info``, no ``.dist-info``), as Debian 12's pip 23.0 does for
nfcpy's pyDes when the venv has no ``wheel`` package (the debootstrap root's venv)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from importlib import metadata

import pytest

from tests.support.wheelhouse import repack


def legacy_install(site, files: dict[str, str]) -> metadata.Distribution:
    egg_info = site / "oldpkg-2.0.1.egg-info"
    egg_info.mkdir(parents=True)
    for name, text in files.items():
        (site / name).write_text(text)
    (egg_info / "PKG-INFO").write_text("Metadata-Version: 1.1\nName: oldpkg\nVersion: 2.0.1\nSummary: old\n")
    (egg_info / "top_level.txt").write_text("oldpkg\n")
    (egg_info / "installed-files.txt").write_text(
        "\n".join([*(f"../{name}" for name in files), "PKG-INFO", "top_level.txt", "installed-files.txt"]) + "\n")
    return metadata.PathDistribution(egg_info)


def test_a_legacy_egg_info_install_is_repacked_into_a_wheel_pip_installs(tmp_path):
    distribution = legacy_install(tmp_path / "site", {"oldpkg.py": "ANSWER = 42\n"})
    (tmp_path / "wheels").mkdir()
    wheel = repack(distribution, tmp_path / "wheels")
    assert wheel.name == "oldpkg-2.0.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        assert {"oldpkg.py", "oldpkg-2.0.1.dist-info/METADATA", "oldpkg-2.0.1.dist-info/WHEEL",
                "oldpkg-2.0.1.dist-info/RECORD"} <= names
        assert not any(".egg-info/" in name for name in names)
    target = tmp_path / "target"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--target", str(target),
                    str(wheel)], check=True)
    assert (target / "oldpkg.py").read_text() == "ANSWER = 42\n"
    assert (target / "oldpkg-2.0.1.dist-info" / "METADATA").is_file()


def test_a_legacy_install_with_compiled_files_is_refused_with_its_name(tmp_path):
    distribution = legacy_install(tmp_path / "site", {"oldpkg.py": "", "_oldpkg.cpython-311-x86_64-linux-gnu.so": ""})
    with pytest.raises(ValueError, match="oldpkg: compiled files"):
        repack(distribution, tmp_path / "wheels")
