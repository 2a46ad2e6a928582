"""The ``[camera]`` configuration section: a typed model that refuses keys it does not know.

Regions are polygons in normalised coordinates (``[[x, y], …]`` with 0..1,
``[0, 0]`` top-left), so they survive a change of resolution. No secret lives
here: a stream's user name and password come from the credentials
``camera-username`` / ``camera-password``; the app QR keys are *public* keys.

Imports neither OpenCV nor zxing-cpp: a configuration checks on any laptop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from .barcodes import DEFAULT_FORMATS, FORMATS, normalise_gtin
from .geometry import FULL_FRAME, check_polygon

PolygonField = Annotated[list[list[float]], AfterValidator(lambda points: [list(p) for p in check_polygon(points)])]
if TYPE_CHECKING:
    FormatName = str  # a type checker cannot build a Literal from FORMATS' keys; pydantic can, below
else:
    FormatName = Literal[tuple(FORMATS)]  # validation and the schema's enum: exactly the known names


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PresenceConfig(_Section):
    enabled: bool = Field(True, description="Watch for people in front of the camera (wakes the kiosk).")
    region: PolygonField = Field([list(p) for p in FULL_FRAME],
                                 description="Region of interest, normalised polygon; the whole frame by default.")
    width: int = Field(160, ge=32, le=1280, description="Analysis width in pixels; the region is downscaled to it.")
    pixel_threshold: int = Field(
        25, ge=1, le=254, description="Grey-level difference from the background at which a pixel is foreground.")
    on_fraction: float = Field(
        0.01, gt=0, le=1, description="Foreground fraction of the region that counts as someone there.")
    off_fraction: float = Field(0.005, ge=0, le=1, description="Foreground fraction below which nobody is there.")
    on_frames: int = Field(2, ge=1, le=30, description="Consecutive frames above on_fraction before presence starts.")
    off_s: float = Field(2.0, ge=0, le=600, description="Seconds below off_fraction before presence ends.")
    learn_s: float = Field(
        2.0, gt=0, description="How fast the background learns while nobody is there (time constant).")
    absorb_s: float = Field(120.0, gt=0,
                            description="How long something must stand still while present to become background.")
    footfall_interval_s: float = Field(60.0, ge=1, le=86400,
                                       description="Footfall (presence starts) is counted per interval of this length.")

    @model_validator(mode="after")
    def _thresholds(self) -> PresenceConfig:
        if self.off_fraction > self.on_fraction:
            raise ValueError("off_fraction must not exceed on_fraction")
        return self


class CodesConfig(_Section):
    enabled: bool = Field(True, description="Read product barcodes and app QR codes.")
    formats: list[FormatName] = Field(list(DEFAULT_FORMATS), min_length=1,
                                      description="Symbologies to decode; fewer is faster and gives fewer false reads.")
    region: PolygonField = Field(
        [list(p) for p in FULL_FRAME],
        description="Where codes are held up, normalised polygon (its bounding box is decoded).")
    every_n_frames: int = Field(1, ge=1, le=30, description="Decode every n-th frame (1: all).")
    hold_s: float = Field(1.5, gt=0, le=60,
                          description="A code out of sight for less than this and shown again is the same scan.")
    enhance: bool = Field(False, description="Second pass with contrast equalisation on frames without a code.")
    only_when_present: bool = Field(True, description="With presence on: decode only while someone is in front of "
                                                      "the camera (saves CPU; keep printed codes out of the region).")


class AppQrConfig(_Section):
    public_keys: dict[str, str] = Field(default_factory=dict,
                                        description="Key id (0-255) -> the app backend's Ed25519 public key, 64 hex "
                                                    "digits. App QR codes are ignored while this is empty.")
    max_ttl_s: float = Field(300.0, gt=0, le=86400, description="Longest lifetime a token may claim.")
    leeway_s: float = Field(
        10.0, ge=0, le=600, description="Clock difference allowed between the backend and the agent.")

    @field_validator("public_keys")
    @classmethod
    def _keys(cls, value: dict[str, str]) -> dict[str, str]:
        from .app_qr import public_key_from_hex

        for key_id, key in value.items():
            if not key_id.isdigit() or not 0 <= int(key_id) <= 255:
                raise ValueError(f"key id {key_id!r} must be a number 0-255")
            public_key_from_hex(key)
        return value


class ZoneConfig(_Section):
    name: str = Field(description="Zone name, unique on this shelf (lowercase letters, digits, dashes).",
                      pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    gtin: str = Field(description="GTIN of the product in the zone (8, 12, 13 or 14 digits; stored as GTIN-14).")
    polygon: PolygonField = Field(description="Where the product stands, normalised polygon.")

    @field_validator("gtin")
    @classmethod
    def _gtin(cls, value: str) -> str:
        return normalise_gtin(value)


class ShelfConfig(_Section):
    zones: list[ZoneConfig] = Field(default_factory=list, description="Zones mapped to products; none: no shelf.")
    width: int = Field(320, ge=32, le=1920, description="Analysis width in pixels.")
    pixel_threshold: int = Field(
        30, ge=1, le=254, description="Grey-level difference at which a pixel counts as changed.")
    motion_fraction: float = Field(
        0.02, gt=0, le=1, description="Changed fraction between frames that means a hand is in the zone.")
    settle_frames: int = Field(3, ge=1, le=100, description="Frames without motion before a zone is judged.")
    lift_fraction: float = Field(
        0.25, gt=0, le=1, description="Difference from the reference that means the product is out.")
    return_fraction: float = Field(0.10, ge=0, le=1, description="Difference from the reference that means it is back.")
    empty_after_s: float = Field(30.0, gt=0, description="Seconds out before an out-of-stock alert.")
    drift_s: float = Field(60.0, gt=0, description="How fast a stocked, still zone's reference follows the light.")

    @model_validator(mode="after")
    def _check(self) -> ShelfConfig:
        if self.return_fraction >= self.lift_fraction:
            raise ValueError("return_fraction must be below lift_fraction")
        names = [zone.name for zone in self.zones]
        if len(set(names)) != len(names):
            raise ValueError("zone names must be unique")
        return self


class CameraConfig(_Section):
    source: str = Field(description="V4L2 device (0, /dev/video0), a video file (looped) or a stream URL "
                                    "(rtsp://host/path; credentials from camera-username/camera-password).",
                        min_length=1)
    width: int = Field(640, ge=64, le=4096, description="Requested frame width (devices).")
    height: int = Field(480, ge=48, le=4096, description="Requested frame height (devices).")
    fps: float | None = Field(None, gt=0, le=120,
                              description="Requested frame rate (devices); a file's pace (default: its own rate).")
    fourcc: str | None = Field(None, pattern=r"^[A-Z0-9 ]{4}$",
                               description="Pixel format to ask a device for, e.g. MJPG.")
    loop: bool = Field(True, description="Play a video file again from the start at its end.")
    pace: Literal["realtime", "fast"] = Field("realtime", description="Video files: realtime, or fast (tests).")
    queue_size: int = Field(2, ge=1, le=30, description="Frames waiting for the pipeline; older ones are dropped.")
    reconnect_min_s: float = Field(0.5, gt=0, description="First delay before opening a failed source again.")
    reconnect_max_s: float = Field(30.0, gt=0, description="Longest delay between attempts.")
    open_timeout_s: float = Field(10.0, gt=0, le=120, description="Streams: give up opening after this long.")
    read_timeout_s: float = Field(5.0, gt=0, le=120, description="Streams: a frame that takes longer is a failure.")
    rtsp_transport: Literal["tcp", "udp"] = Field("tcp", description="RTSP transport.")
    masks: list[PolygonField] = Field(default_factory=list,
                                      description="Privacy masks: areas blanked before any processing.")
    presence: PresenceConfig = Field(default_factory=PresenceConfig, description="Presence and footfall.")
    codes: CodesConfig = Field(default_factory=CodesConfig, description="Barcodes and QR codes.")
    app_qr: AppQrConfig = Field(default_factory=AppQrConfig, description="The customer app's QR tokens.")
    shelf: ShelfConfig = Field(default_factory=ShelfConfig, description="Smart-shelf zones.")

    @model_validator(mode="after")
    def _backoff(self) -> CameraConfig:
        if self.reconnect_min_s > self.reconnect_max_s:
            raise ValueError("reconnect_min_s must not exceed reconnect_max_s")
        return self
