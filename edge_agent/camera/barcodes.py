"""Barcodes and QR codes: zxing-cpp decoding, GTINs, and debouncing.

:class:`BarcodeReader` decodes a frame or an image with zxing-cpp, limited
to the formats the store uses (fewer formats: faster and fewer false
positives). Format names are ours and stable (``ean-13``, ``qr-code`` ...),
independent of zxing-cpp's enum names, which changed between its versions.

Text comes in zxing-cpp's ``Plain`` mode: the symbol's bytes transcoded to
Unicode, with control characters (a GS1 group separator, say) kept as they
are, rather than ``HRI`` mode's ``(01)…`` rendering or ``<GS>`` escapes.

:func:`gtin_of` turns what was read into a GTIN-14, the form GS1 recommends
for storing GTINs: EAN-13, EAN-8, UPC-A and UPC-E symbols, and QR codes
holding a GS1 Digital Link URI (``https://id.gs1.org/01/09506000134352``),
the QR codes that replace retail barcodes on packaging. The check digit is
verified.

:class:`ScanDebouncer` makes a code held up in front of the camera one scan:
a code is new when it was not seen during the last ``hold_s`` seconds.

zxing-cpp (and OpenCV, for image files) are imported when a reader is made,
so the domain functions here import without them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

if TYPE_CHECKING:
    import cv2
    import numpy as np

logger = logging.getLogger(__name__)

# Our format name -> zxing-cpp BarcodeFormat member name.
FORMATS: dict[str, str] = {
    "ean-13": "EAN13",
    "ean-8": "EAN8",
    "upc-a": "UPCA",
    "upc-e": "UPCE",
    "qr-code": "QRCode",
    "micro-qr-code": "MicroQRCode",
    "data-matrix": "DataMatrix",
    "code-128": "Code128",
    "code-39": "Code39",
    "itf": "ITF",
    "databar": "DataBar",
    "databar-expanded": "DataBarExp",
}
RETAIL_FORMATS: tuple[str, ...] = ("ean-13", "ean-8", "upc-a", "upc-e")
DEFAULT_FORMATS: tuple[str, ...] = (*RETAIL_FORMATS, "qr-code")
GTIN_FORMATS = frozenset(RETAIL_FORMATS)
# The second pass (enhance) looks at the picture shrunk to at most this many pixels on its longest side.
ENHANCE_MAX_SIDE = 320

_DIGITS = re.compile(r"[0-9]+")
# GS1 Digital Link: the primary key AI 01 (GTIN) as a path segment, anywhere after the host.
_DIGITAL_LINK_GTIN = re.compile(r"/01/([0-9]{8}|[0-9]{12,14})(?:/|$)")


@dataclass(frozen=True)
class Code:
    """One decoded symbol.

    :param format: our format name (see :data:`FORMATS`), e.g. ``"ean-13"``.
    :param text: the decoded text (zxing-cpp's Plain text mode).
    :param position: the symbol's corners in pixels, ``((x, y), …)`` clockwise from top-left.
    """

    format: str
    text: str
    position: tuple[tuple[int, int], ...] = ()

    def as_dict(self) -> dict:
        """``{"format": …, "text": …}``: what the CLI prints."""
        return {"format": self.format, "text": self.text}


# --------------------------------------------------------------------------- GTINs


def check_digit(body: str) -> int:
    """The GS1 mod-10 check digit of ``body`` (the digits before the check digit)."""
    total = sum(int(digit) * (3 if index % 2 == 0 else 1) for index, digit in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def upce_to_upca(upce: str) -> str:
    """Expand a UPC-E code (6, 7 or 8 digits: [number system] 6 digits [check]) to its 12-digit UPC-A.

    :raises ValueError: for anything else, or a number system other than 0 or 1.
    """
    if not _DIGITS.fullmatch(upce) or len(upce) not in (6, 7, 8):
        raise ValueError("UPC-E is 6 to 8 digits")
    number_system = "0" if len(upce) == 6 else upce[0]
    digits = upce[-6:] if len(upce) == 6 else upce[1:7]
    if number_system not in "01":
        raise ValueError("UPC-E number system must be 0 or 1")
    d1, d2, d3, d4, d5, last = list(digits)  # the six digits, one by one
    if last in "012":
        body = f"{d1}{d2}{last}0000{d3}{d4}{d5}"
    elif last == "3":
        body = f"{d1}{d2}{d3}00000{d4}{d5}"
    elif last == "4":
        body = f"{d1}{d2}{d3}{d4}00000{d5}"
    else:
        body = f"{d1}{d2}{d3}{d4}{d5}0000{last}"
    upca = number_system + body
    expected = check_digit(upca)
    if len(upce) == 8 and int(upce[7]) != expected:
        raise ValueError("UPC-E check digit does not match")
    return upca + str(expected)


def normalise_gtin(digits: str) -> str:
    """A GTIN-8, -12, -13 or -14 as a GTIN-14 (zero-padded on the left), check digit verified.

    :raises ValueError: for anything that is not such a GTIN.
    """
    digits = digits.strip()
    if not _DIGITS.fullmatch(digits) or len(digits) not in (8, 12, 13, 14):
        raise ValueError("a GTIN has 8, 12, 13 or 14 digits")
    if check_digit(digits[:-1]) != int(digits[-1]):
        raise ValueError(f"GTIN check digit is wrong (expected {check_digit(digits[:-1])})")
    return digits.zfill(14)


def gtin_from_digital_link(uri: str) -> str | None:
    """The GTIN-14 in a GS1 Digital Link URI (``https://example.com/01/09506000134352/10/ABC``), or None."""
    try:
        parts = urlsplit(uri.strip())
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    match = _DIGITAL_LINK_GTIN.search(unquote(parts.path))
    if match is None:
        return None
    try:
        return normalise_gtin(match.group(1))
    except ValueError:
        return None


def gtin_of(code: Code) -> str | None:
    """The GTIN-14 a decoded symbol stands for, or None (not a product code, or a bad check digit)."""
    try:
        if code.format == "upc-e" and len(code.text) in (6, 7, 8):
            return normalise_gtin(upce_to_upca(code.text))
        if code.format in GTIN_FORMATS:
            return normalise_gtin(code.text)
    except ValueError:
        return None
    if code.format == "qr-code":
        return gtin_from_digital_link(code.text)
    return None


# --------------------------------------------------------------------------- decoding


def check_formats(names: Iterable[str]) -> tuple[str, ...]:
    """The format names, de-duplicated in order.

    :raises ValueError: naming an unknown format and listing the known ones.
    """
    result: list[str] = []
    for name in names:
        if name not in FORMATS:
            raise ValueError(f"unknown barcode format {name!r}; known: {', '.join(FORMATS)}")
        if name not in result:
            result.append(name)
    if not result:
        raise ValueError("at least one barcode format is needed")
    return tuple(result)


class BarcodeReader:
    """Decodes the store's barcode formats with zxing-cpp.

    :param formats: our format names (default: EAN-13, EAN-8, UPC-A, UPC-E, QR code).
    :param enhance: when a picture gives nothing, try once more for the linear retail codes
        (EAN/UPC among ``formats``; all of ``formats`` when there are none) on the picture
        shrunk (averaging) to at most :data:`ENHANCE_MAX_SIDE` pixels on its longest side, after a local
        contrast equalisation (CLAHE), upright and not inverted only. It finds more codes in blurred,
        low-contrast photos (shrinking a blurred picture sharpens its bars; a small picture
        costs little), at the cost of that second pass on pictures without a code: right for
        single images (the CLI), not needed for video, where the next frame is the next chance.
    :param try_rotate: let zxing-cpp look for codes at 90/270 degrees too.
    :raises ValueError: for an unknown format name.
    :raises ImportError: when zxing-cpp is not installed.
    """

    def __init__(self, formats: Sequence[str] = DEFAULT_FORMATS, enhance: bool = False, try_rotate: bool = True):
        import zxingcpp

        self.formats = check_formats(formats)
        self.enhance = enhance
        self._zx = zxingcpp
        self._zx_formats = zxingcpp.BarcodeFormats(
            [getattr(zxingcpp.BarcodeFormat, FORMATS[name]) for name in self.formats])
        linear = [name for name in self.formats if name in RETAIL_FORMATS] or list(self.formats)
        self._zx_enhanced = zxingcpp.BarcodeFormats(
            [getattr(zxingcpp.BarcodeFormat, FORMATS[name]) for name in linear])
        self._names = {getattr(zxingcpp.BarcodeFormat, zx): ours for ours, zx in FORMATS.items()}
        self._try_rotate = try_rotate
        self._clahe: cv2.CLAHE | None = None

    def decode(self, image: np.ndarray) -> list[Code]:
        """The codes in ``image`` (grey, BGR or BGRA ``uint8``), each (format, text) once.

        :raises ValueError: for an array that is not a 2-D grey or 3/4-channel image.
        """
        grey = _grey(image)
        codes = self._read(grey, self._zx_formats, self._try_rotate)
        if not codes and self.enhance:
            import cv2

            if self._clahe is None:
                self._clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8))
            scale = ENHANCE_MAX_SIDE / max(grey.shape)
            # Above half size bilinear averages the 2x2 pixels around each output pixel, close to what
            # INTER_AREA does, at a tenth of INTER_AREA's cost for a factor whose inverse is not a whole
            # number (its generic path: 0.27 ms for a 383 px picture to 320 px, bilinear 0.03 ms); at half
            # size and below only INTER_AREA averages every pixel (bilinear would skip some and alias the
            # bars), and for whole-number factors it has a fast path of its own.
            interpolation = cv2.INTER_LINEAR if scale > 0.5 else cv2.INTER_AREA
            small = grey if scale >= 1 else cv2.resize(grey, None, fx=scale, fy=scale, interpolation=interpolation)
            # Upright and not inverted: the first pass tried those on the whole picture already.
            codes = self._read(self._clahe.apply(small), self._zx_enhanced, False, try_invert=False)
            if scale < 1:  # corners in the picture's own pixels
                codes = [Code(code.format, code.text, tuple((round(x / scale), round(y / scale))
                                                            for x, y in code.position)) for code in codes]
        return codes

    def decode_file(self, path: str | Path) -> list[Code]:
        """Decode an image file (any format OpenCV reads: PNG, JPEG, WebP, BMP, TIFF…).

        :raises OSError: when the file cannot be read or is not an image.
        """
        import cv2

        image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if image is None:
            Path(path).read_bytes()  # raises FileNotFoundError/PermissionError/IsADirectoryError with the path
            raise OSError("not an image OpenCV can decode")
        return self.decode(image)

    def _read(self, grey: np.ndarray, formats, try_rotate: bool, try_invert: bool = True) -> list[Code]:
        seen: set[tuple[str, str]] = set()
        codes = []
        found = self._zx.read_barcodes(grey, formats=formats, text_mode=self._zx.TextMode.Plain,
                                       try_rotate=try_rotate, try_invert=try_invert)
        for barcode in found:
            name = self._names.get(barcode.format) or self._names.get(barcode.symbology) or str(barcode.format)
            key = (name, barcode.text)
            if key in seen:
                continue
            seen.add(key)
            position = barcode.position
            corners = tuple((point.x, point.y) for point in (position.top_left, position.top_right,
                                                              position.bottom_right, position.bottom_left))
            codes.append(Code(name, barcode.text, corners))
        return codes


def quiet_opencv() -> None:
    """Stop OpenCV's own logging to stderr (a tool that reports errors itself does not want it twice)."""
    import cv2

    log = getattr(getattr(cv2, "utils", None), "logging", None)
    if log is not None:  # OpenCV 5
        log.setLogLevel(log.LOG_LEVEL_SILENT)
    elif hasattr(cv2, "setLogLevel"):  # OpenCV 4
        cv2.setLogLevel(0)


def one_opencv_thread() -> None:
    """Run OpenCV's own functions (resize, CLAHE, colour conversion) on the calling thread only.

    Process-wide, so it is called where a camera process starts (``edge-agent camera decode`` and
    :func:`~edge_agent.camera.pipeline.build_pipeline`). The camera's pictures are small (a 640x480
    frame, a 320 px picture for the second pass): OpenCV's pool, one thread per core by default, costs
    more than it saves on them. Its workers are woken for every call and spin for a while after
    each, CPU time the decoding itself does not need (on the shared test images, bench/camera_decode.py:
    the reader at a median 1.16x raw zxing-cpp's CPU time with the pool, 1.11x without it), and on a
    device the camera shares the cores with the kiosk and the agent. zxing-cpp has no threads of its own.
    """
    import cv2

    cv2.setNumThreads(1)


def _grey(image: np.ndarray) -> np.ndarray:
    import cv2

    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY)
    if image.ndim == 3 and image.shape[2] == 1:
        return image[:, :, 0]
    raise ValueError(f"not an image: array of shape {image.shape}")


# --------------------------------------------------------------------------- debouncing


class ScanDebouncer:
    """A code held up in front of the camera is one scan.

    :meth:`seen` says whether a sighting is a new scan: it is when the same key
    was not seen during the last ``hold_s`` seconds. A code that stays in view
    (even if some frames miss it, for up to ``hold_s``) is never scanned twice;
    shown again after that, it is a new scan.

    :param hold_s: how long a code may be out of sight and still be the same scan.
    :param max_keys: bound of the memory; the oldest keys are forgotten first.
    :raises ValueError: for a non-positive ``hold_s`` or ``max_keys``.
    """

    def __init__(self, hold_s: float = 1.5, max_keys: int = 256):
        if hold_s <= 0 or max_keys <= 0:
            raise ValueError("hold_s and max_keys must be > 0")
        self.hold_s = hold_s
        self.max_keys = max_keys
        self._last: dict[object, float] = {}

    def seen(self, key: object, t: float) -> bool:
        """Record a sighting of ``key`` at time ``t`` (seconds); True when it is a new scan."""
        last = self._last.pop(key, None)
        self._last[key] = t  # re-inserted: the dict stays ordered by last sighting
        if len(self._last) > self.max_keys:
            del self._last[next(iter(self._last))]
        return last is None or t - last > self.hold_s

    def forget(self, before: float) -> None:
        """Drop keys last seen before ``before`` (they would be new scans anyway)."""
        for key in [key for key, last in self._last.items() if last < before]:
            del self._last[key]
