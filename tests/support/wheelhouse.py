"""A wheelhouse for the installer's tests, made offline from what this test run's virtual environment holds.

``systemd/install.sh --wheelhouse DIR`` installs with ``pip --no-index --find-links DIR``; the tests need
such a folder without reaching PyPI. Neither ``pip wheel`` nor ``pip download`` can make one offline (both
resolve against an index, and building the project needs setuptools >= 77, which a venv of Debian 12's
Python does not bring), and pip's HTTP cache holds responses, not wheel files. So:

* every dependency of the project is **re-packed from its installed files**: the files its ``RECORD``
  lists inside site-packages (the console scripts pip writes outside it are made again from
  ``entry_points.txt`` at install) under its own ``.dist-info``, with a new ``RECORD``, named with the
  tags of its ``WHEEL`` file. The test venv and the Debian 12 root share the interpreter (CPython 3.11)
  and the platform, so those wheels install there as they are;
* the **project's own wheel** is written from the source tree (``pyproject.toml``'s packages, package
  data, dependencies and scripts), at any version asked for and with files replaced: the upgrade tests
  make a good next version and one whose agent fails at start.

The wheels are stored uncompressed (a valid wheel; they only travel to a local folder).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import re
import sys
import tomllib
import zipfile
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# What pip writes into a .dist-info at install time and a wheel does not hold.
_INSTALL_TIME = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}


def normalize(name: str) -> str:
    """A distribution name as wheel file names spell it (PEP 427/503)."""
    return re.sub(r"[-_.]+", "_", name).lower()


def _requirement(requirement: str, extras: frozenset[str] = frozenset()) -> tuple[str, frozenset[str]] | None:
    """The distribution a ``Requires-Dist`` line names and the extras it asks of it, or None for a line
    only an extra of the requirer needs that was not asked for (``; extra == "argon2"``)."""
    extra = re.search(r"""extra\s*==\s*['"]([^'"]+)['"]""", requirement)
    if extra and normalize(extra.group(1)) not in extras:
        return None
    found = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?", requirement)
    if not found:
        return None
    wanted = frozenset(normalize(e) for e in (found.group(2) or "").split(",") if e.strip())
    return found.group(1), wanted


def dependency_closure(requirements: Iterable[str]) -> list[metadata.Distribution]:
    """The installed distributions ``requirements`` need, directly or not, with the extras asked for. A
    requirement not installed here is one this platform does not need (its marker is false here, e.g.
    ``sys_platform == 'win32'``)."""
    seen: dict[str, metadata.Distribution] = {}
    done: set[tuple[str, frozenset[str]]] = set()
    pending = [found for found in map(_requirement, requirements) if found]
    while pending:
        name, extras = pending.pop()
        key = (normalize(name), extras)
        if key in done:
            continue
        done.add(key)
        try:
            distribution = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        seen[key[0]] = distribution
        pending.extend(found for found in (_requirement(line, extras) for line in distribution.requires or [])
                       if found)
    return list(seen.values())


def _wheel_tag(wheel_file: str) -> str:
    """The compressed tag set of a WHEEL file's ``Tag:`` lines
    (``cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64``)."""
    parts: list[list[str]] = [[], [], []]
    for line in wheel_file.splitlines():
        if line.startswith("Tag:"):
            for index, part in enumerate(line.split(":", 1)[1].strip().split("-")):
                if part not in parts[index]:
                    parts[index].append(part)
    if not parts[0]:
        raise ValueError("the WHEEL file names no Tag")
    return "-".join(".".join(part) for part in parts)


def _record_line(name: str, data: bytes) -> list[str]:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return [name, f"sha256={digest}", str(len(data))]


def _write_wheel(path: Path, files: Mapping[str, bytes], dist_info: str) -> Path:
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as wheel:
        for name, data in files.items():
            wheel.writestr(name, data)
            writer.writerow(_record_line(name, data))
        writer.writerow([f"{dist_info}/RECORD", "", ""])
        wheel.writestr(f"{dist_info}/RECORD", record.getvalue())
    return path


def repack(distribution: metadata.Distribution, folder: Path) -> Path:
    """A wheel of the installed ``distribution`` in ``folder``, from the files its RECORD lists.

    :raises ValueError: when the distribution has no RECORD (not installed by pip) or no WHEEL file.
    """
    installed = distribution.read_text("installed-files.txt")
    if installed is not None and distribution.read_text("WHEEL") is None:
        return _repack_egg_info(distribution, installed, folder)
    listed = distribution.files
    if listed is None:
        raise ValueError(f"{distribution.metadata['Name']}: no RECORD, cannot re-pack it")
    dist_info = next((str(f).split("/")[0] for f in listed if str(f).endswith(".dist-info/METADATA")), None)
    wheel_file = distribution.read_text("WHEEL")
    if dist_info is None or wheel_file is None:
        raise ValueError(f"{distribution.metadata['Name']}: no .dist-info/WHEEL, cannot re-pack it")
    files: dict[str, bytes] = {}
    for entry in listed:
        name = str(entry)
        if name.startswith("..") or "__pycache__" in name or name.endswith(".pyc"):
            continue
        if name.startswith(f"{dist_info}/") and name.split("/", 1)[1] in _INSTALL_TIME:
            continue
        source = Path(str(entry.locate()))
        if source.is_file():
            files[name] = source.read_bytes()
    name, version = distribution.metadata["Name"], distribution.version
    return _write_wheel(folder / f"{normalize(name)}-{version}-{_wheel_tag(wheel_file)}.whl", files, dist_info)


def _repack_egg_info(distribution: metadata.Distribution, installed: str, folder: Path) -> Path:
    """A pure-Python wheel of a distribution pip installed the legacy way (``setup.py install``: an
    ``.egg-info`` whose ``installed-files.txt`` lists the files, no ``.dist-info``). Debian 12's pip (23.0)
    does that for a package with no wheel on PyPI (nfcpy's pyDes) when the venv has no ``wheel`` package.

    :raises ValueError: when it holds compiled files (its platform tag is not known) or lists none.
    """
    name, version = distribution.metadata["Name"], distribution.version
    site = Path(str(distribution.locate_file(""))).resolve()
    egg_info = next((folder for folder in site.glob("*.egg-info")
                     if (folder / "installed-files.txt").is_file()
                     and (folder / "installed-files.txt").read_text() == installed
                     and normalize(folder.name).startswith(normalize(f"{name}-{version}"))), None)
    if egg_info is None:
        raise ValueError(f"{name}: its .egg-info is not found in {site}, cannot re-pack it")
    files: dict[str, bytes] = {}
    for line in installed.splitlines():
        source = (egg_info / line.strip()).resolve()
        if not line.strip() or not source.is_relative_to(site) or source.is_relative_to(egg_info.resolve()):
            continue
        path = source.relative_to(site).as_posix()
        if "__pycache__" in path or path.endswith(".pyc"):
            continue
        if path.endswith((".so", ".pyd")):
            raise ValueError(f"{name}: compiled files in a legacy install, cannot re-pack it as pure Python")
        if source.is_file():
            files[path] = source.read_bytes()
    if not files:
        raise ValueError(f"{name}: its installed-files.txt lists no files, cannot re-pack it")
    dist_info = f"{normalize(name)}-{version}.dist-info"
    pkg_info = distribution.read_text("PKG-INFO") or f"Name: {name}\nVersion: {version}\n"
    files[f"{dist_info}/METADATA"] = pkg_info.encode()
    files[f"{dist_info}/WHEEL"] = (b"Wheel-Version: 1.0\nGenerator: tests.support.wheelhouse\n"
                                   b"Root-Is-Purelib: true\nTag: py3-none-any\n")
    for extra in ("entry_points.txt", "top_level.txt"):
        text = distribution.read_text(extra)
        if text:
            files[f"{dist_info}/{extra}"] = text.encode()
    return _write_wheel(folder / f"{normalize(name)}-{version}-py3-none-any.whl", files, dist_info)


def project_wheel(folder: Path, version: str | None = None, replace: Mapping[str, str] | None = None,
                  root: Path = ROOT) -> Path:
    """The project's wheel (pure Python) in ``folder``, built from the source tree at ``root``.

    :param version: the version to stamp (default: ``pyproject.toml``'s).
    :param replace: file contents to use instead of the tree's, by path in the wheel (``edge_agent/cli.py``).
    """
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    settings = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    name, version = project["name"], version or project["version"]
    files: dict[str, bytes] = {}
    for top in sorted({pattern.rstrip("*") for pattern in settings["packages"]["find"]["include"]}):
        for init in sorted((root / top).rglob("__init__.py")):
            package = init.parent
            for source in sorted(package.glob("*.py")):
                files[source.relative_to(root).as_posix()] = source.read_bytes()
    for package, patterns in settings.get("package-data", {}).items():
        for pattern in patterns:
            # A package's name is dotted (edge_agent.console), its folder is not.
            for source in sorted((root / package.replace(".", "/")).glob(pattern)):
                files[source.relative_to(root).as_posix()] = source.read_bytes()
    for path, text in (replace or {}).items():
        files[path] = text.encode()
    dist_info = f"{normalize(name)}-{version}.dist-info"
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}", f"Summary: {project['description']}",
             f"Requires-Python: {project['requires-python']}",
             *(f"Requires-Dist: {requirement}" for requirement in project["dependencies"])]
    files[f"{dist_info}/METADATA"] = ("\n".join(lines) + "\n").encode()
    files[f"{dist_info}/WHEEL"] = (b"Wheel-Version: 1.0\nGenerator: tests.support.wheelhouse\n"
                                   b"Root-Is-Purelib: true\nTag: py3-none-any\n")
    scripts = "".join(f"{script} = {target}\n" for script, target in project["scripts"].items())
    files[f"{dist_info}/entry_points.txt"] = f"[console_scripts]\n{scripts}".encode()
    folder.mkdir(parents=True, exist_ok=True)
    return _write_wheel(folder / f"{normalize(name)}-{version}-py3-none-any.whl", files, dist_info)


def build_wheelhouse(folder: Path, root: Path = ROOT) -> Path:
    """``folder`` with the project's wheel and a wheel of each of its installed dependencies."""
    folder.mkdir(parents=True, exist_ok=True)
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    project_wheel(folder, root=root)
    for distribution in dependency_closure(project["dependencies"]):
        repack(distribution, folder)
    return folder


if __name__ == "__main__":
    # python -m tests.support.wheelhouse DIR: the wheelhouse for an offline install by hand.
    print(build_wheelhouse(Path(sys.argv[1])))
