"""Who publishes and who reads each message of the contract: the roles of the store broker's logins.

The catalogue (:mod:`.catalogue`) says what each message is; this module says which *roles* send it and
which receive it, so that the store broker's ACL (``edge-agent broker provision``,
:mod:`edge_agent.provisioning.acl`) and its tests are derived from the contract and nothing else.

The roles:

- ``agent``: the edge agent of a kiosk device (card reader, camera, the kiosk's data);
- ``shelf``: the edge agent of a shelf or camera device: no screen and no card reader, so only its status,
  what its camera sees and the commands to it;
- ``screen``: the kiosk app showing a kiosk device;
- ``console``: the store console (staff phones on the store LAN): every device's status and the alerts, the
  staff records, the kiosks' content schedules; it writes its own staff audit and the console's content requests;
- ``central``: central systems, through the bridge (or connecting into the store broker).

A device's roles (agent, shelf, screen) reach the topics of *their own* device only; the console and
central reach those of every device of the store. Nobody reaches another store's topics.

Rights follow from a message's family (status, event, push, command, response, local view), so a message
added to the catalogue gets the rights of its family; :data:`OVERRIDES` names the messages whose rights
are not their family's, and :func:`rights` refuses a message it cannot place rather than guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .catalogue import (
    ALL_MESSAGES,
    BIRTH,
    CALL_CONSOLE_COMMANDS,
    CLIENTELING,
    COMMANDS,
    CONSOLE_CODE,
    CONSOLE_COMMANDS,
    CONTENT_SCHEDULE,
    DEMO_CONTROL,
    EVENTS,
    HEALTH,
    LOCAL,
    PROBE,
    PUSHES,
    RESPONSES,
    STAFF_CALL,
    STATE,
    Message,
)


class Role(StrEnum):
    """Who a store broker login is (see the module's docstring)."""

    AGENT = "agent"
    SHELF = "shelf"
    SCREEN = "screen"
    CONSOLE = "console"
    CENTRAL = "central"


#: Roles that act for one device: they reach that device's topics only.
DEVICE_ROLES = frozenset({Role.AGENT, Role.SHELF, Role.SCREEN})


class Family(StrEnum):
    """The kinds of message, by who sends them to whom."""

    STATUS = "status"  # a device's state, birth, health
    PROBE = "probe"  # the agent's own round trip
    EVENT = "event"  # upstream events
    PUSH = "push"  # central's pushes to the store
    COMMAND = "command"  # requests to a device (central's bridged commands, the kiosk's local requests)
    RESPONSE = "response"  # their answers
    LOCAL_VIEW = "local-view"  # what the agent publishes for its kiosk's screens
    DEMO = "demo"  # the demo's own broker only


@dataclass(frozen=True)
class Rights:
    """Who may publish a message and who may receive it."""

    family: Family
    publishers: frozenset[Role]
    subscribers: frozenset[Role]


def _roles(*roles: Role) -> frozenset[Role]:
    return frozenset(roles)


#: The events the agent of a shelf or camera device sends: what its camera sees, and its errors.
SHELF_EVENTS = frozenset({"error", "presence", "scan", "shelf", "stock", "footfall"})

#: The events the store console reads (its alerts and anonymous counts): staff calls, empty and refilled
#: shelves, errors, footfall, presence and feedback scores, and the anonymous hourly analytics (its charts).
#: Not those naming a customer or a card (consent, taps, activations, enrolments, erasure acks): the console
#: has no use for pseudonyms.
CONSOLE_EVENTS = frozenset({"error", "stock", "staff-assist", "footfall", "presence", "feedback",
                            "analytics-hourly"})

#: Messages whose rights are not their family's, by :attr:`Message.name`.
OVERRIDES: dict[str, Rights] = {
    # Only `edge-agent demo` reads it, on the demo's own broker: no store login may send or read it.
    DEMO_CONTROL.name: Rights(Family.DEMO, frozenset(), frozenset()),
}
# The store console (issue 16, edge_agent.console): it reads central's staff records (its login checks the same
# PIN verifiers as the kiosk) and each kiosk's content schedule (the devices page), writes its own staff audit
# (under its own device level, the console's login: edge_agent.provisioning.acl) and sends the content requests
# of a staff member logged in at the console; the agents answer it alone.
#: The personal messages the console may read: staff's own records (name, role, PIN verifier), which its login
#: checks; never a customer's.
CONSOLE_PERSONAL = frozenset({PUSHES["staff"].name})
OVERRIDES.update({
    PUSHES["staff"].name: Rights(Family.PUSH, _roles(Role.CENTRAL), _roles(Role.AGENT, Role.CONSOLE)),
    CONTENT_SCHEDULE.name: Rights(Family.LOCAL_VIEW, _roles(Role.AGENT), _roles(Role.SCREEN, Role.CONSOLE)),
    EVENTS["staff-audit"].name: Rights(Family.EVENT, _roles(Role.AGENT, Role.CONSOLE), _roles(Role.CENTRAL)),
    **{COMMANDS[name].name: Rights(Family.COMMAND, _roles(Role.CONSOLE), _roles(Role.AGENT))
       for name in CONSOLE_COMMANDS},
    **{RESPONSES[name].name: Rights(Family.RESPONSE, _roles(Role.AGENT), _roles(Role.CONSOLE))
       for name in CONSOLE_COMMANDS},
})
# The store console's answers to calls and its views of a shared call (catalogue CALL_CONSOLE_COMMANDS): only the
# console sends them to a kiosk's agent and only the console reads the answers, so a kiosk's screen cannot
# answer its own calls. A shopper's details shared for a call (local/clienteling) are for the console alone.
OVERRIDES.update({COMMANDS[name].name: Rights(Family.COMMAND, frozenset({Role.CONSOLE}), frozenset({Role.AGENT}))
                  for name in CALL_CONSOLE_COMMANDS})
OVERRIDES.update({RESPONSES[name].name: Rights(Family.RESPONSE, frozenset({Role.AGENT}), frozenset({Role.CONSOLE}))
                  for name in CALL_CONSOLE_COMMANDS})
OVERRIDES[CLIENTELING.name] = Rights(Family.LOCAL_VIEW, frozenset({Role.AGENT}), frozenset({Role.CONSOLE}))
# The console reads local/staff-call too: a call handled at the kiosk leaves the console's alerts.
OVERRIDES[STAFF_CALL.name] = Rights(Family.LOCAL_VIEW, frozenset({Role.AGENT}), frozenset({Role.SCREEN, Role.CONSOLE}))
# The console's one-time codes (payloads_console_code.py): agents offer them, only the console reads them (a kiosk
# screen gets its own code in the answer to its request, never the offers of this or any other device).
CONSOLE_PERSONAL = CONSOLE_PERSONAL | {CONSOLE_CODE.name}
OVERRIDES[CONSOLE_CODE.name] = Rights(Family.LOCAL_VIEW, _roles(Role.AGENT), _roles(Role.CONSOLE))


def _family(message: Message) -> Family | None:
    if message.name in (STATE.name, BIRTH.name, HEALTH.name):
        return Family.STATUS
    if message.name == PROBE.name:
        return Family.PROBE
    if message.name.removeprefix("event-") in EVENTS and message.name.startswith("event-"):
        return Family.EVENT
    if PUSHES.get(message.name) == message:
        return Family.PUSH
    if message.name.startswith("request-") and message.name.removeprefix("request-") in COMMANDS:
        return Family.COMMAND
    if message.name.startswith("response-") and message.name.removeprefix("response-") in RESPONSES:
        return Family.RESPONSE
    if message.direction == "publish" and message.topic.startswith(LOCAL) and not message.bridged:
        return Family.LOCAL_VIEW
    return None


def rights(message: Message) -> Rights:
    """Who publishes ``message`` and who receives it.

    :raises ValueError: when the message belongs to no family and has no entry in :data:`OVERRIDES`: the
        contract must say who may use a topic before any login may.
    """
    if message.name in OVERRIDES:
        return OVERRIDES[message.name]
    family = _family(message)
    central = _roles(Role.CENTRAL) if message.bridged else frozenset()
    if family is Family.STATUS:
        return Rights(family, _roles(Role.AGENT, Role.SHELF), _roles(Role.SCREEN, Role.CONSOLE) | central)
    if family is Family.PROBE:
        return Rights(family, _roles(Role.AGENT, Role.SHELF), _roles(Role.AGENT, Role.SHELF))
    if family is Family.EVENT:
        name = message.name.removeprefix("event-")
        shelf = _roles(Role.SHELF) if name in SHELF_EVENTS else frozenset()
        console = _roles(Role.CONSOLE) if name in CONSOLE_EVENTS else frozenset()
        return Rights(family, _roles(Role.AGENT) | shelf, central | console)
    if family is Family.PUSH:
        return Rights(family, _roles(Role.CENTRAL), _roles(Role.AGENT))
    if family is Family.COMMAND:
        if message.bridged:  # central's commands to any device
            return Rights(family, _roles(Role.CENTRAL), _roles(Role.AGENT, Role.SHELF))
        return Rights(family, _roles(Role.SCREEN), _roles(Role.AGENT))  # the kiosk's local requests
    if family is Family.RESPONSE:
        if message.bridged:
            return Rights(family, _roles(Role.AGENT, Role.SHELF), _roles(Role.CENTRAL))
        return Rights(family, _roles(Role.AGENT), _roles(Role.SCREEN))
    if family is Family.LOCAL_VIEW:
        return Rights(family, _roles(Role.AGENT), _roles(Role.SCREEN))
    raise ValueError(f"{message.name} ({message.topic}): the contract does not say who publishes it and who "
                     "reads it; give it a family or an entry in edge_agent/contract/roles.py OVERRIDES")


def every_right() -> dict[str, Rights]:
    """:func:`rights` of every message of the catalogue, by name.

    :raises ValueError: as :func:`rights`, for the first message without rights.
    """
    return {message.name: rights(message) for message in ALL_MESSAGES}
