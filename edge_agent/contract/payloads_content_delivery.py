"""Payloads of content delivery: central's signed pack manifest, the agent's progress, and the pack switch
between the agent and its kiosk.

Central authors a content pack (a folder with ``content.yaml`` and its media,
:mod:`kiosk.content`), puts the folder on a web server as it is and pushes a
:class:`ContentPackManifest` on ``cs/v1/central/{store}/content-pack``. The
agent checks the signature, downloads the files it does not hold yet (each at
``{base_url}/{path}``, the path percent-encoded; stored by sha256, so a file
shared by packs is fetched once; verified by size and sha256), checks the
folder with the kiosk's own pack validation, stages it, and switches to it at
``activate_at`` (or when a manager approves it). Every step is reported as
``event/content-status`` (:class:`ContentStatusEvent`).

**The signature.** ``signature`` is an Ed25519 signature (RFC 8032, 64 bytes,
lower-case hex) by the content key ``key_id`` over the bytes
:data:`SIGNATURE_DOMAIN` followed by the *canonical manifest*: the JSON of the
manifest object (the envelope's ``data``) without its ``signature`` member,
with object keys sorted by code point at every level, no whitespace
(separators ``,`` and ``:``), non-ASCII characters written as themselves
(no ``\\u`` escapes) and encoded as UTF-8; integers in plain decimal, instants
as ``YYYY-MM-DDTHH:MM:SSZ``. Every member of the manifest is required (``null``
where it does not apply), so the object a receiver validated is exactly the
object central signed; in Python::

    json.dumps(manifest_without_signature, sort_keys=True, separators=(",", ":"),
               ensure_ascii=False).encode("utf-8")

:func:`edge_agent.content_delivery.signing.canonical_manifest` is the one
implementation the agent and ``edge-agent content build`` share.

**Versions.** ``version`` is central's release number of the device's content:
a manifest whose version is not above the active or the staged pack's is
refused (whatever its pack id), so an old manifest replayed cannot bring an old
pack back. ``pack_version`` is the ``version`` string inside ``content.yaml``,
checked against the downloaded manifest.

**The switch.** The agent publishes, retained and local, which pack the kiosk
shows (:class:`ContentActivePayload`: its folder, and the previous one); the
kiosk loads it and answers with ``request/content-loaded``
(:class:`ContentLoadedRequest`). When the kiosk could not load the new pack,
the agent switches back to the previous one and reports the new one failed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints, model_validator

from .types import DATE_WINDOW, Identifier, Payload, SessionId, Version, unique

#: What the signed bytes start with: a signature made for anything else never verifies as a manifest.
SIGNATURE_DOMAIN = b"connected-store/content-pack/v1\n"

#: The pack's own manifest: every pack has it, at the top of its folder.
PACK_MANIFEST_PATH = "content.yaml"

MAX_PACK_FILES = 5000
MAX_FILE_BYTES = 2**40  # one terabyte: far above any media file, far below what arithmetic on it could overflow

Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$"),
                   Field(description="SHA-256 of the file's bytes, 64 lower-case hex digits.")]
SignatureHex = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{128}$"),
                         Field(description="Ed25519 signature, 128 lower-case hex digits (64 bytes).")]
PackVersionText = Annotated[str, StringConstraints(min_length=1, max_length=40),
                            Field(description="The `version` string of the pack's content.yaml.")]


def _inside_pack(value: str) -> str:
    if ".." in value.split("/") or "" in value.split("/"):
        raise ValueError("a pack path has no '..' and no empty segment")
    return value


PackPath = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_][A-Za-z0-9._/-]{0,199}$"),
                     AfterValidator(_inside_pack),
                     Field(description="The file's path in the pack folder, '/'-separated, relative.")]
MediaType = Annotated[str, StringConstraints(pattern=r"^[a-z]+/[a-z0-9][a-z0-9.+-]{0,80}$"),
                      Field(description="The file's media type, e.g. image/png, video/mp4, application/yaml.")]
BaseUrl = Annotated[str, StringConstraints(pattern=r"^https?://[!-~]{1,480}$"),
                    Field(description="Where the files are: each at {base_url}/{path}. https in production; "
                                      "the sha256 of every file is signed, so http cannot change what is shown.")]


def _utc_instant(value: str) -> str:
    moment = datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ")
    if not DATE_WINDOW[0] <= moment.date() <= DATE_WINDOW[1]:
        raise ValueError(f"an instant must be dated {DATE_WINDOW[0]} to {DATE_WINDOW[1]}")
    return value


# A string in one spelling (UTC, whole seconds, "Z"), not a parsed datetime: what is validated is then exactly
# what was signed, and any sender writes it the same way.
# The pattern says as much as a pattern can (the contract's years, months, days, hours); the validator the rest
# (the 30th of February).
_UTC_PATTERN = (r"^(?:20[0-9]{2}|2100)-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
                r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]Z$")
UtcInstant = Annotated[str, StringConstraints(pattern=_UTC_PATTERN),
                       AfterValidator(_utc_instant),
                       Field(description="An instant in UTC, whole seconds: YYYY-MM-DDTHH:MM:SSZ.")]


def parse_utc(value: str) -> datetime:
    """The aware datetime of a :data:`UtcInstant`."""
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


DeviceKind = Literal["kiosk", "shelf", "gateway"]
Orientation = Literal["landscape", "portrait"]


class PackFile(Payload):
    """One file of a pack: where it goes in the folder, how big it is, its sha256 and media type."""

    path: PackPath
    size: int = Field(ge=0, le=MAX_FILE_BYTES, description="Bytes.")
    sha256: Sha256
    media_type: MediaType


class PackTargets(Payload):
    """Which devices a pack is for; null in a member: every one."""

    stores: list[Identifier] | None = Field(max_length=10000, description="Store ids; null: every store.")
    device_kinds: list[DeviceKind] | None = Field(max_length=3, description="Device kinds; null: every kind.")
    orientations: list[Orientation] | None = Field(
        max_length=2, description="Screen orientations (the kiosk's window: wider than high is landscape); "
                                  "null: both.")


class ContentPackManifest(Payload):
    """A content pack central publishes: its files, where to fetch them, when to show it, for whom, signed."""

    pack: Identifier = Field(description="The pack id (content.yaml's `pack`).")
    version: Version = Field(description="Central's release number of the content: a manifest not above the "
                                         "active or staged one's is refused, whatever its pack.")
    pack_version: PackVersionText
    files: list[PackFile] = Field(min_length=1, max_length=MAX_PACK_FILES,
                                  description="Every file of the pack folder, content.yaml among them.")
    base_url: BaseUrl
    activate_at: UtcInstant | None = Field(description="When it becomes active; null: as soon as it is ready "
                                                    "(and approved, where a manager approves packs).")
    end: UtcInstant | None = Field(description="When it stops being shown (the previous pack comes back); null: "
                                            "until a newer pack replaces it.")
    targets: PackTargets
    key_id: Identifier = Field(description="The content key that signed it (agents hold its public key).")
    signature: SignatureHex | None = Field(description="Ed25519 over the canonical manifest (module docstring); "
                                                       "null or absent: unsigned, refused.")

    @model_validator(mode="after")
    def _files(self) -> ContentPackManifest:
        unique(self.files, lambda item: item.path, "files")
        if PACK_MANIFEST_PATH not in {item.path for item in self.files}:
            raise ValueError(f"files: a pack has its {PACK_MANIFEST_PATH}")
        # One spelling of UTC instants: their text sorts as their time does.
        if self.end is not None and self.activate_at is not None and self.end <= self.activate_at:
            raise ValueError("'end' must be after 'activate_at'")
        return self

    @property
    def total_bytes(self) -> int:
        """The bytes of every file of the pack."""
        return sum(item.size for item in self.files)


ContentState = Literal["received", "downloading", "staged", "active", "failed", "refused", "ended"]


class ContentStatusEvent(Payload):
    """Where the delivery of a pack is: received, downloading (bytes), staged, active, failed or refused."""

    pack: Identifier
    version: Version
    state: ContentState = Field(description="received: manifest accepted; downloading: bytes so far; staged: "
                                            "complete, verified, validated, waiting for activate_at or approval; "
                                            "active: the kiosk shows it; failed: not shown (reason); refused: the "
                                            "manifest was not accepted (reason); ended: its end passed.")
    bytes_done: int = Field(0, ge=0, description="Bytes of the pack held so far (files shared with other packs "
                                                 "count as held).")
    bytes_total: int = Field(0, ge=0, description="Bytes of the whole pack.")
    awaiting_approval: bool = Field(False, description="staged: a manager must approve it ([content] approval).")
    reason: Annotated[str, StringConstraints(max_length=1000)] | None = Field(
        None, description="failed / refused: why, e.g. 'videos/a.mp4: sha256 mismatch'.")


class PackRef(Payload):
    """A pack on this device: its id, release number, content.yaml version and folder."""

    pack: Identifier
    version: Version | None = Field(description="Central's release number; null for a local folder pack.")
    pack_version: PackVersionText
    path: Annotated[str, StringConstraints(min_length=1, max_length=500)] = Field(
        description="The pack's folder on this device (the kiosk loads it from here).")


class StagedPack(PackRef):
    """A pack that is complete and valid but not active yet."""

    activate_at: UtcInstant | None = Field(description="When it becomes active; null: on approval or at once.")
    awaiting_approval: bool = Field(description="A manager must approve it first.")


class ContentActivePayload(Payload):
    """Which pack the kiosk shows now, and the one before (what it falls back to). Retained, local."""

    active: PackRef | None = Field(description="The pack to show; null: none yet (the kiosk keeps its own).")
    previous: PackRef | None = Field(description="The last good pack before it, kept on disk for a fall-back.")
    staged: StagedPack | None = Field(description="A pack waiting for its time or a manager's approval.")


class ContentLoadedRequest(Payload):
    """The kiosk's answer to a pack switch: whether it could load and show the active pack."""

    pack: Identifier
    version: Version | None = Field(description="The release number of the pack it loaded (null: a local pack).")
    ok: bool
    reason: Annotated[str, StringConstraints(max_length=1000)] | None = Field(
        None, description="Why it could not, e.g. the pack validation's first error.")


class ContentLoadedResult(Payload):
    """What the agent did with the kiosk's answer."""

    fallback: bool = Field(description="True: the new pack failed and the previous one is active again.")
    active: PackRef | None


class ContentApproveRequest(Payload):
    """A manager approves the staged pack, in their staff session."""

    session: SessionId
    pack: Identifier
    version: Version


class ContentApproveResult(Payload):
    """The approved pack: active now, or at its activate_at."""

    pack: Identifier
    version: Version
    state: Literal["active", "staged"] = Field(description="staged: approved, it becomes active at activate_at.")


class ContentPacksHealth(Payload):
    """The delivered packs in birth and health: the active and staged ones."""

    active: PackRef | None
    staged: StagedPack | None
    downloading: PackRef | None = Field(None, description="A pack being fetched (path: its staging folder).")
