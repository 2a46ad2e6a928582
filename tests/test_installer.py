"""``systemd/install.sh`` on a fresh Debian 12 root, for each role: installed, verified, idempotent, removed.

A minbase bookworm root is made by debootstrap once (cached across runs, ``tests/support/debian_root.py``)
and copied for each test; the installer runs in it by chroot with a wheelhouse made offline from this
run's virtual environment (``tests/support/wheelhouse.py``), so no test reaches PyPI. Debian's packages
(systemd, Mosquitto, cage...) come from the mirror this machine's apt uses, as on a Pi.

systemd is not PID 1 in a chroot: ``systemctl enable`` works there (it only writes symlinks), starting
does not. So the upgrade's READY check is the installer's injectable probe: a script that starts the
active version's agent as its unit would (its user, ``NOTIFY_SOCKET``) and waits for ``READY=1``; a
version whose agent fails at start must be switched back.
"""

from __future__ import annotations

import hashlib
import os
import stat
import textwrap
import tomllib
from pathlib import Path

import pytest

from tests.support.debian_root import Chroot, base_root
from tests.support.mosquitto import free_port
from tests.support.wheelhouse import build_wheelhouse, project_wheel

ROOT = Path(__file__).resolve().parent.parent
SOURCE = "/srv/connected-store"  # the checkout, read-only in the root
WHEELS = "/srv/wheelhouse"
UPGRADE_WHEELS = "/srv/wheelhouse-upgrade"
INSTALL = f"sh {SOURCE}/systemd/install.sh --wheelhouse {WHEELS}"  # as the README says, through the script
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
GOOD_NEXT = f"{VERSION}.post1"
BROKEN_NEXT = f"{VERSION}.post2"

PROVISIONED = "etc/connected-store/broker/"  # edge-agent broker provision's folder (--provision)
# What the installer may touch: compared between two runs (path -> mode, owner, size, mtime, link).
WATCHED = ("/opt/connected-store", "/etc/connected-store", "/etc/systemd/system", "/etc/pam.d",
           "/etc/tmpfiles.d", "/etc/mosquitto", "/etc/passwd", "/etc/group", "/var/lib/connected-store")

READY_PROBE = textwrap.dedent('''\
    #!/usr/bin/python3
    """Starts the active version's agent as edge-agent.service would (its user, a NOTIFY_SOCKET) and exits 0
    once it sends READY=1, 1 when it exits first or stays silent."""
    import os, shutil, socket, subprocess, sys, tempfile, time
    folder = tempfile.mkdtemp()
    os.chmod(folder, 0o755)
    path = os.path.join(folder, "notify")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(path)
    os.chmod(path, 0o666)
    server.settimeout(1)
    state = "/var/lib/connected-store"  # what StateDirectory= makes
    os.makedirs(state, mode=0o700, exist_ok=True)
    shutil.chown(state, "connected-store", "connected-store")
    env = {"PATH": "/usr/bin:/bin", "HOME": state, "NOTIFY_SOCKET": path, "CS_STORE_HMAC_KEY": "ab" * 32}
    agent = subprocess.Popen(["setpriv", "--reuid=connected-store", "--regid=connected-store", "--init-groups",
                              "/opt/connected-store/current/bin/edge-agent", "run", "--config",
                              "/etc/connected-store/agent.toml"], env=env)
    deadline = time.monotonic() + 55
    while time.monotonic() < deadline:
        try:
            message = server.recv(4096).decode()
        except socket.timeout:
            if agent.poll() is not None:
                print(f"probe: the agent of {os.environ['CS_VERSION']} exited {agent.returncode} before READY")
                sys.exit(1)
            continue
        if "READY=1" in message.split("\\n"):
            print(f"probe: the agent of {os.environ['CS_VERSION']} is READY")
            agent.terminate()
            agent.wait(30)
            sys.exit(0)
    agent.kill()
    sys.exit(1)
''')

BROKEN_CLI = '''"""A build of the agent that fails at start: the installer test's broken upgrade."""


def main() -> None:
    raise SystemExit("edge-agent: this build fails at start on purpose")
'''


@pytest.fixture(scope="session")
def debian_base():
    """The minbase bookworm root, made once (kept across runs in $CS_DEBIAN_ROOT_CACHE)."""
    return base_root()


@pytest.fixture(scope="session")
def wheelhouses(tmp_path_factory):
    """The wheelhouse of this version, and one with a good next version and a broken one."""
    folder = build_wheelhouse(tmp_path_factory.mktemp("wheelhouse"))
    upgrade = tmp_path_factory.mktemp("wheelhouse-upgrade")
    project_wheel(upgrade, version=GOOD_NEXT)
    project_wheel(upgrade, version=BROKEN_NEXT, replace={"edge_agent/cli.py": BROKEN_CLI})
    return folder, upgrade


@pytest.fixture
def fresh_root(debian_base, wheelhouses, tmp_path):
    """A copy of the base root with the checkout and the wheelhouses mounted read-only."""
    root = Chroot(tmp_path / "root", debian_base)
    try:
        root.bind(ROOT, Path(SOURCE), read_only=True)
        root.bind(wheelhouses[0], Path(WHEELS), read_only=True)
        root.bind(wheelhouses[1], Path(UPGRADE_WHEELS), read_only=True)
        yield root
    finally:
        root.close()


def snapshot(root: Chroot) -> dict[str, tuple]:
    """Every file and folder under the watched paths: mode, owner, size, modification time, link target,
    and the content's sha256 of the files under /etc."""
    found: dict[str, tuple] = {}
    for watched in WATCHED:
        top = root.file(watched)
        if not top.exists() and not top.is_symlink():
            continue
        paths = [top, *top.rglob("*")] if top.is_dir() and not top.is_symlink() else [top]
        for path in paths:
            info = path.lstat()
            link = os.readlink(path) if path.is_symlink() else None
            name = str(path.relative_to(root.path))
            # The configuration's content too (small); the software's by size and time.
            digest = (hashlib.sha256(path.read_bytes()).hexdigest()
                      if name.startswith("etc/") and stat.S_ISREG(info.st_mode) else None)
            found[name] = (info.st_mode, info.st_uid, info.st_gid, info.st_size, info.st_mtime_ns, link, digest)
    return found


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def install(root: Chroot, arguments: str, check: bool = True) -> str:
    result = root.run(f"{INSTALL} {arguments}", check=check)
    return result.stdout


def assert_units_verify(root: Chroot, *units: str) -> None:
    # --man=no: a minimal root has no man pages to check Debian's Documentation=man:... links against.
    result = root.run(f"systemd-analyze verify --man=no {' '.join(units)}", check=False)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout


def assert_common_install(root: Chroot, units: list[str]) -> None:
    """The software, the symlink, the configuration folder and the credentials, and the units enabled."""
    assert root.run("getent passwd connected-store").stdout.split(":")[6].strip() == "/usr/sbin/nologin"
    assert os.readlink(root.file("/opt/connected-store/current")) == VERSION
    assert root.file(f"/opt/connected-store/{VERSION}/bin/edge-agent").is_file()
    assert mode(root.file("/etc/connected-store/credentials")) == 0o700
    assert root.file("/etc/connected-store/credentials").stat().st_uid == 0
    for unit in units:
        assert root.run(f"systemctl is-enabled {unit}", check=False).stdout.strip() == "enabled", unit


def assert_second_run_changes_nothing(root: Chroot, arguments: str) -> None:
    before = snapshot(root)
    output = install(root, arguments)
    assert "install: nothing changed" in output, output
    after = snapshot(root)
    # `edge-agent broker provision` writes its own folder again, unchanged but with new times: what it
    # holds must stay the same, and everything installed from it is compared whole above.
    for path in [path for path in after if path.startswith(PROVISIONED)]:
        after[path] = after[path][:4] + after[path][5:]
        before[path] = before[path][:4] + before[path][5:]
    assert after == before


def test_kiosk_role_on_fresh_debian_installs_verified_units_and_valid_config_twice_the_same(fresh_root):
    root = fresh_root
    output = install(root, "--role kiosk")
    assert "install: installed connected-store" in output
    assert "the units wait for these credentials" in output  # it creates no secret, and says so
    assert_common_install(root, ["edge-agent.service", "connected-store-kiosk.service"])
    for name in ("agent.toml", "kiosk.toml"):
        config = root.file(f"/etc/connected-store/{name}")
        example = ROOT / "config" / name.replace(".toml", ".example.toml")
        assert mode(config) == 0o640 and config.read_bytes() == example.read_bytes()
    assert root.file("/etc/pam.d/connected-store-kiosk").is_file()
    assert "consoleblank" in root.file("/etc/tmpfiles.d/connected-store-kiosk.conf").read_text()
    assert root.file("/usr/bin/cage").is_file()
    for library in ("libmtdev.so.1", "libGL.so.1"):
        assert root.run(f"ldconfig -p | grep -q {library}", check=False).returncode == 0, library
    assert root.run("command -v xsel", check=False).returncode == 0
    assert_units_verify(root, "/etc/systemd/system/edge-agent.service",
                        "/etc/systemd/system/connected-store-kiosk.service")
    # The agent's and the kiosk's own validators, from the installed version.
    root.run("/opt/connected-store/current/bin/edge-agent validate-config /etc/connected-store/agent.toml")
    root.run("/opt/connected-store/current/bin/kiosk --config /etc/connected-store/kiosk.toml --validate-config")

    assert_second_run_changes_nothing(root, "--role kiosk")


def test_reinstall_keeps_edited_config_and_makes_loose_credentials_root_only(fresh_root):
    root = fresh_root
    install(root, "--role shelf")
    agent_toml = root.file("/etc/connected-store/agent.toml")
    edited = agent_toml.read_text().replace('id = "kiosk-1"', 'id = "shelf-7"')
    agent_toml.write_text(edited)
    secret = root.file("/etc/connected-store/credentials/store-hmac-key")
    secret.write_text("ab" * 32)
    secret.chmod(0o644)
    output = install(root, "--role shelf")
    assert agent_toml.read_text() == edited
    assert mode(secret) == 0o600 and "credentials/store-hmac-key: mode 0600" in output
    assert root.file("/etc/systemd/system/edge-agent.service.d/shelf.conf").is_file()
    assert_units_verify(root, "/etc/systemd/system/edge-agent.service")
    root.run("/opt/connected-store/current/bin/edge-agent validate-config /etc/connected-store/agent.toml")
    assert_second_run_changes_nothing(root, "--role shelf")

    output = install(root, "--uninstall")
    assert not root.file("/opt/connected-store").exists()
    assert not root.file("/etc/systemd/system/edge-agent.service").exists()
    assert not root.file("/etc/systemd/system/edge-agent.service.d").exists()
    assert not root.file("/etc/systemd/system/multi-user.target.wants/edge-agent.service").is_symlink()
    assert agent_toml.read_text() == edited and secret.read_text() == "ab" * 32
    assert "kept /etc/connected-store" in output
    install(root, "--uninstall --purge")
    assert not root.file("/etc/connected-store").exists()
    assert root.run("getent passwd connected-store", check=False).returncode != 0


def test_broker_role_runs_debians_mosquitto_unit_with_our_config(fresh_root):
    root = fresh_root
    install(root, "--role broker")
    assert_common_install(root, ["mosquitto.service"])
    main = root.file("/etc/mosquitto/connected-store.conf")
    assert main.read_bytes() == (ROOT / "systemd/mosquitto-main.conf").read_bytes()
    conf = root.file("/etc/mosquitto/connected-store.d/connected-store.conf")
    assert conf.read_bytes() == (ROOT / "config/mosquitto/store.conf").read_bytes()
    assert root.file("/etc/mosquitto/connected-store.acl").is_file()
    passwords = root.file("/etc/mosquitto/connected-store.passwd")
    assert mode(passwords) == 0o640 and passwords.read_text() == ""
    drop_in = root.file("/etc/systemd/system/mosquitto.service.d/connected-store.conf").read_text()
    assert "ExecStart=/usr/sbin/mosquitto -c /etc/mosquitto/connected-store.conf" in drop_in
    assert_units_verify(root, "/lib/systemd/system/mosquitto.service")  # with its drop-in
    assert_second_run_changes_nothing(root, "--role broker")

    # Provisioned by broker17's command (edge-agent broker provision), with this machine also a device.
    provisioned = ("--role broker --role shelf --provision "
                   "'--store store-0042 --devices kiosk-1,shelf-3 --lan-address 192.168.42.2'")
    install(root, provisioned)
    made = root.file("/etc/connected-store/broker")
    assert mode(made) == 0o700 and made.stat().st_uid == 0
    assert conf.read_bytes() == (made / "mosquitto/conf.d/connected-store.conf").read_bytes()
    logins = [line.split(":")[0] for line in passwords.read_text().splitlines()]
    assert {"kiosk-1", "kiosk-1-screen", "shelf-3"} <= set(logins)
    assert mode(passwords) == 0o640 and mode(root.file("/etc/mosquitto/certs/broker.key")) == 0o640
    # This machine's agent is device kiosk-1 (agent.toml): its login, root-only.
    username = root.file("/etc/connected-store/credentials/mqtt-username")
    assert username.read_text().strip() == "kiosk-1" and mode(username) == 0o600
    assert_units_verify(root, "/lib/systemd/system/mosquitto.service", "/etc/systemd/system/edge-agent.service")
    assert_second_run_changes_nothing(root, provisioned)
    install(root, "--uninstall")
    assert not root.file("/etc/systemd/system/mosquitto.service.d/connected-store.conf").exists()
    assert not root.file("/etc/mosquitto/connected-store.conf").exists()  # Debian's own mosquitto.conf again
    assert conf.is_file()  # the broker's configuration is configuration: kept


def test_upgrade_switches_to_a_ready_version_and_back_from_one_whose_agent_fails_at_start(fresh_root):
    root = fresh_root
    install(root, "--role shelf")
    # A shelf without a reader, its broker not reachable: the agent is READY offline (events wait).
    agent_toml = root.file("/etc/connected-store/agent.toml")
    text = agent_toml.read_text()
    nfc_start = text.index("[nfc]")
    text = text[:nfc_start] + text[text.index("\n[", nfc_start + 1) + 1:]
    text = text.replace("port = 1883", f"port = {free_port()}").replace('kind = "kiosk"', 'kind = "shelf"')
    agent_toml.write_text(text)
    probe = root.file("/usr/local/bin/cs-ready-probe")
    probe.write_text(READY_PROBE)
    probe.chmod(0o755)
    upgrade = f"--upgrade --wheelhouse {UPGRADE_WHEELS} --readiness-probe /usr/local/bin/cs-ready-probe"

    output = install(root, f"{upgrade} --version {GOOD_NEXT}")
    assert f"upgraded from {VERSION} to {GOOD_NEXT}" in output, output
    assert os.readlink(root.file("/opt/connected-store/current")) == GOOD_NEXT
    assert root.file(f"/opt/connected-store/{VERSION}/bin/edge-agent").is_file()  # beside it, not replaced

    result = root.run(f"{INSTALL} {upgrade} --version {BROKEN_NEXT}", check=False)
    assert result.returncode == 1, result.stdout
    expected = (f"upgrade to {BROKEN_NEXT} failed: the agent did not report READY within 60 s; "
                f"switched back to {GOOD_NEXT}")
    assert expected in result.stdout, result.stdout
    assert os.readlink(root.file("/opt/connected-store/current")) == GOOD_NEXT
    assert_units_verify(root, "/etc/systemd/system/edge-agent.service")
