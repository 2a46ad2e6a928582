"""The shipped config/mosquitto files are what the provisioning generates, and what it generates stays within
the contract.

``config/mosquitto/{store.conf, connected-store.acl, bridge.conf}`` are ``edge-agent broker provision``'s output
for the example store (:data:`edge_agent.provisioning.EXAMPLE`), ``central.conf`` and ``central.acl`` that of
``edge-agent broker central``: a test compares them byte for byte, so they never drift from the generators
(``edge-agent broker examples --out config/mosquitto`` writes them again). The others check the shape of what
is generated: no pattern, no wildcard beyond a store's own device level, listeners on loopback and the LAN
address only, client ids bound to logins on every listener, every message of the contract placed in a role.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from edge_agent.cli import run_command
from edge_agent.contract import ALL_MESSAGES, CLIENTELING, LOCAL, Message, Topics
from edge_agent.contract.roles import CONSOLE_PERSONAL, Role, every_right, rights
from edge_agent.provisioning import EXAMPLE
from edge_agent.provisioning.acl import render_acl, render_central_acl
from edge_agent.provisioning.examples import shipped, with_roles_table
from edge_agent.provisioning.mosquitto_config import render_bridge_conf, render_store_conf

CONFIG = Path(__file__).resolve().parents[1] / "config" / "mosquitto"


@pytest.mark.parametrize("name", sorted(shipped()))
def test_each_shipped_mosquitto_file_is_the_generated_one_for_the_example_store(name):
    assert (CONFIG / name).read_text() == shipped()[name], (
        f"config/mosquitto/{name} differs from what the provisioning generates: run "
        "`edge-agent broker examples --out config/mosquitto` (and review the diff)")


def test_the_examples_command_writes_exactly_the_shipped_files(tmp_path, capsys):
    assert run_command(["broker", "examples", "--out", str(tmp_path)]) == 0
    assert {path.name: path.read_text() for path in tmp_path.iterdir()} == shipped()
    assert "wrote" in capsys.readouterr().out


def directives(text: str) -> list[list[str]]:
    return [line.split() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_the_store_acl_names_every_topic_without_a_pattern_or_a_wildcard():
    lines = directives(render_acl(EXAMPLE))
    assert not [line for line in lines if line[0] == "pattern"], "a pattern gives its right to every login"
    topics = [line for line in lines if line[0] == "topic"]
    assert topics and all(line[1] in ("read", "write", "readwrite") and len(line) == 3 for line in topics)
    assert not [line for line in topics if "+" in line[2] or "#" in line[2]]
    assert all(line[2].split("/")[2] in (EXAMPLE.store, "central") for line in topics)
    users = [line[1] for line in lines if line[0] == "user"]
    assert users == [login.name for login in EXAMPLE.logins]


def test_centrals_acl_keeps_each_store_bridge_inside_its_own_store():
    current = None
    for line in directives(render_central_acl(["store-1", "store-2"])):
        if line[0] == "user":
            current = line[1]
            continue
        assert line[0] == "topic" and current is not None
        levels = line[2].split("/")
        if current.startswith("bridge-"):
            store = current.removeprefix("bridge-")
            assert store in (levels[2], levels[3]) and "#" not in line[2], line
            assert levels[2] == store or (levels[2] == "central" and levels[3] == store), line
        else:
            assert current == "central-systems" and "#" not in line[2]


def test_the_store_broker_listens_on_loopback_and_the_lan_address_only_binding_client_ids_to_logins():
    lines = directives(render_store_conf(EXAMPLE))
    listeners = [line for line in lines if line[0] == "listener"]
    assert [line[2:] for line in listeners] == [["127.0.0.1"], [EXAMPLE.lan_address]], "never every interface"
    blocks = "\n".join(" ".join(line) for line in lines).split("listener ")[1:]
    for block in blocks:
        assert "use_username_as_clientid true" in block.split("allow_anonymous")[0], block
    assert ["allow_anonymous", "false"] in lines
    assert "include_dir" not in {line[0] for line in lines}, "Mosquitto reads include_dir in its main file only"


def test_the_bridge_carries_each_bridged_message_by_name_and_checks_centrals_certificate():
    lines = directives(render_bridge_conf(EXAMPLE))
    assert not [line for line in lines if line[0] == "bridge_insecure"]
    assert {line[0] for line in lines} >= {"bridge_cafile", "bridge_certfile", "bridge_keyfile"}
    topics = {line[1] for line in lines if line[0] == "topic"}
    bridged = {m.topic_for(EXAMPLE.store, "+") for m in ALL_MESSAGES if m.bridged and rights(m).publishers}
    assert topics == bridged
    assert not [topic for topic in topics if "#" in topic or f"/{LOCAL.rsplit('/', 1)[-1]}/" in topic]


def test_every_message_of_the_contract_has_publishers_and_readers_or_is_explicitly_no_ones():
    everything = every_right()
    assert set(everything) == {message.name for message in ALL_MESSAGES}
    for name, right in everything.items():
        assert bool(right.publishers) == bool(right.subscribers), f"{name}: sent to no one, or by no one"


def test_a_message_the_roles_cannot_place_is_refused_rather_than_guessed():
    class Odd(BaseModel):
        pass

    odd = Message("odd", 1, Odd, "cs/v1/{store}/{device}/odd", "receive", "Nobody said who sends it.")
    with pytest.raises(ValueError, match="does not say who publishes it"):
        rights(odd)


def test_no_local_topic_is_given_to_central_and_nothing_personal_to_the_console_but_a_call_shared_by_consent():
    for message in ALL_MESSAGES:
        right = rights(message)
        roles = right.publishers | right.subscribers
        if not message.bridged:
            assert Role.CENTRAL not in roles, f"{message.name} is local: central may not touch it"
        if message is CLIENTELING:  # the shopper agreed at the kiosk, for this call only (edge_agent.clienteling)
            assert right.subscribers == {Role.CONSOLE} and right.publishers == {Role.AGENT}
            continue
        if message.personal and message.name not in CONSOLE_PERSONAL:  # staff's records: the console's login
            assert Role.CONSOLE not in roles, f"{message.name} is personal: not for the console"
        if message.personal and message.direction == "publish":
            # Staff's own data for the console (the one-time code's offer) is the console's alone, no screen's.
            readers = {Role.CONSOLE} if message.name in CONSOLE_PERSONAL else {Role.SCREEN}
            assert right.subscribers <= readers, f"{message.name}: only {readers} may read it"


def _matches(topic_filter: str, topic: str) -> bool:
    levels, parts = topic.split("/"), topic_filter.split("/")
    for index, part in enumerate(parts):
        if part == "#":
            return True
        if index >= len(levels) or part not in ("+", levels[index]):
            return False
    return len(parts) == len(levels)


def test_what_the_contract_gives_the_agent_to_read_is_what_the_agent_subscribes_to():
    topics = Topics(EXAMPLE.store, "kiosk-1")
    filters = [topic_filter for topic_filter, _ in topics.subscriptions()]
    for message in ALL_MESSAGES:
        topic = message.topic_for(EXAMPLE.store, "kiosk-1")
        subscribed = any(_matches(topic_filter, topic) for topic_filter in filters)
        given = Role.AGENT in rights(message).subscribers
        assert subscribed == given, (
            f"{message.name}: the agent {'subscribes to' if subscribed else 'does not subscribe to'} it, "
            f"the contract {'gives' if given else 'does not give'} it")


def test_the_roles_table_in_docs_broker_md_is_the_generated_one():
    document = (CONFIG.parents[1] / "docs" / "broker.md").read_text()
    assert document == with_roles_table(document), (
        "docs/broker.md's roles table is not the contract's: run "
        "`edge-agent broker examples --out config/mosquitto --docs docs/broker.md`")
