"""The Connected Store installer for Raspberry Pi OS Bookworm and Debian 12 (run by ``systemd/install.sh``).

One command per machine, run as root from a checkout (or release tarball) of the project, as often as
you like: a second run with the same arguments changes nothing and says so.

``--role kiosk``
    the edge agent (``edge-agent.service``: NFC reader and camera) and the kiosk fullscreen on tty1
    under cage (``connected-store-kiosk.service``), with the Debian packages they load.
``--role shelf``
    the edge agent of a smart shelf: the same unit with a drop-in that allows the camera only.
``--role broker``
    the store's Mosquitto (Debian's own ``mosquitto.service``) with our configuration
    (``config/mosquitto``); can be combined with ``kiosk`` or ``shelf``.
``--role console``
    the store console (``store-console.service``: staff phones, HTTPS on the store LAN), usually beside
    the broker: with ``--role broker --provision ...`` its broker login, the broker's CA and its HTTPS
    certificate go into ``/etc/connected-store/credentials/console``.

What goes where:

* the software in a virtual environment per version, ``/opt/connected-store/<version>``, and the
  symlink ``/opt/connected-store/current`` the units run (``current/bin/edge-agent``). Each version
  keeps a copy of the unit files and example configurations it was installed with
  (``<version>/share/connected-store``): the units installed are always those of the active version,
  so switching back restores them too.
* the configuration in ``/etc/connected-store`` from the examples in ``config/``: a file that is there
  is never overwritten (the example of the running version is kept beside it,
  ``agent.example.toml``, to compare).
* the secrets in ``/etc/connected-store/credentials``: the folder root's alone (0700), each file 0600;
  systemd hands them to the services (``LoadCredential=``). The installer creates none and says which
  the units still wait for.
* the units in ``/etc/systemd/system``, enabled; on a running systemd they are (re)started when they
  or the version changed. In a chroot or an image being prepared (systemd not running) they start at
  the next boot.

``--upgrade`` installs the checkout's version (or ``--version``) beside the running one, switches the
symlink and restarts the agent; if it does not report READY within ``--ready-timeout`` seconds (60:
``systemctl is-active`` of the ``Type=notify`` unit turns ``active`` only on the agent's ``READY=1``),
it switches back, restarts the previous version and says so (exit 1). ``--readiness-probe CMD``
replaces that check with a command of your own (exit 0 once ready; run with ``CS_VERSION`` set).

``--uninstall`` stops and disables the units and removes them and ``/opt/connected-store``; the
configuration, the credentials and the data (``/var/lib/connected-store``) stay unless ``--purge``.
Debian packages installed for a role stay installed.

``--wheelhouse DIR`` (repeatable) installs offline: ``pip --no-index --find-links DIR``; the folder
must hold the project's wheel and every dependency's.

Only Python's standard library is used: this runs on the system's python3 before any virtual
environment exists.
"""

from __future__ import annotations

import argparse
import grp
import os
import pwd
import re
import shlex
import shutil
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

SOURCE = Path(__file__).resolve().parent.parent
PREFIX = Path("/opt/connected-store")
CURRENT = PREFIX / "current"
ETC = Path("/etc/connected-store")
CREDENTIALS = ETC / "credentials"
STATE_DIRS = (Path("/var/lib/connected-store"), Path("/var/lib/connected-store-kiosk"))
UNIT_DIR = Path("/etc/systemd/system")
USER = "connected-store"
DISTRIBUTION = "connected-store"
# Inside a version folder: what the version was installed with (units, examples, docs).
SHARE = Path("share/connected-store")
INSTALLED_MARK = ".connected-store-installed"

AGENT_UNIT = "edge-agent.service"
KIOSK_UNIT = "connected-store-kiosk.service"
MOSQUITTO_UNIT = "mosquitto.service"
CONSOLE_UNIT = "store-console.service"

EXIT_FAILED = 1
EXIT_USAGE = 2


@dataclass(frozen=True)
class Placed:
    """A file the installer puts in place: ``source`` (relative to a version's share folder) at ``target``.

    ``config`` files are the operator's once there: never overwritten, kept on --uninstall. The others
    belong to the software and follow the active version."""

    source: str
    target: Path
    mode: int = 0o644
    group: str = "root"
    config: bool = False


@dataclass(frozen=True)
class Role:
    """What one ``--role`` installs: Debian packages, files, the units to enable and the groups its
    units name in ``SupplementaryGroups=`` (created when the system lacks one)."""

    name: str
    packages: tuple[str, ...]
    files: tuple[Placed, ...]
    units: tuple[str, ...]
    groups: tuple[str, ...] = ()
    directories: tuple[tuple[Path, int, str], ...] = field(default=())


# Every role: the virtual environment's Python, and systemd itself (a minimal Debian root lacks it).
BASE_PACKAGES = ("python3-venv", "systemd")

AGENT_FILES = (
    Placed("systemd/edge-agent.service", UNIT_DIR / AGENT_UNIT),
    Placed("config/agent.example.toml", ETC / "agent.toml", 0o640, USER, config=True),
    Placed("config/agent.example.toml", ETC / "agent.example.toml"),
)

ROLES = {
    "kiosk": Role(
        "kiosk",
        # nfcpy's USB readers (libusb); cage and Xwayland (Kivy's SDL2 has no Wayland driver); OpenGL
        # (libGL/EGL and Mesa's GPU drivers: vc4/v3d on a Pi); the videos (ffpyplayer links GLib, SDL
        # opens the sound device); what Kivy probes at every start and logs a traceback without
        # (libmtdev: touchscreens; xsel: the X clipboard); a logind session for cage (PAM, D-Bus).
        ("libusb-1.0-0", "cage", "xwayland", "libgl1", "libegl1", "libgl1-mesa-dri", "libglib2.0-0",
         "libasound2", "libmtdev1", "xsel", "libpam-systemd", "dbus"),
        (*AGENT_FILES,
         Placed("systemd/connected-store-kiosk.service", UNIT_DIR / KIOSK_UNIT),
         Placed("systemd/connected-store-kiosk.pam", Path("/etc/pam.d/connected-store-kiosk")),
         Placed("systemd/connected-store-kiosk.tmpfiles", Path("/etc/tmpfiles.d/connected-store-kiosk.conf")),
         Placed("config/kiosk.example.toml", ETC / "kiosk.toml", 0o640, USER, config=True),
         Placed("config/kiosk.example.toml", ETC / "kiosk.example.toml")),
        (AGENT_UNIT, KIOSK_UNIT),
        ("plugdev", "dialout", "video", "render", "input"),
    ),
    "shelf": Role(
        "shelf",
        (),
        (*AGENT_FILES,
         Placed("systemd/edge-agent-shelf.conf", UNIT_DIR / f"{AGENT_UNIT}.d" / "shelf.conf")),
        (AGENT_UNIT,),
        ("plugdev", "dialout", "video"),
    ),
    "broker": Role(
        "broker",
        # procps: /bin/kill, the ExecReload= of Debian's mosquitto.service (systemctl reload).
        ("mosquitto", "procps"),
        (Placed("systemd/mosquitto-connected-store.conf",
                UNIT_DIR / f"{MOSQUITTO_UNIT}.d" / "connected-store.conf"),
         Placed("systemd/mosquitto-main.conf", Path("/etc/mosquitto/connected-store.conf")),
         Placed("config/mosquitto/store.conf", Path("/etc/mosquitto/connected-store.d/connected-store.conf"),
                config=True),
         Placed("config/mosquitto/connected-store.acl", Path("/etc/mosquitto/connected-store.acl"), 0o640,
                "mosquitto", config=True)),
        (MOSQUITTO_UNIT,),
        directories=((Path("/etc/mosquitto/connected-store.d"), 0o755, "root"),
                     (Path("/etc/mosquitto/bridges"), 0o755, "root")),
    ),
}
# The store console (edge_agent/console): its unit and configuration; its secrets in a folder of their own, since
# its broker login is not this machine's agent's (edge-agent broker provision writes credentials/console/).
CONSOLE_CREDENTIALS = CREDENTIALS / "console"
ROLES["console"] = Role(
    "console",
    (),
    (Placed("systemd/store-console.service", UNIT_DIR / CONSOLE_UNIT),
     Placed("config/console.example.toml", ETC / "console.toml", 0o640, USER, config=True),
     Placed("config/console.example.toml", ETC / "console.example.toml")),
    (CONSOLE_UNIT,),
    directories=((CONSOLE_CREDENTIALS, 0o700, "root"),),
)
# Mosquitto refuses to start without its password file: an empty one (no login at all) until the
# broker's devices are provisioned.
MOSQUITTO_PASSWORDS = Path("/etc/mosquitto/connected-store.passwd")

# `edge-agent broker provision`'s folder on the broker (--provision): the store CA's key and every login's
# password live here, root-only; a re-run on the same folder keeps them, so devices need no new credentials.
PROVISIONING = ETC / "broker"
MOSQUITTO_ETC = Path("/etc/mosquitto")
MOSQUITTO_INCLUDED = MOSQUITTO_ETC / "connected-store.d"

# What the software owns outside /opt (removed by --uninstall), derived from the roles.
SOFTWARE_FILES = sorted({placed.target for role in ROLES.values() for placed in role.files if not placed.config})
CONFIG_FILES = sorted({placed.target for role in ROLES.values() for placed in role.files if placed.config})
OUR_UNITS = (AGENT_UNIT, KIOSK_UNIT, CONSOLE_UNIT)
MISSING_CREDENTIALS = "the units wait for these credentials"


class InstallError(Exception):
    """Something the installer cannot do; the message says what and how to fix it."""


class Installer:
    """Applies one run's arguments to this machine and keeps the list of what it changed."""

    def __init__(self, source: Path, wheelhouses: Sequence[Path], dry_apt: bool = False):
        self.source = source
        self.wheelhouses = list(wheelhouses)
        self.changes: list[str] = []
        self.notes: list[str] = []
        self.dry_apt = dry_apt

    # ------------------------------------------------------------------ output

    def changed(self, what: str) -> None:
        self.changes.append(what)
        say(what)

    def note(self, what: str) -> None:
        self.notes.append(what)

    # ------------------------------------------------------------------ Debian packages, user

    def apt(self, packages: Iterable[str]) -> None:
        missing = [name for name in dict.fromkeys(packages) if not package_installed(name)]
        if not missing:
            return
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        run(["apt-get", "update", "-q"], env=env)
        run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing], env=env)
        self.changed(f"installed Debian packages: {' '.join(missing)}")

    def user(self, groups: Iterable[str]) -> None:
        for name in dict.fromkeys(groups):
            if not group_exists(name):
                run(["groupadd", "--system", name])
                self.changed(f"created group {name}")
        try:
            pwd.getpwnam(USER)
        except KeyError:
            run(["useradd", "--system", "--user-group", "--home-dir", str(STATE_DIRS[0]), "--no-create-home",
                 "--shell", "/usr/sbin/nologin", "--comment", "Connected Store", USER])
            self.changed(f"created system user {USER}")

    # ------------------------------------------------------------------ the software

    def install_version(self, version: str) -> Path:
        """The virtual environment of ``version`` under /opt/connected-store, made unless it is complete."""
        target = PREFIX / version
        if (target / INSTALLED_MARK).is_file():
            return target
        if target.exists():  # an attempt that did not finish: start again
            shutil.rmtree(target)
        self.directory(PREFIX, 0o755, "root")
        run([sys.executable, "-m", "venv", str(target)])
        pip = [str(target / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
               "--no-cache-dir"]
        if self.wheelhouses:
            pip += ["--no-index", *(f"--find-links={folder}" for folder in self.wheelhouses),
                    f"{DISTRIBUTION}=={version}"]
        else:
            source_version = project_version(self.source)
            if source_version != version:
                raise InstallError(f"the checkout {self.source} is version {source_version}, not {version}: "
                                   f"give --wheelhouse with the wheels of {version}, or run that version's installer")
            pip.append(str(self.source))
        try:
            run(pip)
            found = capture([str(target / "bin" / "python"), "-c",
                             f"import importlib.metadata as m; print(m.version({DISTRIBUTION!r}))"]).strip()
            if found != version:
                raise InstallError(f"pip installed {DISTRIBUTION} {found} in {target}, not {version}")
        except (InstallError, subprocess.CalledProcessError):
            shutil.rmtree(target, ignore_errors=True)
            raise
        share = target / SHARE
        for part in ("systemd", "config"):
            shutil.copytree(self.source / part, share / part, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        docs = target / "share" / "doc" / DISTRIBUTION
        docs.mkdir(parents=True, exist_ok=True)
        for name in ("docs/install.md", "README.md"):
            if (self.source / name).is_file():
                shutil.copy2(self.source / name, docs / Path(name).name)
        run(["chmod", "-R", "go-w", str(target)])
        (target / INSTALLED_MARK).write_text(version + "\n", encoding="utf-8")
        self.changed(f"installed {DISTRIBUTION} {version} in {target}")
        return target

    def switch(self, version: str) -> None:
        """Point /opt/connected-store/current at ``version`` (atomically: a rename over the old link)."""
        if active_version() == version:
            return
        temporary = PREFIX / ".current.new"
        if temporary.is_symlink() or temporary.exists():
            temporary.unlink()
        temporary.symlink_to(version)
        os.replace(temporary, CURRENT)
        self.changed(f"{CURRENT} -> {version}")

    # ------------------------------------------------------------------ files

    def directory(self, path: Path, mode: int, group: str, owner: str = "root") -> None:
        if not path.is_dir():
            path.mkdir(parents=True, mode=mode)
            self.changed(f"created {path}")
        self.ownership(path, mode, owner, group)

    def ownership(self, path: Path, mode: int, owner: str, group: str) -> None:
        uid, gid = pwd.getpwnam(owner).pw_uid, grp.getgrnam(group).gr_gid
        info = path.lstat()
        if (info.st_uid, info.st_gid) != (uid, gid):
            os.chown(path, uid, gid)
            self.changed(f"{path}: owner {owner}:{group}")
        if info.st_mode & 0o7777 != mode:
            os.chmod(path, mode)
            self.changed(f"{path}: mode {mode:04o}")

    def write(self, target: Path, content: bytes, mode: int, group: str, why: str = "") -> bool:
        """``content`` at ``target`` (root:``group``, ``mode``) unless it is there already; True when
        written. Written beside and renamed over, so a power cut leaves the old file or the new one."""
        written = False
        if not target.is_file() or target.read_bytes() != content:
            existed = target.is_file()
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary = target.with_name(f".{target.name}.new")
            temporary.write_bytes(content)
            os.chmod(temporary, mode)
            os.replace(temporary, target)
            self.changed(f"{'updated' if existed else 'installed'} {target}{why}")
            written = True
        self.ownership(target, mode, "root", group)
        return written

    def place(self, placed: Placed, share: Path) -> bool:
        """Put ``placed`` in place from ``share``; True when the target changed."""
        if placed.config and placed.target.exists():
            return False  # the operator's file: never overwritten
        return self.write(placed.target, (share / placed.source).read_bytes(), placed.mode, placed.group)

    def credentials(self) -> None:
        """The credentials folder root-only, and every secret in it 0600 root:root."""
        self.directory(ETC, 0o755, "root")
        self.directory(CREDENTIALS, 0o700, "root")
        for path in sorted(CREDENTIALS.iterdir()):
            if path.is_file() and not path.is_symlink():
                self.ownership(path, 0o600, "root", "root")
            elif path.is_dir() and not path.is_symlink():  # a service's own folder (credentials/console)
                self.ownership(path, 0o700, "root", "root")
                for inner in sorted(path.iterdir()):
                    if inner.is_file() and not inner.is_symlink():
                        self.ownership(inner, 0o600, "root", "root")

    def generated(self, source: Path, target: Path, mode: int, group: str) -> None:
        """Put the generated file ``source`` at ``target`` when it differs (provisioning is authoritative)."""
        self.write(target, source.read_bytes(), mode, group, " (provisioned)")

    def provision(self, arguments: str, roles: Sequence[Role]) -> None:
        """Run ``edge-agent broker provision ARGUMENTS`` into /etc/connected-store/broker and install what
        it wrote: the broker's configuration, ACL, password file and certificates into /etc/mosquitto, and,
        when this machine is also a device of the store, that device's credentials."""
        self.directory(PROVISIONING, 0o700, "root")
        run([str(CURRENT / "bin" / "edge-agent"), "broker", "provision", *shlex.split(arguments),
             "--out", str(PROVISIONING), "--etc", str(MOSQUITTO_ETC)])
        made = PROVISIONING / "mosquitto"
        # The broker reads its files after dropping root: readable by the mosquitto group, by no one else.
        for conf in sorted((made / "conf.d").glob("*.conf")):
            self.generated(conf, MOSQUITTO_INCLUDED / conf.name, 0o640, "mosquitto")
        for name in ("connected-store.acl", "connected-store.passwd"):
            if (made / name).is_file():
                self.generated(made / name, MOSQUITTO_ETC / name, 0o640, "mosquitto")
        if (made / "certs").is_dir():
            self.directory(MOSQUITTO_ETC / "certs", 0o750, "mosquitto")
            for source in sorted((made / "certs").iterdir()):
                if source.is_file():
                    mode = 0o640 if source.suffix == ".key" else 0o644
                    self.generated(source, MOSQUITTO_ETC / "certs" / source.name, mode, "mosquitto")
        device = this_device() if any(AGENT_UNIT in role.units for role in roles) else None
        if device is not None and (PROVISIONING / "credentials" / device).is_dir():
            self.credentials()
            for source in sorted((PROVISIONING / "credentials" / device).iterdir()):
                if source.is_file():
                    self.generated(source, CREDENTIALS / source.name, 0o600, "root")
        # The store console beside the broker: its own login, the broker's CA and its HTTPS certificate.
        console = PROVISIONING / "credentials" / "console"
        if any(CONSOLE_UNIT in role.units for role in roles) and console.is_dir():
            self.credentials()
            self.directory(CONSOLE_CREDENTIALS, 0o700, "root")
            for source in sorted(console.iterdir()):
                if source.is_file():
                    self.generated(source, CONSOLE_CREDENTIALS / source.name, 0o600, "root")

    def mosquitto_passwords(self) -> None:
        if not MOSQUITTO_PASSWORDS.exists():
            MOSQUITTO_PASSWORDS.touch(mode=0o640)
            self.changed(f"created {MOSQUITTO_PASSWORDS} (empty: no login until the devices are provisioned)")
        self.ownership(MOSQUITTO_PASSWORDS, 0o640, "root", "mosquitto")

    # ------------------------------------------------------------------ units

    def enable(self, units: Iterable[str]) -> None:
        for unit in units:
            state = capture(["systemctl", "is-enabled", unit], check=False).strip()
            if state != "enabled":
                run(["systemctl", "enable", "--quiet", unit])
                self.changed(f"enabled {unit}")

    def disable(self, units: Iterable[str]) -> None:
        for unit in units:
            state = capture(["systemctl", "is-enabled", unit], check=False).strip()
            if state in ("enabled", "enabled-runtime", "linked", "alias"):
                if systemd_running():
                    run(["systemctl", "stop", unit], check=False)
                run(["systemctl", "disable", "--quiet", unit])
                self.changed(f"disabled {unit}")

    # ------------------------------------------------------------------ the whole run

    def install(self, roles: Sequence[Role], version: str, provision: str | None = None) -> None:
        """Install ``roles`` at ``version`` (made active), provision the broker when asked; restarts what
        changed on a running systemd."""
        self.apt([*BASE_PACKAGES, *(name for role in roles for name in role.packages)])
        self.user(name for role in roles for name in role.groups)
        self.install_version(version)
        before = len(self.changes)
        self.switch(version)
        switched = len(self.changes) > before
        files_changed = self.system_files(roles)
        if provision is not None:
            self.provision(provision, roles)
            self.missing_credentials(roles)
        self.start(roles, restart=switched or files_changed or len(self.changes) > before)

    def system_files(self, roles: Sequence[Role]) -> bool:
        """Units, drop-ins, PAM and tmpfiles entries, configuration and credentials for ``roles``, from
        the active version's share folder; removes the files of roles this machine no longer has.
        True when a unit or another file of the software changed."""
        share = CURRENT / SHARE
        wanted = {placed.target for role in roles for placed in role.files}
        changed = False
        for path in SOFTWARE_FILES:
            if path not in wanted and path.exists():
                path.unlink()
                self.changed(f"removed {path} (not used by the roles {', '.join(r.name for r in roles)})")
                changed = True
        self.credentials()
        for role in roles:
            for placed in role.files:
                changed = self.place(placed, share) or changed
            for path, mode, group in role.directories:
                self.directory(path, mode, group)
            if role.name == "broker":
                self.mosquitto_passwords()
                if not PROVISIONING.is_dir():
                    self.note("Mosquitto has the shipped example configuration (config/mosquitto) until the store "
                              "is provisioned: install.sh --role broker --provision \"--store ID --devices "
                              "kiosk-1,shelf-3 --lan-address ADDRESS\" (docs/broker.md)")
        if changed and systemd_running():
            run(["systemctl", "daemon-reload"])
        self.enable(unit for role in roles for unit in role.units)
        self.disable(unit for unit in OUR_UNITS if unit not in {u for role in roles for u in role.units})
        self.missing_credentials(roles)
        return changed

    def missing_credentials(self, roles: Sequence[Role]) -> None:
        """Say which credentials the roles' units still wait for (again after provisioning wrote some)."""
        self.notes = [line for line in self.notes if not line.startswith(MISSING_CREDENTIALS)]
        missing = [name for name in credentials_wanted(roles) if not (CREDENTIALS / name).is_file()]
        if missing:
            self.note(f"{MISSING_CREDENTIALS} in {CREDENTIALS} (root-only files, 0600): " + ", ".join(missing))

    def start(self, roles: Sequence[Role], restart: bool) -> None:
        units = [unit for role in roles for unit in role.units]
        if not systemd_running():
            self.note("systemd is not running here (a chroot or an image being prepared): "
                      f"{', '.join(units)} start at the next boot")
            return
        for unit in units:
            active = capture(["systemctl", "is-active", unit], check=False).strip() == "active"
            if restart or not active:
                result = subprocess.run(["systemctl", "restart", "--no-block", unit], check=False)
                if result.returncode == 0:
                    self.changed(f"{'restarted' if active else 'started'} {unit}")

    def upgrade(self, roles: Sequence[Role], version: str, probe: str | None, timeout_s: float) -> bool:
        """Install ``version`` beside the active one, switch, and switch back unless the agent is READY in
        ``timeout_s``. True when the new version stays."""
        previous = active_version()
        if previous is None:
            raise InstallError(f"nothing is installed in {PREFIX}: install first (without --upgrade)")
        if previous == version:
            say(f"{DISTRIBUTION} {version} is already the running version")
            self.install(roles, version)
            return True
        self.apt([*BASE_PACKAGES, *(name for role in roles for name in role.packages)])
        self.user(name for role in roles for name in role.groups)
        self.install_version(version)
        self.switch(version)
        self.system_files(roles)
        if not any(AGENT_UNIT in role.units for role in roles):
            self.start(roles, restart=True)
            return True
        started = time.monotonic()
        ready = agent_ready(version, probe, timeout_s)
        if ready is None:
            self.note(f"switched to {version}; systemd is not running here, so the agent's READY was not "
                      "checked (give --readiness-probe to check it otherwise)")
            return True
        if ready:
            say(f"upgraded from {previous} to {version}: the agent reported READY after "
                f"{time.monotonic() - started:.0f} s")
            self.start([role for role in roles if AGENT_UNIT not in role.units], restart=True)
            return True
        self.switch(previous)
        self.system_files(roles)
        if probe is None:
            self.start(roles, restart=True)
        say(f"upgrade to {version} failed: the agent did not report READY within {timeout_s:.0f} s; "
            f"switched back to {previous} ({PREFIX / version} is kept to look into; "
            f"see journalctl -u {AGENT_UNIT})")
        return False

    def uninstall(self, purge: bool) -> None:
        """Stop, disable and remove the units and /opt/connected-store; with ``purge`` also the
        configuration, the credentials, the data and the system user."""
        self.disable([*OUR_UNITS])
        for path in SOFTWARE_FILES:
            if path.exists():
                path.unlink()
                self.changed(f"removed {path}")
                if path.parent.name.endswith(".d") and not any(path.parent.iterdir()):
                    path.parent.rmdir()
        if systemd_running():
            run(["systemctl", "daemon-reload"])
            if package_installed("mosquitto"):
                run(["systemctl", "try-restart", MOSQUITTO_UNIT], check=False)
        if PREFIX.exists():
            shutil.rmtree(PREFIX)
            self.changed(f"removed {PREFIX}")
        if not purge:
            kept = [str(path) for path in (ETC, *STATE_DIRS) if path.exists()]
            if kept:
                self.note(f"kept {', '.join(kept)} (--uninstall --purge removes them)")
            return
        for path in (*CONFIG_FILES, MOSQUITTO_PASSWORDS):
            if path.exists() and not str(path).startswith(str(ETC) + "/"):
                path.unlink()
                self.changed(f"removed {path}")
        if MOSQUITTO_INCLUDED.is_dir():
            shutil.rmtree(MOSQUITTO_INCLUDED)
            self.changed(f"removed {MOSQUITTO_INCLUDED}")
        for folder, _, _ in ROLES["broker"].directories:
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
                self.changed(f"removed {folder}")
        for path in (ETC, *STATE_DIRS):
            if path.exists():
                shutil.rmtree(path)
                self.changed(f"removed {path}")
        try:
            pwd.getpwnam(USER)
        except KeyError:
            return
        run(["userdel", USER])
        self.changed(f"removed system user {USER}")


# ---------------------------------------------------------------------- the machine


def say(line: str) -> None:
    print(f"install: {line}", flush=True)


def run(command: Sequence[str], check: bool = True, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(list(command), check=check, env=env)


def capture(command: Sequence[str], check: bool = True) -> str:
    return subprocess.run(list(command), check=check, capture_output=True, text=True).stdout


def package_installed(name: str) -> bool:
    result = subprocess.run(["dpkg-query", "-W", "-f=${db:Status-Status}", name], capture_output=True, text=True,
                            check=False)
    return result.returncode == 0 and result.stdout.strip() == "installed"


def group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True


def systemd_running() -> bool:
    """Whether systemd is this machine's init (sd_booted(3)): not in a chroot or an image being built."""
    return Path("/run/systemd/system").is_dir()


def active_version() -> str | None:
    return os.readlink(CURRENT) if CURRENT.is_symlink() else None


def project_version(source: Path) -> str:
    with (source / "pyproject.toml").open("rb") as handle:
        return str(tomllib.load(handle)["project"]["version"])


def credentials_wanted(roles: Sequence[Role]) -> list[str]:
    """The files the roles' units load as credentials (their ``LoadCredential=`` lines), relative to
    /etc/connected-store/credentials (``store-hmac-key``, ``console/mqtt-password``)."""
    names: list[str] = []
    for role in roles:
        for placed in role.files:
            if placed.target.suffix == ".service" and placed.target.is_file():
                for line in placed.target.read_text(encoding="utf-8").splitlines():
                    found = re.match(r"LoadCredential=[^:]+:(\S+)", line)
                    if found is None:
                        continue
                    path = Path(found.group(1))
                    name = str(path.relative_to(CREDENTIALS)) if path.is_relative_to(CREDENTIALS) else str(path)
                    if name not in names:
                        names.append(name)
    return names


def agent_ready(version: str, probe: str | None, timeout_s: float) -> bool | None:
    """Whether the agent of ``version`` reported READY within ``timeout_s``; None when it cannot be
    checked (no probe and systemd not running)."""
    if probe is not None:
        try:
            result = subprocess.run(probe, shell=True, env={**os.environ, "CS_VERSION": version},
                                    timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired:
            return False
        return result.returncode == 0
    if not systemd_running():
        return None
    run(["systemctl", "daemon-reload"])
    # A Type=notify unit stays "activating" until the agent's READY=1 and is "active" only then; a
    # crashing agent is "activating (auto-restart)" or "failed".
    run(["systemctl", "restart", "--no-block", AGENT_UNIT])
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = capture(["systemctl", "is-active", AGENT_UNIT], check=False).strip()
        if state == "active":
            return True
        if state == "failed":
            return False
        time.sleep(1)
    return False


def this_device() -> str | None:
    """The device id of this machine's agent configuration (``[device] id``), or None without one."""
    try:
        with (ETC / "agent.toml").open("rb") as handle:
            return str(tomllib.load(handle)["device"]["id"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return None


def installed_roles() -> list[Role]:
    """The roles whose units are installed here (for --upgrade without --role)."""
    roles = []
    if (UNIT_DIR / KIOSK_UNIT).is_file():
        roles.append(ROLES["kiosk"])
    elif (UNIT_DIR / AGENT_UNIT).is_file():
        roles.append(ROLES["shelf"])
    if (UNIT_DIR / f"{MOSQUITTO_UNIT}.d" / "connected-store.conf").is_file():
        roles.append(ROLES["broker"])
    if (UNIT_DIR / CONSOLE_UNIT).is_file():
        roles.append(ROLES["console"])
    return roles


def check_system() -> None:
    if os.geteuid() != 0:
        raise InstallError("run as root (sudo systemd/install.sh ...)")
    try:
        release = dict(line.split("=", 1) for line in Path("/etc/os-release").read_text().splitlines() if "=" in line)
    except OSError:
        release = {}
    codename = release.get("VERSION_CODENAME", "").strip('"')
    if codename != "bookworm":
        say(f"warning: made for Debian 12 / Raspberry Pi OS Bookworm; this is {codename or 'unknown'}")


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="install.sh", description="Install, upgrade or remove Connected Store on Raspberry Pi OS Bookworm or "
        "Debian 12 (run as root; a second run with the same arguments changes nothing).")
    parser.add_argument("--role", action="append", choices=sorted(ROLES), default=[],
                        help="What this machine is (repeat for two: --role kiosk --role broker). "
                             "--upgrade and --uninstall find the installed ones.")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--upgrade", action="store_true",
                        help="Install the version beside the running one, switch, and switch back unless "
                             "the agent reports READY in time.")
    action.add_argument("--uninstall", action="store_true",
                        help="Stop and remove the units and /opt/connected-store (configuration and data stay).")
    parser.add_argument("--purge", action="store_true",
                        help="With --uninstall: remove the configuration, credentials, data and user too.")
    parser.add_argument("--version", help="The version to install (default: the checkout's, pyproject.toml).")
    parser.add_argument("--wheelhouse", action="append", type=Path, default=[], metavar="DIR",
                        help="Install offline from the wheels in DIR (pip --no-index --find-links; repeatable).")
    parser.add_argument("--provision", metavar="ARGS",
                        help="With --role broker: run `edge-agent broker provision ARGS` (e.g. \"--store store-0042 "
                             "--devices kiosk-1,shelf-3 --lan-address 192.168.42.2\") into /etc/connected-store/broker "
                             "and install the broker's logins, ACL, certificates and bridge, and this device's "
                             "credentials. Run again to add devices: passwords and the CA are kept.")
    parser.add_argument("--ready-timeout", type=float, default=60.0, metavar="S",
                        help="--upgrade: seconds the new agent has to report READY (default 60).")
    parser.add_argument("--readiness-probe", metavar="CMD",
                        help="--upgrade: a shell command that exits 0 once the new agent is ready, instead of "
                             "systemd's READY (CS_VERSION holds the new version).")
    args = parser.parse_args(argv)
    if args.purge and not args.uninstall:
        parser.error("--purge goes with --uninstall")
    if not args.role and not (args.upgrade or args.uninstall):
        parser.error("say what this machine is: --role kiosk, shelf, broker or console")
    if args.provision is not None and "broker" not in args.role:
        parser.error("--provision goes with --role broker")
    if "kiosk" in args.role and "shelf" in args.role:
        parser.error("a device is a kiosk or a shelf (device.kind), not both")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    installer = Installer(SOURCE, args.wheelhouse)
    try:
        check_system()
        for folder in args.wheelhouse:
            if not folder.is_dir():
                raise InstallError(f"--wheelhouse {folder}: no such folder")
        roles = [ROLES[name] for name in dict.fromkeys(args.role)] or installed_roles()
        version = args.version or project_version(SOURCE)
        ok = True
        if args.uninstall:
            installer.uninstall(args.purge)
        elif args.upgrade:
            if not roles:
                raise InstallError("no role is installed here: install first with --role")
            ok = installer.upgrade(roles, version, args.readiness_probe, args.ready_timeout)
        else:
            installer.install(roles, version, args.provision)
    except InstallError as error:
        print(f"install: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except subprocess.CalledProcessError as error:
        print(f"install: error: {' '.join(map(str, error.cmd))} failed (exit {error.returncode})", file=sys.stderr)
        return EXIT_FAILED
    for line in installer.notes:
        say(line)
    if not installer.changes:
        say("nothing changed")
    return 0 if ok else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
