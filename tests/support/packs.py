"""Content packs the kiosk's look tests share: the demo pack with its media drawn, and a second brand.

The demo pack (``content/tuincentrum``, Tuincentrum De Linde: greens, a linden leaf) is copied with its media
drawn by its own ``make_media.py``; :func:`bike_shop_pack` is a pack of another store (Fietsen Van Dijk: navy,
blue and yellow, a wheel for a logo), so the screenshots show two different brands.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "content" / "tuincentrum"

BIKE_COLOURS = {"primary": "#0b5394", "on_primary": "#ffffff", "accent": "#ffd23f", "on_accent": "#1b1b1b",
                "bar": "#0a2540", "on_bar": "#ffffff", "background": "#eef2f7", "surface": "#ffffff",
                "text": "#13202e"}


def demo_pack(folder: Path) -> Path:
    """A copy of the demo pack in ``folder`` with its media (its logo among them) drawn."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "content.yaml").write_text((DEMO / "content.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    spec = importlib.util.spec_from_file_location("make_media", DEMO / "make_media.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.build_media(folder)
    return folder


def _wheel_logo() -> np.ndarray:
    image = np.zeros((200, 200, 4), np.uint8)
    cv2.circle(image, (100, 100), 92, (63, 210, 255, 255), -1, cv2.LINE_AA)  # yellow disc (BGRA)
    cv2.circle(image, (100, 100), 70, (64, 37, 10, 255), 12, cv2.LINE_AA)  # the tyre, in the bar's navy
    for angle in range(0, 180, 30):
        dx, dy = 70 * np.cos(np.radians(angle)), 70 * np.sin(np.radians(angle))
        cv2.line(image, (int(100 - dx), int(100 - dy)), (int(100 + dx), int(100 + dy)), (64, 37, 10, 255), 4,
                 cv2.LINE_AA)
    cv2.circle(image, (100, 100), 14, (64, 37, 10, 255), -1, cv2.LINE_AA)
    return image


def _slide() -> np.ndarray:
    ramp = np.linspace(0.0, 1.0, 720, dtype=np.float32)[:, None, None]
    top, bottom = np.array((148, 83, 11), np.float32), np.array((64, 37, 10), np.float32)  # BGR blues
    image = np.ascontiguousarray(np.broadcast_to((1 - ramp) * top + ramp * bottom, (720, 1280, 3)).astype(np.uint8))
    cv2.circle(image, (420, 430), 150, (63, 210, 255), 18, cv2.LINE_AA)
    cv2.circle(image, (860, 430), 150, (63, 210, 255), 18, cv2.LINE_AA)
    cv2.line(image, (420, 430), (600, 250), (255, 255, 255), 14, cv2.LINE_AA)
    cv2.line(image, (600, 250), (860, 430), (255, 255, 255), 14, cv2.LINE_AA)
    cv2.line(image, (600, 250), (640, 430), (255, 255, 255), 14, cv2.LINE_AA)
    return image


def bike_shop_pack(folder: Path) -> Path:
    """A second store's pack in ``folder``: one attract slide with a caption, and its brand."""
    (folder / "attract").mkdir(parents=True, exist_ok=True)
    (folder / "brand").mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(folder / "attract" / "fietsen.png"), _slide())
    cv2.imwrite(str(folder / "brand" / "logo.png"), _wheel_logo())
    colours = "\n".join(f'    {key}: "{value}"' for key, value in BIKE_COLOURS.items())
    (folder / "content.yaml").write_text(f"""\
pack: fietsen-van-dijk
version: "1"
attract:
  - id: fietsen
    image: attract/fietsen.png
    seconds: 600
    caption: {{nl: "Nieuwe e-bikes: proefrit vandaag", en: "New e-bikes: test ride today"}}
brand:
  name: "Fietsen Van Dijk"
  logo: brand/logo.png
  colours:
{colours}
""", encoding="utf-8")
    return folder
