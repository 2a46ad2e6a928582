"""The camera's figures for the device checks: frames per second, presence now, the last code read and the
number of privacy masks.

The figures come from the agent's own pipeline (:mod:`edge_agent.camera.pipeline`): its health for the frame
rate and presence, its configuration for the masks (applied to every frame before any processing), and the
events it hands the agent for the last code. A product barcode is shown with its format and GTIN; a
customer's app QR code carries a token that identifies them, so of it only "an app code" is kept, never its
text, its customer or whether it was accepted.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

from ..contract.payloads_device_checks import CameraCheck, LastCode


class Camera(Protocol):
    """What the camera check reads of the pipeline (:class:`edge_agent.camera.pipeline.CameraPipeline`)."""

    def health(self) -> dict: ...


class CameraCheckSource:
    """Keeps the camera's last code and reports the camera's figures.

    :param camera: the agent's camera pipeline.
    :param masks: how many privacy masks its configuration sets.
    :param clock: monotonic seconds.
    """

    def __init__(self, camera: Camera, masks: int, clock: Callable[[], float] = time.monotonic):
        self._camera = camera
        self._masks = masks
        self._clock = clock
        self._lock = threading.Lock()
        self._last: tuple[str, str | None, str | None, float] | None = None  # kind, format, gtin, monotonic at

    def saw(self, kind: str, data: dict) -> None:
        """A camera event (on the pipeline thread): a scan or an app code becomes the last code."""
        last: tuple[str, str | None, str | None, float]
        if kind == "scan":
            last = ("product", str(data["format"]), str(data["gtin"]), self._clock())
        elif kind == "app-identification":
            last = ("app", None, None, self._clock())
        else:
            return
        with self._lock:
            self._last = last

    def check(self) -> CameraCheck:
        """The figures now."""
        health = self._camera.health()
        with self._lock:
            last = self._last
        code = None
        if last is not None:
            kind, code_format, gtin, at = last
            code = LastCode(kind=kind, format=code_format, gtin=gtin, age_s=round(max(0.0, self._clock() - at), 3))
        return CameraCheck(state=health["state"], fps=health.get("fps"), present=bool(health.get("present")),
                           privacy_masks=self._masks, last_code=code, error=health.get("last_error"))
