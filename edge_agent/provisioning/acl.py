"""The store broker's ACL, and central's ACL for the stores' bridges, generated from the contract.

Every right comes from :func:`edge_agent.contract.roles.rights`: a login may write a topic when its role
publishes that message and read it when its role receives it; a device's roles (agent, shelf, screen) for
their own device only, the console and central for every device of the store on which some role of that
device's kind sends or receives the message (central may not read a shelf's taps: a shelf never taps). Each
topic is written out for this store and device: there is no ``pattern`` line and no wildcard, because a
pattern gives its right to every login (``cs/v1/+/%u/#`` once made any login a device named after itself)
and a wildcard reaches beyond the contract.

Central's broker (:func:`render_central_acl`) does not know the stores' devices, so there the device level is
``+``, inside the store's own topics and per message of the contract.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..contract.catalogue import ALL_MESSAGES, STATE, Message
from ..contract.roles import DEVICE_ROLES, Family, Rights, Role, rights
from .plan import CENTRAL_LOGIN, DeviceKind, Login, StorePlan

#: The roles acting for a device of each kind.
KIND_ROLES: dict[DeviceKind, frozenset[Role]] = {"kiosk": frozenset({Role.AGENT, Role.SCREEN}),
                                                 "shelf": frozenset({Role.SHELF})}
#: The bridge's own status (Mosquitto's `notification_topic`: "1"/"0", not a contract message), under the
#: device level "bridge" that no device may take.
BRIDGE_DEVICE = "bridge"
#: Central's own systems at central's broker (pushes and commands to every store; everything bridged).
CENTRAL_SYSTEMS_LOGIN = "central-systems"


def _has_device(message: Message) -> bool:
    return "{device}" in message.topic


def grants(plan: StorePlan, login: Login) -> tuple[set[str], set[str]]:
    """(topics ``login`` may write, topics it may read) on ``plan``'s store broker."""
    write: set[str] = set()
    read: set[str] = set()
    kinds = {device.id: device.kind for device in plan.devices}
    for message in ALL_MESSAGES:
        right = rights(message)
        for topic in _topics(plan, login, message, right, kinds):
            if login.role in right.publishers:
                write.add(topic)
            if login.role in right.subscribers:
                read.add(topic)
    return write, read


def _topics(plan: StorePlan, login: Login, message: Message, right: Rights, kinds: dict[str, DeviceKind]
            ) -> list[str]:
    if login.role not in right.publishers | right.subscribers:
        return []
    if not _has_device(message):
        return [message.topic_for(plan.store)]
    if login.role in DEVICE_ROLES:
        return [message.topic_for(plan.store, login.device or "")]
    if login.role is Role.CONSOLE and Role.CONSOLE in right.publishers and right.family is Family.EVENT:
        # The console's own events (its staff audit) are under its own device level, its login's name: it may
        # not write a device's events.
        return [message.topic_for(plan.store, login.name)]
    involved = right.publishers | right.subscribers
    return [message.topic_for(plan.store, device) for device, kind in kinds.items() if KIND_ROLES[kind] & involved]


def _ordered(plan: StorePlan, topics: set[str], login: Login) -> list[str]:
    """``topics`` in the catalogue's order (devices in the plan's order), so the file reads like the contract."""
    order: list[str] = []
    for device in (plan.device_ids if login.role not in DEVICE_ROLES else (login.device or "",)):
        order += [m.topic_for(plan.store, device) for m in ALL_MESSAGES if _has_device(m)]
    order += [m.topic_for(plan.store) for m in ALL_MESSAGES if not _has_device(m)]
    position = {topic: index for index, topic in reversed(list(enumerate(order)))}
    return sorted(topics, key=lambda topic: (position.get(topic, len(order)), topic))


def _lines(plan: StorePlan, login: Login, write: set[str], read: set[str]) -> list[str]:
    lines = []
    for topic in _ordered(plan, write | read, login):
        access = "readwrite" if topic in write and topic in read else "write" if topic in write else "read"
        lines.append(f"topic {access} {topic}")
    return lines


ROLE_NOTES: dict[Role, str] = {
    Role.AGENT: "the edge agent of kiosk {device}: its status, events, answers and its kiosk's local topics out; "
                "the commands to it, its kiosk's requests, its probe and this store's central pushes in",
    Role.SHELF: "the edge agent of shelf/camera device {device}: its status, what its camera sees and the "
                "answers to central's commands out; those commands and its probe in. No screen, no pushes",
    Role.SCREEN: "the kiosk app of {device}: reads its device's status and the local topics its screens show, "
                 "sends its local requests. No events, no central pushes, no commands",
    Role.CONSOLE: "the store console: reads every device's status and the alerts (staff calls, shelves, errors, "
                  "counts), the staff records and the kiosks' content schedules; writes its own staff audit and "
                  "the console's content requests",
    Role.CENTRAL: "central connecting into this broker (a bridge run on central's side, or a store tool acting for "
                  "central): writes pushes and bridged commands, reads what is bridged out, never a local topic",
}


def render_acl(plan: StorePlan) -> str:
    """The store broker's ACL file (``acl_file``) for ``plan``."""
    out = [
        f"# ACL of the store broker (Mosquitto 2) of store {plan.store}: generated by `edge-agent broker provision`",
        "# from the contract (edge_agent/contract/roles.py); do not edit, provision again.",
        "# Each login gets exactly the topics its role publishes (write) or receives (read), for this store and",
        "# its own device (the console and central: every device). No `pattern` line, no wildcard: a pattern",
        "# gives its right to every login. A client's id is its login (use_username_as_clientid), so no login",
        "# can take over another's connection or persistent session. Anything else, anonymous clients included",
        "# (allow_anonymous false), gets nothing. The bridge this broker runs itself (conf.d/central-bridge.conf) is",
        "# not a login: Mosquitto does not apply the ACL to it; its `topic` lines are its rights.",
    ]
    for login in plan.logins:
        write, read = grants(plan, login)
        out += ["", f"# {login.name}: " + ROLE_NOTES[login.role].format(device=login.device), f"user {login.name}"]
        out += _lines(plan, login, write, read)
    return "\n".join(out) + "\n"


def bridged(direction: str) -> list[Message]:
    """The bridged messages the store sends out (``publish``) or takes in (``receive``), in catalogue order."""
    return [m for m in ALL_MESSAGES if m.bridged and m.direction == direction and rights(m).publishers]


def central_grants(store: str) -> tuple[list[str], list[str]]:
    """(topics store ``store``'s bridge may write, topics it may read) at central, device level ``+``."""
    write = [m.topic_for(store, "+") for m in bridged("publish")] + [STATE.topic_for(store, BRIDGE_DEVICE)]
    read = [m.topic_for(store, "+") for m in bridged("receive")]
    return write, read


def render_central_acl(stores: Iterable[str]) -> str:
    """Central broker's ACL: each store's bridge (its certificate's name, ``bridge-<store>``) reaches its own
    store's bridged topics only; ``central-systems`` (central's own systems, on central's loopback
    listener with a password) sends every store's pushes and commands and reads what every store sends."""
    out = ["# ACL of central's broker for the stores' bridges: generated by `edge-agent broker central`; do not edit.",
           "# A bridge logs in with its client certificate (use_identity_as_username): its name is bridge-<store>."]
    for store in stores:
        write, read = central_grants(store)
        out += ["", f"user bridge-{store}"]
        out += [f"topic write {topic}" for topic in write] + [f"topic read {topic}" for topic in read]
    write, read = central_grants("+")
    out += ["", f"user {CENTRAL_SYSTEMS_LOGIN}"]
    out += [f"topic read {topic}" for topic in write] + [f"topic write {topic}" for topic in read]
    return "\n".join(out) + "\n"


__all__ = ["BRIDGE_DEVICE", "CENTRAL_LOGIN", "CENTRAL_SYSTEMS_LOGIN", "KIND_ROLES", "bridged", "central_grants",
           "grants", "render_acl", "render_central_acl"]
