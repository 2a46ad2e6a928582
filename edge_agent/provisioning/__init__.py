"""Provisioning the store broker and central's broker: ``edge-agent broker provision|central|revoke``.

One concept per module:

- :mod:`.plan`: the store, its devices and their logins (:class:`StorePlan`), and the example store;
- :mod:`.passwords`: random passwords and Mosquitto's ``$7$`` PBKDF2-SHA512 password-file hashes;
- :mod:`.acl`: the store broker's ACL and central's, from the contract's roles
  (:mod:`edge_agent.contract.roles`);
- :mod:`.certificates`: CAs, server and client certificates, CRLs (``cryptography``);
- :mod:`.mosquitto_config`: the store broker's, the bridge's and central's Mosquitto configuration;
- :mod:`.store_broker` and :mod:`.central_broker`: writing it all into a folder, again and again;
- :mod:`.cli`: the commands.

Why a password file and an ACL file, not Mosquitto's dynamic-security plugin: both are plain files
generated from the contract, reviewed as text and shipped for the example store (a test keeps the shipped
ones equal to what is generated), with no broker running to provision and no admin login whose password
would open every right; a store has tens of logins, not thousands. The price: Mosquitto 2.0's ``acl_file``
checks read rights when a message is delivered, not at SUBSCRIBE, so a refused subscription is granted in
the SUBACK and simply receives nothing (the dynamic-security plugin would answer 0x80).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .central_broker import ProvisionedCentral, load_central_ca, provision_central, revoke
    from .certificates import CertificateAuthority, Issued
    from .plan import EXAMPLE, Device, Login, StorePlan, parse_devices
    from .store_broker import ProvisionedStore, provision_store

# Loaded on first use, so that `edge-agent --help` (whose tree holds `edge-agent broker`) does not load
# cryptography and the contract's roles for every command.
_HOMES = {"ProvisionedCentral": "central_broker", "load_central_ca": "central_broker",
          "provision_central": "central_broker", "revoke": "central_broker",
          "CertificateAuthority": "certificates", "Issued": "certificates",
          "EXAMPLE": "plan", "Device": "plan", "Login": "plan", "StorePlan": "plan", "parse_devices": "plan",
          "ProvisionedStore": "store_broker", "provision_store": "store_broker"}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(import_module(f".{_HOMES[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["EXAMPLE", "CertificateAuthority", "Device", "Issued", "Login", "ProvisionedCentral", "ProvisionedStore",
           "StorePlan", "load_central_ca", "parse_devices", "provision_central", "provision_store", "revoke"]
