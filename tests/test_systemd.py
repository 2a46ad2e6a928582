"""systemd notifications over a real AF_UNIX datagram socket."""

import socket

from edge_agent.agent import Agent
from edge_agent.systemd import Notifier


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
