"""What a store broker is provisioned for: the store, its devices, its logins and where it listens.

A :class:`StorePlan` is the input of every generator in this package (passwords, ACL, certificates,
Mosquitto configuration); :data:`EXAMPLE` is the example store whose generated files the project ships in
``config/mosquitto/`` (a test keeps them equal).

Each device has a kind: a ``kiosk`` has two logins, its agent (the device id) and its kiosk app
(``<device>-screen``); a ``shelf`` (a shelf or camera device, no screen) has its agent's only. Every store
has one ``console`` login (the store console) and one ``central-bridge`` login (central connecting in, or a
store tool acting for central). Each login's client id is its login (``use_username_as_clientid``).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Literal

from ..contract.roles import Role
from .passwords import check_login_name

DeviceKind = Literal["kiosk", "shelf"]
KINDS: tuple[DeviceKind, ...] = ("kiosk", "shelf")
# As the agent's configuration: lowercase letters, digits and dashes (edge_agent.config ID_PATTERN).
ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
SCREEN_SUFFIX = "-screen"
CONSOLE_LOGIN = "console"
CENTRAL_LOGIN = "central-bridge"
#: Reserved device ids: they would clash with the store's own logins or topic levels.
RESERVED = frozenset({CONSOLE_LOGIN, CENTRAL_LOGIN, "central", "bridge"})


@dataclass(frozen=True)
class Device:
    """One device of the store: its id (a topic level and its agent's login) and its kind."""

    id: str
    kind: DeviceKind = "kiosk"


@dataclass(frozen=True)
class Login:
    """One broker login: its name (also its client id), its role and, for a device's role, the device."""

    name: str
    role: Role
    device: str | None = None


@dataclass(frozen=True)
class StorePlan:
    """A store broker to provision.

    :param store: the store id (a topic level).
    :param devices: the store's devices.
    :param lan_address: the store LAN address the broker's TLS listener binds (besides loopback).
    :param hostname: the broker's name on the LAN (in its server certificate, with ``lan_address``).
    :param central_address: ``host:port`` of central's broker, for the bridge.
    :param etc: where the files go on the broker (``/etc/mosquitto``): the paths written into the config.
    :raises ValueError: for an id that cannot be a topic level, a duplicate or reserved device, a kind not
        in :data:`KINDS` or an address that is not one.
    """

    store: str
    devices: tuple[Device, ...]
    lan_address: str
    hostname: str = ""
    central_address: str = "central.example.invalid:8883"
    port: int = 1883
    tls_port: int = 8883
    etc: str = "/etc/mosquitto"
    persistence: str = "/var/lib/mosquitto/"
    logins: tuple[Login, ...] = field(init=False)

    def __post_init__(self) -> None:
        if not ID.match(self.store) or self.store == "central":
            raise ValueError(f"store {self.store!r}: lowercase letters, digits and dashes, not 'central'")
        seen: set[str] = set()
        for device in self.devices:
            if not ID.match(device.id):
                raise ValueError(f"device {device.id!r}: lowercase letters, digits and dashes")
            if device.id in RESERVED or device.id.endswith(SCREEN_SUFFIX) or device.id == self.store:
                raise ValueError(f"device {device.id!r}: reserved for the store's own logins")
            if device.kind not in KINDS:
                raise ValueError(f"device {device.id!r}: kind {device.kind!r} is not one of {', '.join(KINDS)}")
            if device.id in seen:
                raise ValueError(f"device {device.id!r} is listed twice")
            seen.add(device.id)
        try:
            ipaddress.ip_address(self.lan_address)
        except ValueError:
            raise ValueError(f"LAN address {self.lan_address!r} is not an IP address") from None
        host, _, port = self.central_address.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"central address {self.central_address!r}: give host:port")
        logins: list[Login] = []
        for device in self.devices:
            if device.kind == "kiosk":
                logins += [Login(device.id, Role.AGENT, device.id),
                           Login(device.id + SCREEN_SUFFIX, Role.SCREEN, device.id)]
            else:
                logins.append(Login(device.id, Role.SHELF, device.id))
        logins += [Login(CONSOLE_LOGIN, Role.CONSOLE), Login(CENTRAL_LOGIN, Role.CENTRAL)]
        for login in logins:
            check_login_name(login.name)
        object.__setattr__(self, "logins", tuple(logins))

    @property
    def device_ids(self) -> tuple[str, ...]:
        return tuple(device.id for device in self.devices)

    @property
    def broker_hostname(self) -> str:
        """The broker's host name on the LAN (``broker.<store>.local`` unless given)."""
        return self.hostname or f"broker.{self.store}.local"

    @property
    def console_hostname(self) -> str:
        """The store console's host name on the LAN, in its HTTPS certificate: ``console.<store>.local``."""
        return f"console.{self.store}.local"

    @property
    def bridge_client_id(self) -> str:
        """The bridge's client id and certificate name at central: ``bridge-<store>``."""
        return f"bridge-{self.store}"

    def login(self, name: str) -> Login:
        """The login called ``name``; KeyError when there is none."""
        for login in self.logins:
            if login.name == name:
                return login
        raise KeyError(name)


def parse_devices(text: str) -> tuple[Device, ...]:
    """``kiosk-1,shelf-3`` or ``entrance:kiosk,cam-2:shelf`` as devices.

    A device without ``:kind`` takes the kind its id starts with (``kiosk-1`` is a kiosk, ``shelf-3`` a shelf).

    :raises ValueError: for an empty list, or an id whose kind is neither given nor its first word.
    """
    devices = []
    for part in (piece.strip() for piece in text.split(",")):
        if not part:
            continue
        name, _, kind = part.partition(":")
        if not kind:
            kind = name.split("-", 1)[0]
            if kind not in KINDS:
                raise ValueError(f"device {name!r}: say its kind, {name}:kiosk or {name}:shelf")
        if kind not in KINDS:
            raise ValueError(f"device {name!r}: kind {kind!r} is not one of {', '.join(KINDS)}")
        devices.append(Device(name, kind))
    if not devices:
        raise ValueError("no devices given")
    return tuple(devices)


#: The example store of config/agent.example.toml and kiosk.example.toml: the shipped config/mosquitto files
#: are what `edge-agent broker provision` generates for it.
EXAMPLE = StorePlan("store-0042", (Device("kiosk-1", "kiosk"), Device("shelf-1", "shelf")),
                    lan_address="192.168.42.2")
