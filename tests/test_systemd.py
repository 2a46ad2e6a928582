"""systemd notifications over a real AF_UNIX datagram socket, and the unit files in systemd/ checked offline."""

import re
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from edge_agent.agent import Agent
from edge_agent.systemd import Notifier
from tests.support.system import ensure_installed


def test_notifier_is_silent_without_notify_socket():
    notifier = Notifier({})
    assert not notifier.enabled and not notifier.ready("x") and notifier.watchdog_interval_s is None


def test_agent_sends_ready_watchdog_and_stopping(tmp_path, mosquitto, make_config):
    path = str(tmp_path / "notify.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(path)
    server.settimeout(10)
    _, config = make_config(mosquitto)
    notifier = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "400000"})
    assert notifier.watchdog_interval_s == 0.2
    agent = Agent(config, notifier=notifier)
    agent.start()
    try:
        messages = [server.recv(4096).decode()]
        assert messages[0].startswith("READY=1\nSTATUS=connected")
        while not any(m == "WATCHDOG=1" for m in messages):
            messages.append(server.recv(4096).decode())
    finally:
        agent.stop()
    while "STOPPING=1" not in messages:
        messages.append(server.recv(4096).decode())
    server.close()


def test_abstract_notify_socket_address_is_understood():
    assert Notifier({"NOTIFY_SOCKET": "@/org/freedesktop/systemd1/notify"})._address.startswith("\0")


# ---------------------------------------------------------------------- the unit files (systemd/)
#
# systemd is not PID 1 here: the units are checked offline. `systemd-analyze verify` refuses a unit whose
# ExecStart= binary does not exist, so it runs against a root (--root) holding this machine's system
# units, ours in /etc/systemd/system as the installer puts them, and an executable at every path their
# Exec*= lines name. tests/test_installer.py verifies them again where the installer really put them.

SYSTEMD = Path(__file__).resolve().parent.parent / "systemd"
AGENT, KIOSK = "edge-agent.service", "connected-store-kiosk.service"
CONSOLE = "store-console.service"  # the store console (edge_agent/console), installer role console
# The targets for `systemd-analyze security` (0 is best, 10 is unprotected).
EXPOSURE = {AGENT: 2.5, KIOSK: 4.0, CONSOLE: 2.0}
DROP_INS = {  # file in systemd/ -> where the installer puts it (unit.d/name.conf)
    "edge-agent-shelf.conf": "edge-agent.service.d/shelf.conf",
    "mosquitto-connected-store.conf": "mosquitto.service.d/connected-store.conf",
}


def unit_lines(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def exec_paths(path: Path) -> set[str]:
    """The absolute commands of a unit's Exec*= lines (prefixes like - and @ removed)."""
    found = set()
    for line in unit_lines(path):
        if line.startswith("Exec") and "=" in line:
            command = line.split("=", 1)[1].lstrip("-@:+!").split()
            if command and command[0].startswith("/"):
                found.add(command[0])
    return found


def verify_root(tmp_path: Path, units: list[Path]) -> Path:
    root = tmp_path / "root"
    shutil.copytree("/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
    system = root / "etc/systemd/system"
    system.mkdir(parents=True)
    for unit in units:
        target = system / (DROP_INS.get(unit.name) or unit.name)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(unit, target)
    debians = sorted((root / "usr/lib/systemd/system").glob("mosquitto.service"))
    commands = set().union(*(exec_paths(unit) for unit in [*units, *debians]))
    for command in commands:
        stub = root / command.lstrip("/")
        stub.parent.mkdir(parents=True, exist_ok=True)
        stub.write_text("#!/bin/sh\n")
        stub.chmod(0o755)
    return root


def systemd_analyze() -> str:
    """systemd's offline checker, installed with Debian's systemd when missing (a minbase root has none)."""
    return ensure_installed("systemd", binary="systemd-analyze")


def exposure(unit_file: Path) -> float:
    result = subprocess.run([systemd_analyze(), "security", "--offline=true", "--no-pager", str(unit_file)],
                            capture_output=True, text=True)
    found = re.search(r"Overall exposure level for \S+: ([0-9.]+)", result.stdout)
    assert found, result.stdout + result.stderr
    return float(found.group(1))


@pytest.mark.parametrize("units", [[AGENT], [KIOSK], [AGENT, "edge-agent-shelf.conf"],
                                   ["mosquitto-connected-store.conf"], [CONSOLE]],
                         ids=["agent", "kiosk", "shelf", "mosquitto", "console"])
def test_unit_files_verify_clean_where_their_commands_exist(tmp_path, units):
    ensure_installed("mosquitto", binary="mosquitto")  # Debian's mosquitto.service, which our drop-in changes
    root = verify_root(tmp_path, [SYSTEMD / name for name in units])
    unit = units[0] if units[0].endswith(".service") else DROP_INS[units[0]].split(".d/")[0]
    result = subprocess.run([systemd_analyze(), "verify", "--man=no", f"--root={root}", unit],
                            capture_output=True, text=True)
    assert result.returncode == 0 and not (result.stdout + result.stderr).strip(), result.stdout + result.stderr


@pytest.mark.parametrize("unit", sorted(EXPOSURE))
def test_unit_security_exposure_is_within_the_target(unit):
    assert exposure(SYSTEMD / unit) <= EXPOSURE[unit]


def test_shelf_drop_in_keeps_the_agents_exposure_within_the_target(tmp_path):
    shutil.copy(SYSTEMD / AGENT, tmp_path / AGENT)
    (tmp_path / f"{AGENT}.d").mkdir()
    shutil.copy(SYSTEMD / "edge-agent-shelf.conf", tmp_path / f"{AGENT}.d" / "shelf.conf")
    assert exposure(tmp_path / AGENT) <= EXPOSURE[AGENT]


def test_agent_restarts_when_killed_but_not_on_invalid_config_and_keeps_its_watchdog():
    lines = unit_lines(SYSTEMD / AGENT)
    for setting in ("Type=notify", "Restart=always", "RestartPreventExitStatus=2", "WatchdogSec=30",
                    "NoNewPrivileges=true", "ProtectSystem=strict", "PrivateTmp=true", "DevicePolicy=closed",
                    "SystemCallFilter=@system-service", "MemoryMax=512M"):
        assert setting in lines, setting


def test_kiosk_restarts_whenever_it_dies_on_tty1_with_gpu_groups():
    lines = unit_lines(SYSTEMD / KIOSK)
    assert "Restart=always" in lines and "TTYPath=/dev/tty1" in lines
    assert "SupplementaryGroups=render video input" in lines
    assert any(line.startswith("ExecStart=/usr/bin/cage ") and "--fullscreen" in line for line in lines)


def test_console_restarts_unless_its_config_is_invalid_and_gets_its_secrets_as_credentials_only():
    lines = unit_lines(SYSTEMD / CONSOLE)
    start = "ExecStart=/opt/connected-store/current/bin/store-console run --config /etc/connected-store/console.toml"
    for setting in ("Restart=always", "RestartPreventExitStatus=2", "User=connected-store", "NoNewPrivileges=true",
                    "ProtectSystem=strict", "PrivateDevices=true", "CapabilityBoundingSet=", start):
        assert setting in lines, setting
    credentials = {line.split("=", 1)[1].split(":", 1)[0] for line in lines if line.startswith("LoadCredential=")}
    assert credentials == {"mqtt-username", "mqtt-password", "broker-ca.pem", "console-https.pem",
                           "console-https.key"}
    # The installed configuration names the credentials where systemd puts them, not the root-only folder.
    example = (SYSTEMD.parent / "config" / "console.example.toml").read_text(encoding="utf-8")
    for name in ("broker-ca.pem", "console-https.pem", "console-https.key"):
        assert f'"/run/credentials/{CONSOLE}/{name}"' in example, name


@pytest.mark.parametrize("unit", [AGENT, KIOSK, CONSOLE])
def test_units_log_to_the_journal_only(unit):
    lines = unit_lines(SYSTEMD / unit)
    assert "StandardOutput=journal" in lines and "StandardError=journal" in lines
    to_files = ("StandardOutput=file", "StandardOutput=append", "LogsDirectory=")
    assert not any(line.startswith(to_files) for line in lines)
