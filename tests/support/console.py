"""The store console for tests: its configuration and TLS certificate, ``store-console run`` as a child process,
staff records pushed as central does, and a real Chromium (Debian's ``chromium`` + ``chromium-driver``) driven
by Selenium.

- :func:`write_console_config` makes a test store CA and a certificate for ``localhost``/127.0.0.1
  (:mod:`edge_agent.provisioning.certificates`, as ``edge-agent broker provision`` does for the console) and a
  configuration for a broker on loopback;
- :class:`ConsoleProcess` runs the console and waits until its health check says it has the broker;
- :func:`push_staff` publishes central's ``staff`` record with a real argon2id verifier;
- :func:`browser` gives a headless Chromium at a window size (phone: 390x844); it accepts the test CA's
  certificate (``acceptInsecureCerts``: the cookies stay Secure, the page is still HTTPS);
- :func:`log_in` fills the login page like a person.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx

from edge_agent.contract import PUSHES, encode
from edge_agent.provisioning.certificates import CertificateAuthority
from edge_agent.staff.pin import hash_pin
from tests.support.mosquitto import free_port
from tests.support.system import ensure_installed

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
SCREENS = ARTIFACTS / "screens"
PHONE = (390, 844)
DESKTOP = (1280, 900)


def write_console_config(folder: Path, broker_port: int, store: str, extra: str = "") -> tuple[Path, int]:
    """A console configuration for ``store`` on a broker at 127.0.0.1:``broker_port``; (path, HTTPS port)."""
    folder.mkdir(parents=True, exist_ok=True)
    ca = CertificateAuthority.create("test store CA")
    ca.issue_server("localhost", dns_names=["localhost"], ip_addresses=["127.0.0.1"]).save(
        folder / "console.pem", folder / "console.key")
    port = free_port()
    path = folder / "console.toml"
    path.write_text(textwrap.dedent(f"""\
        [store]
        id = "{store}"
        [mqtt]
        host = "127.0.0.1"
        port = {broker_port}
        keepalive_s = 5
        reconnect_min_s = 0.5
        reconnect_max_s = 1.0
        [https]
        listen = ["127.0.0.1:{port}"]
        cert_file = "{folder / 'console.pem'}"
        key_file = "{folder / 'console.key'}"
        [database]
        path = "{folder / 'console.db'}"
        """) + extra)
    return path, port


class ConsoleProcess:
    """``store-console run`` in a child process."""

    def __init__(self, config_path: Path, port: int, log_path: Path, env: dict[str, str] | None = None):
        self.config_path = config_path
        self.port = port
        self.log_path = log_path
        self.env = env or {}
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> ConsoleProcess:
        """Start it and wait until ``/health`` says it is connected to the broker."""
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "edge_agent.console.cli", "run", "--config", str(self.config_path)],
                stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **self.env}, cwd=ROOT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the console exited ({self.process.returncode}):\n{self.log()}")
            try:
                if httpx.get(self.url + "/health", verify=False, timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"the console was not healthy within {timeout} s:\n{self.log()}")

    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def staff_push(staff: str, pin: str, role: str = "staff", display_name: str = "Anna", version: int = 1) -> bytes:
    """Central's ``staff`` record of ``staff`` with a verifier of ``pin``."""
    return encode(PUSHES["staff"], {"staff": staff, "version": version, "display_name": display_name,
                                    "role": role, "pin_verifier": hash_pin(pin), "active": True})[1]


def browser(width: int, height: int):  # -> selenium.webdriver.Chrome
    """A headless Chromium of ``width`` x ``height`` (CSS pixels), installing Debian's chromium when missing."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary = ensure_installed("chromium", binary="chromium")
    driver_path = ensure_installed("chromium-driver", binary="chromedriver")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     f"--window-size={width},{height}", "--force-device-scale-factor=1", "--lang=nl"):
        options.add_argument(argument)
    options.accept_insecure_certs = True
    # Headless Chromium ignores --lang for Accept-Language: the pages' language is Dutch, as in the store.
    options.add_experimental_option("prefs", {"intl.accept_languages": "nl"})
    if width < 500:  # Chromium's windows are at least 500 px wide: a phone is emulated (a touch screen, too)
        options.add_experimental_option("mobileEmulation", {
            "deviceMetrics": {"width": width, "height": height, "pixelRatio": 2, "touch": True}})
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    driver.set_page_load_timeout(60)
    return driver


def log_in(driver, url: str, staff: str, pin: str) -> None:
    """Open the login page of ``url`` and log in as ``staff`` with ``pin`` (the result is the test's to check)."""
    from selenium.webdriver.common.by import By

    driver.get(url + "/login")
    driver.find_element(By.ID, "staff").send_keys(staff)
    driver.find_element(By.ID, "pin").send_keys(pin)
    driver.find_element(By.ID, "login").click()


def screenshot(driver, name: str) -> Path:
    """Save the whole page as ``tests/artifacts/screens/<name>.png``."""
    SCREENS.mkdir(parents=True, exist_ok=True)
    path = SCREENS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path
