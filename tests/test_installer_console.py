"""``systemd/install.sh --role console`` on a fresh Debian 12 root (tests/test_installer.py's fixtures): the store
console's unit verified where the installer put it, its configuration from the example, its own credentials
(broker login, the broker's CA, its HTTPS certificate) from ``edge-agent broker provision`` root-only in
``/etc/connected-store/credentials/console``, the unit enabled; a second run changes nothing; and the installed
console starts as its unit would (its user, the credentials where systemd puts them) and answers over HTTPS with
the provisioned certificate.
"""

from __future__ import annotations

import textwrap

from tests import test_installer as base
from tests.support.mosquitto import free_port
from tests.test_installer import (
    ROOT,
    assert_common_install,
    assert_second_run_changes_nothing,
    assert_units_verify,
    install,
    mode,
)

# The installer tests' fixtures (the cached Debian root, the wheelhouses, a fresh copy of the root), by name.
debian_base, wheelhouses, fresh_root = base.debian_base, base.wheelhouses, base.fresh_root

CONSOLE_UNIT = "store-console.service"
PROVISION = "--role broker --role console --provision '--store store-0042 --devices kiosk-1 --lan-address 192.168.42.2'"
CREDENTIAL_NAMES = ("mqtt-username", "mqtt-password", "broker-ca.pem", "console-https.pem", "console-https.key")

# Starts the installed console as store-console.service would: its user, $CREDENTIALS_DIRECTORY at
# /run/credentials/store-console.service (what LoadCredential= makes), and asks /health over HTTPS, trusting the
# store CA that signed its certificate. The broker is not running in the root: /health answers 503 (degraded).
HEALTH_PROBE = textwrap.dedent('''\
    #!/usr/bin/python3
    import os, shutil, ssl, subprocess, sys, time, urllib.error, urllib.request
    run = "/run/credentials/store-console.service"
    os.makedirs(run, exist_ok=True)
    for name in os.listdir("/etc/connected-store/credentials/console"):
        shutil.copy(os.path.join("/etc/connected-store/credentials/console", name), run)
        shutil.chown(os.path.join(run, name), "connected-store", "connected-store")
    state = "/var/lib/connected-store"
    os.makedirs(state, mode=0o700, exist_ok=True)
    shutil.chown(state, "connected-store", "connected-store")
    env = {"PATH": "/usr/bin:/bin", "HOME": state, "CREDENTIALS_DIRECTORY": run}
    console = subprocess.Popen(["setpriv", "--reuid=connected-store", "--regid=connected-store", "--init-groups",
                                "/opt/connected-store/current/bin/store-console", "run", "--config",
                                "/etc/connected-store/console.toml"], env=env)
    context = ssl.create_default_context(cafile=os.path.join(run, "broker-ca.pem"))
    context.check_hostname = False  # the certificate names the LAN address; the test reaches it on loopback
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            if console.poll() is not None:
                sys.exit(f"probe: the console exited {console.returncode}")
            try:
                urllib.request.urlopen(f"https://127.0.0.1:{sys.argv[1]}/health", context=context, timeout=5)
                print("probe: health 200")
                sys.exit(0)
            except urllib.error.HTTPError as error:
                print(f"probe: health {error.code} {error.read().decode()}")
                sys.exit(0)
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.5)
        sys.exit(f"probe: no answer on {sys.argv[1]}")
    finally:
        console.terminate()
        console.wait(30)
''')


def test_console_role_installs_a_verified_enabled_unit_with_root_only_credentials_and_serves_https(fresh_root):
    root = fresh_root
    output = install(root, PROVISION)
    assert "install: installed connected-store" in output
    assert_common_install(root, ["mosquitto.service", CONSOLE_UNIT])
    config = root.file("/etc/connected-store/console.toml")
    assert mode(config) == 0o640 and config.read_bytes() == (ROOT / "config/console.example.toml").read_bytes()
    folder = root.file("/etc/connected-store/credentials/console")
    assert mode(folder) == 0o700 and folder.stat().st_uid == 0
    for name in CREDENTIAL_NAMES:
        secret = folder / name
        assert secret.is_file() and mode(secret) == 0o600 and secret.stat().st_uid == 0, name
    assert (folder / "mqtt-username").read_text().strip() == "console"
    assert "the units wait for these credentials" not in output, output  # the console's are all there
    assert_units_verify(root, f"/etc/systemd/system/{CONSOLE_UNIT}", "/lib/systemd/system/mosquitto.service")
    root.run("/opt/connected-store/current/bin/store-console validate-config /etc/connected-store/console.toml")

    # The installed console runs as its unit would (the store id and broker address are the operator's to set).
    https, mqtt = free_port(), free_port()  # this machine's network: free ports, no broker on the MQTT one
    text = (config.read_text().replace('id = "store-1"', 'id = "store-0042"')
            .replace('host = "broker.store-1.local"', 'host = "127.0.0.1"').replace("port = 8883", f"port = {mqtt}")
            .replace('listen = ["0.0.0.0:8443"]', f'listen = ["127.0.0.1:{https}"]'))
    assert text.count(str(https)) == 1 and text.count(str(mqtt)) == 1, text
    config.write_text(text)
    probe = root.file("/usr/local/bin/console-health-probe")
    probe.write_text(HEALTH_PROBE)
    probe.chmod(0o755)
    result = root.run(f"/usr/local/bin/console-health-probe {https}", check=False)
    assert result.returncode == 0 and "probe: health 503" in result.stdout, result.stdout
    probe.unlink()
    assert_second_run_changes_nothing(root, PROVISION)

    install(root, "--uninstall")
    assert not root.file(f"/etc/systemd/system/{CONSOLE_UNIT}").exists()
    assert not root.file(f"/etc/systemd/system/multi-user.target.wants/{CONSOLE_UNIT}").is_symlink()
    assert config.read_text() == text  # configuration is kept


def test_console_role_alone_says_which_credentials_its_unit_waits_for(fresh_root):
    output = install(fresh_root, "--role console")
    assert_common_install(fresh_root, [CONSOLE_UNIT])
    assert "the units wait for these credentials" in output
    for name in CREDENTIAL_NAMES:
        assert f"console/{name}" in output, name
    assert_units_verify(fresh_root, f"/etc/systemd/system/{CONSOLE_UNIT}")
