"""One-time codes for the store console: a member in staff mode at a kiosk gets a code to log in on their phone.

``request/staff-console-code`` (staff mode, any role) draws :data:`~edge_agent.contract.CODE_DIGITS` random
digits (:mod:`secrets`), valid for :data:`VALID_S` seconds and once. The kiosk gets the code in the answer (on
its own local response topic, which only this device's screen reads); the console gets an offer on
``local/console-code``: the member's id, name and the role granted in this staff mode, and the code's salted
argon2id verifier (:func:`edge_agent.staff.pin.hash_pin`, the PIN verifier's parameters: 64 MiB per guess), so
the code itself never travels on the console's topic. The offer is published QoS 1, never retained, never
bridged; the ACL lets only the console read it. The code is never logged or stored; each code drawn is audited
(``console-code``). A new code for the same member does not end the old one: each is valid once until it expires.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from ..commands import CommandError
from ..contract import (
    CODE_DIGITS,
    CONSOLE_CODE,
    AuditResult,
    ConsoleCodeResult,
    SessionRequest,
    StaffRole,
    encode,
    new_id,
)
from .audit import AuditLog
from .gate import StaffGate
from .pin import hash_pin

logger = logging.getLogger(__name__)

VALID_S = 120.0  # long enough to take out a phone and type eight digits; short enough to be of little use later


def draw_code() -> str:
    """A new random code of :data:`CODE_DIGITS` digits (leading zeros kept)."""
    return f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"


class ConsoleCodes:
    """Draws console codes for members in staff mode at this kiosk.

    :param gate: staff mode's gate.
    :param audit: the audit of staff actions.
    :param publish: ``publish(topic, payload) -> bool`` to the broker (QoS 1, not retained).
    :param store_id: this store's id.
    :param device: this device's id.
    :param now: the wall clock (aware datetimes): when a code expires.
    :param valid_s: how long a code is valid.
    """

    def __init__(self, gate: StaffGate, audit: AuditLog, publish: Callable[[str, bytes], bool], store_id: str,
                 device: str, now: Callable[[], datetime], valid_s: float = VALID_S):
        self._gate = gate
        self._audit = audit
        self._publish = publish
        self._topic = CONSOLE_CODE.topic_for(store_id, device)
        self._now = now
        self.valid_s = valid_s

    def issue(self, request: SessionRequest) -> ConsoleCodeResult:
        """``staff-console-code``: a new code for the member in staff mode in ``request.session``.

        :raises CommandError: not in staff mode; or the offer could not be handed to the broker (then no code is
            shown: one the console never heard of would only fail at the phone).
        """
        member = self._gate.require(request.session, StaffRole.STAFF, action="console-code")
        code = draw_code()
        valid_until = self._now() + timedelta(seconds=self.valid_s)
        offer = new_id()
        _, raw = encode(CONSOLE_CODE, {"offer": offer, "staff": member.staff, "display_name": member.display_name,
                                       "role": member.role.value, "verifier": hash_pin(code),
                                       "valid_until": valid_until})
        if not self._publish(self._topic, raw):
            self._audit.record(member.staff, "console-code", AuditResult.FAILED, offer)
            raise CommandError("the console could not be told the code (no broker connection): try again")
        self._audit.record(member.staff, "console-code", AuditResult.OK, offer)
        logger.info("console code offered (offer %s, valid %.0f s)", offer, self.valid_s)
        return ConsoleCodeResult(code=code, valid_until=valid_until)
