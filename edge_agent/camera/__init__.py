"""The camera, anonymously: presence, product and app-QR scanning, smart-shelf zones.

The camera never identifies a face and never keeps a frame. Frames live in
memory only, privacy masks are blanked in the capture thread before anything
else sees a frame, and only events leave the pipeline: counts, zone changes
and decoded codes, as small JSON-ready dicts.

Modules, by responsibility:

``capture``   the frame source port and its OpenCV adapter (V4L2 index or path,
              looped video file, RTSP/HTTP URL): capture thread, bounded queue
              dropping stale frames, reconnect with backoff, health
``privacy``   mask polygons blanked before any processing
``presence``  motion against a background on a downscaled region of interest;
              hysteresis to presence start/end with dwell; footfall per interval
``barcodes``  zxing-cpp decoding limited to the store's formats, GTIN
              normalisation, debouncing (a code held up is one scan)
``app_qr``    the customer app's signed, short-lived QR token (docs/app-qr.md)
``shelf``     smart-shelf zones mapped to GTINs: pickup, putback, out-of-stock
``pipeline``  capture -> mask -> presence / codes / shelf -> ``on_event(kind, data)``
``geometry``  polygons in normalised coordinates and their masks
``config``    the typed ``[camera]`` configuration section
``cli``       ``edge-agent camera decode IMAGE...``

OpenCV, NumPy and zxing-cpp are imported by the modules that need them, not
here, so the domain logic (hysteresis, debouncing, zone state machines,
token verification) imports without them.
"""

from ..errors import EdgeAgentError


class CameraError(EdgeAgentError):
    """Base class of the camera's errors."""


class SourceError(CameraError):
    """A frame source cannot be opened or read (unplugged, missing file, unreachable stream)."""


__all__ = ["CameraError", "SourceError"]
