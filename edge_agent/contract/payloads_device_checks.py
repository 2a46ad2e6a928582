"""Payloads of the device's own checks in staff mode (issue 14, point 6): what the agent measures about
itself for the kiosk's "device checks" screen, the reader test, the test event and the kiosk restart.

The kiosk is a view: every figure here is measured by the agent (:mod:`edge_agent.device_checks`) and
sent in answer to a staff member's request, which names the staff-mode session it belongs to.

Nothing here is personal, by construction, and a test checks it:

* the reader test says the card's type (nfcpy's tag type and product name), the assurance of the read and
  whether the card is linked to a customer, to staff or to nothing: never its UID, token or the customer
  behind it (the product name is held to a pattern that cannot carry a UID's hex);
* the camera's last code is a product barcode's format and GTIN, or just ``app`` for a customer's app QR
  code (its token identifies the customer: it is never repeated);
* the test event upstream carries no one's id (who asked is in ``event/staff-audit``).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, Field, StringConstraints

from .types import CodeFormat, Gtin, MessageId, Payload, SessionId

_HEX_RUN = re.compile(r"[0-9A-Fa-f]{8,}")


def _no_hex_run(value: str) -> str:
    # A product name is words like NTAG213 or DESFire; eight hex digits in a row would be a UID (or part of one).
    if _HEX_RUN.search(value):
        raise ValueError("a product name holds no run of 8 or more hex digits (a UID)")
    return value


# nfcpy's tag type (``Type2Tag`` …) and product name (``NXP NTAG213``, ``NXP NTAG424DNA``, ``Mifare DESFire EV1``).
TagType = Annotated[str, StringConstraints(pattern=r"^(Type[1-5]Tag|unknown)$")]
ProductName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9 ._()+-]{1,60}$"), AfterValidator(_no_hex_run)]


class ChecksRequest(Payload):
    """A device-checks request: the staff-mode session it is made in (refused outside staff mode)."""

    session: SessionId


# --------------------------------------------------------------------------- the reader test


class ReaderTestResult(Payload):
    """What the test tap read: the card's type, how sure the read is, and whether the card is linked."""

    tag_type: TagType = Field(description="nfcpy's tag type: Type2Tag (NTAG…), Type4Tag (NTAG 424 DNA, DESFire…).")
    product: ProductName | None = Field(
        None, description="nfcpy's product name of the card (e.g. 'NXP NTAG213'), null when nfcpy names none.")
    assurance: Literal["uid-only", "sun-verified", "sun-failed", "unreadable"] = Field(
        description="uid-only: a cloneable card without a SUN message; sun-verified: an NTAG 424 DNA SUN message "
                    "that verified and was fresh; sun-failed: a SUN message that did not (see sun_failure); "
                    "unreadable: the card could not be read completely (see problem).")
    sun_failure: Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]{1,40}$")] | None = Field(
        None, description="Why a SUN message failed (bad-cmac, replayed, no-keys …); null otherwise.")
    problem: Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]{1,40}$")] | None = Field(
        None, description="What the reader found wrong with the read (no-ndef, pulled-away …); null for none.")
    linked: Literal["customer", "staff", "unknown"] = Field(
        description="What the card is linked to in this store: a customer, a staff member, or nothing (never who).")
    at: AwareDatetime = Field(description="When the card was tapped.")


class ReaderTestState(Payload):
    """The reader test: waiting for the next tap (which then opens no session), or its result."""

    state: Literal["idle", "waiting", "done"] = Field(
        description="idle: not asked for; waiting: the next tap is a test; done: the result below.")
    waiting_s: float | None = Field(None, ge=0, description="How much longer the reader waits for the test tap.")
    result: ReaderTestResult | None = None


# --------------------------------------------------------------------------- the figures


class LastCode(Payload):
    """The camera's last code: a product barcode (its format and GTIN), or a customer's app code (nothing of it)."""

    kind: Literal["product", "app"]
    format: CodeFormat | None = Field(None, description="The barcode's format (ean-13 …); null for an app code.")
    gtin: Gtin | None = Field(None, description="The product's GTIN; null for an app code.")
    age_s: float = Field(ge=0, description="How long ago it was read.")


class CameraCheck(Payload):
    """The camera as the agent's pipeline sees it."""

    state: Literal["opening", "ok", "failed", "stopped"]
    fps: float | None = Field(None, ge=0, description="Frames per second the camera delivers.")
    present: bool = Field(description="Someone is in front of the camera now (presence detection).")
    privacy_masks: int = Field(ge=0, description="Privacy masks applied to every frame before any processing.")
    last_code: LastCode | None = None
    error: str | None = Field(None, description="Why the camera failed last (no credentials in it).")


class ClockCheck(Payload):
    """This device's clock against central's, from the envelopes of what central pushed.

    Every push carries ``ts``, central's clock when it was sent; received live (not retained, not held on the
    broker while the agent was away) it arrived ``delay`` later, so ``received - ts = offset + delay`` with
    ``delay >= 0``. The smallest of the recent samples (as NTP's filter takes the fastest exchange) is the
    estimate: this device is at most that far ahead of central (a negative value: behind it by at least that).
    """

    source: Literal["central-pushes"] = "central-pushes"
    ahead_s: float | None = Field(None, description="This clock minus central's (plus the transit time, >= 0); null "
                                                    "before any push arrived live.")
    samples: int = Field(ge=0, description="Live pushes the estimate is taken from.")
    last_sample_age_s: float | None = Field(None, ge=0, description="How long ago the last live push arrived.")
    synchronised: bool | None = Field(None, description="The kernel says the system clock is synchronised (NTP); "
                                                        "null where it cannot be asked.")
    max_error_ms: float | None = Field(None, ge=0, description="The kernel's maximum error of the system clock.")


class Versions(Payload):
    """What runs on the agent's side: its own version, the contract's, Python's and its key libraries'."""

    agent: str
    contract: str = Field(description="The topic root's version, e.g. v1.")
    python: str
    sqlite: str
    libraries: dict[Annotated[str, StringConstraints(pattern=r"^[a-z0-9_.-]{1,40}$")],
                    Annotated[str, StringConstraints(max_length=40)]] = Field(
        description="Installed versions of the libraries the agent relies on (absent: not installed).")


class DeviceTestState(Payload):
    """The last test event a manager sent: queued in the outbox, then delivered to the broker (its PUBACK)."""

    event: MessageId
    queued_age_s: float = Field(ge=0, description="How long ago it was queued.")
    delivered: bool
    delivered_after_s: float | None = Field(None, ge=0, description="From queued to its PUBACK; null until then.")


class DeviceChecksReport(Payload):
    """Every figure of the device-checks screen, measured by the agent when asked."""

    connected: bool = Field(description="The agent is connected to the broker.")
    broker_rtt_ms: float | None = Field(None, ge=0, description="The last round trip of the agent's probe through "
                                                                "the broker (publish to receipt).")
    broker_rtt_age_s: float | None = Field(None, ge=0, description="How long ago it was measured.")
    outbox_depth: int = Field(ge=0, description="Events waiting for their PUBACK.")
    outbox_oldest_age_s: float | None = Field(None, ge=0, description="Age of the oldest waiting event.")
    disk_free_bytes: int | None = Field(None, ge=0, description="Free on the database's file system (os.statvfs).")
    database_bytes: int = Field(ge=0, description="The database's files: main, write-ahead log and shared memory.")
    clock: ClockCheck
    versions: Versions
    content_pack: Annotated[str, StringConstraints(max_length=120)] | None = Field(
        None, description="The content pack the agent holds (id and version), null when it holds none.")
    reader_state: Literal["ok", "opening", "failed"] | None = Field(None, description="Null without a reader.")
    reader_test: ReaderTestState
    camera: CameraCheck | None = Field(None, description="Null without a camera.")
    test_event: DeviceTestState | None = None
    role: Literal["staff", "manager"] = Field(description="The role of the staff member asking: managers may send "
                                                          "a test event and restart the kiosk app.")


class DeviceTestEvent(Payload):
    """``event/device-test``: a manager's test of the way upstream, through the real outbox. Central recognises
    it by its topic and ``test``; it carries no one's id."""

    test: Literal[True] = True
    reason: Literal["device-checks"] = "device-checks"
    agent_version: str


class DeviceTestResult(Payload):
    """The test event queued: its id (the checks report says when it reached the broker)."""

    event: MessageId


class RestartKioskResult(Payload):
    """The agent agrees: the kiosk app exits with ``exit_code``, which its unit restarts; the agent stays."""

    exit_code: int = Field(ge=1, le=255)


__all__ = [
    "CameraCheck",
    "ChecksRequest",
    "ClockCheck",
    "DeviceChecksReport",
    "DeviceTestEvent",
    "DeviceTestResult",
    "DeviceTestState",
    "LastCode",
    "ReaderTestResult",
    "ReaderTestState",
    "RestartKioskResult",
    "Versions",
]
