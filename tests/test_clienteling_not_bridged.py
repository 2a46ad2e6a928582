"""What a shopper shares with staff for a call stays in the store: never bridged, never retained, read only by the
store console's login. Checked on the generated files (``edge-agent broker provision``'s bridge configuration,
central's ACL, the store's ACL) and on the shipped examples in config/mosquitto/."""

from __future__ import annotations

from pathlib import Path

from edge_agent.contract import CALL_CONSOLE_COMMANDS, CLIENTELING, COMMANDS, RESPONSES
from edge_agent.provisioning import EXAMPLE
from edge_agent.provisioning.acl import grants, render_central_acl
from edge_agent.provisioning.mosquitto_config import render_bridge_conf

SHIPPED = Path(__file__).resolve().parents[1] / "config" / "mosquitto"


def _matches(topic_filter: str, topic: str) -> bool:
    """MQTT's topic matching of ``topic_filter`` (``+``, ``#``) against ``topic``."""
    parts, levels = topic_filter.split("/"), topic.split("/")
    for index, part in enumerate(parts):
        if part == "#":
            return True
        if index >= len(levels) or (part != "+" and part != levels[index]):
            return False
    return len(parts) == len(levels)


def test_a_shared_call_is_neither_bridged_nor_retained_and_only_the_console_login_reads_it():
    assert CLIENTELING.personal and not CLIENTELING.bridged and not CLIENTELING.retained
    topic = CLIENTELING.topic_for(EXAMPLE.store, "kiosk-1")
    for text in (render_bridge_conf(EXAMPLE), (SHIPPED / "bridge.conf").read_text(),
                 render_central_acl([EXAMPLE.store]), (SHIPPED / "central.acl").read_text()):
        assert "clienteling" not in text and "/local/" not in text, "a local topic in the bridge or at central"
        filters = [line.split()[1] if line.startswith("topic ") and len(line.split()) > 2 and line.split()[1]
                   not in ("read", "write", "readwrite") else line.split()[-1]
                   for line in text.splitlines() if line.startswith("topic ")]
        assert not any(_matches(f, topic) for f in filters), "a wildcard of the bridge or central covers it"
    readers = {login.name for login in EXAMPLE.logins if topic in grants(EXAMPLE, login)[1]}
    writers = {login.name for login in EXAMPLE.logins if topic in grants(EXAMPLE, login)[0]}
    assert readers == {"console"} and writers == {"kiosk-1"}


def test_the_console_s_answers_and_views_are_local_and_no_screen_may_send_them():
    for name in CALL_CONSOLE_COMMANDS:
        for message in (COMMANDS[name], RESPONSES[name]):
            assert not message.bridged and not message.retained
        topic = COMMANDS[name].topic_for(EXAMPLE.store, "kiosk-1")
        writers = {login.name for login in EXAMPLE.logins if topic in grants(EXAMPLE, login)[0]}
        assert writers == {"console"}, f"{name}: only the console's login may send it"
        assert topic not in (SHIPPED / "bridge.conf").read_text()
