"""The store's look from its content pack: name, logo and colours, and the contrast every text colour needs.

A pack may carry a ``brand`` (the manifest's format is in :mod:`kiosk.content`)::

    brand:
      name: "Tuincentrum De Linde"      # the store's name in the top bar and the attract screen's welcome
      logo: brand/logo.png              # an image in the pack, at the left of the top bar
      colours:                          # #rrggbb (or #rgb)
        primary: "#2e6b3a"              # buttons, the countdown, progress bars
        on_primary: "#ffffff"           # text on them
        accent: "#e3ded2"               # the current screen's button and the other buttons
        on_accent: "#1d1d1b"            # text on them
        bar: "#24552e"                  # the top and the bottom bar, the attract captions' band
        on_bar: "#ffffff"               # the store's name, the bars' buttons, the attract captions
        background: "#f4f1ea"           # behind the screens
        text: "#1d1d1b"                 # text on the background and on panels
        surface: "#ffffff"              # optional: panels (default: the background)

Each text colour is checked against every colour it is drawn on (:data:`TEXT_ON`) with WCAG 2's relative
luminance and contrast ratio (https://www.w3.org/TR/WCAG21/#dfn-contrast-ratio); below AA's 4.5:1
(:data:`MIN_CONTRAST`) the pack is refused: ``content.yaml:9: brand.colours.text: contrast 3.2:1 against
background #ffffff, needs at least 4.5:1``. The ratio shown is rounded down, so a refused colour never reads
as passing. The high-contrast theme (:data:`kiosk.widgets.HIGH_CONTRAST`) stays the shopper's choice and
overrides the brand; a pack without a brand looks like the kiosk's own theme. This module has no Kivy in it:
the agent checks packs with it too.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

#: WCAG 2 AA for normal text.
MIN_CONTRAST = 4.5

#: Each text colour and the colours it is drawn on.
TEXT_ON: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("text", ("background", "surface")),
    ("on_primary", ("primary",)),
    ("on_accent", ("accent",)),
    ("on_bar", ("bar",)),
)

_HEX = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")


def normal_hex(text: str) -> str:
    """``text`` (``#rgb`` or ``#rrggbb``, any case) as ``#rrggbb`` in lower case.

    :raises ValueError: for anything else, saying how to write a colour.
    """
    value = text.strip()
    if not _HEX.match(value):
        raise ValueError(f"{text!r} is not a colour: write it as #rrggbb (e.g. #2e6b3a)")
    digits = value[1:].lower()
    return "#" + ("".join(digit * 2 for digit in digits) if len(digits) == 3 else digits)


def rgb(colour: str) -> tuple[int, int, int]:
    """The 0..255 channels of a ``#rrggbb`` (or ``#rgb``) colour."""
    digits = normal_hex(colour)[1:]
    return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)


def _linear(channel: int) -> float:
    # WCAG 2.x's sRGB linearisation (its 0.03928 threshold; 0.04045 in the sRGB standard gives the same
    # result for every 8-bit value).
    value = channel / 255
    return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4


def relative_luminance(colour: str) -> float:
    """WCAG's relative luminance of ``colour``: 0 for black, 1 for white."""
    red, green, blue = (_linear(channel) for channel in rgb(colour))
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast_ratio(first: str, second: str) -> float:
    """WCAG's contrast ratio of two colours, 1 (the same) to 21 (black on white); symmetric."""
    lighter, darker = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def shown_ratio(ratio: float) -> str:
    """``ratio`` for a message, rounded *down* to one decimal: 4.49 shows as 4.4, not as a passing 4.5."""
    return f"{math.floor(ratio * 10) / 10:g}"


# --------------------------------------------------------------------------- the manifest's schema

Colour = Annotated[str, AfterValidator(normal_hex)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColoursEntry(_Strict):
    """``brand.colours``: see the module docstring."""

    primary: Colour = Field(description="Buttons, the countdown, progress bars.")
    on_primary: Colour = Field(description="Text on primary.")
    accent: Colour = Field(description="The current screen's button and the other buttons.")
    on_accent: Colour = Field(description="Text on accent.")
    bar: Colour = Field(description="The top and the bottom bar, the attract captions' band.")
    on_bar: Colour = Field(description="Text on the bars and in the attract captions.")
    background: Colour = Field(description="Behind the screens.")
    text: Colour = Field(description="Text on the background and on panels.")
    surface: Colour | None = Field(None, description="Panels (default: the background).")

    def palette(self) -> dict[str, str]:
        """Every colour by name, ``surface`` filled in."""
        colours = self.model_dump()
        colours["surface"] = self.surface or self.background
        return colours


class BrandEntry(_Strict):
    """``brand``: the store's name, logo (an image in the pack) and colours."""

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
    logo: Annotated[str, StringConstraints(min_length=1, max_length=300)]
    colours: ColoursEntry


def contrast_problems(colours: ColoursEntry) -> list[tuple[str, str]]:
    """(text colour's key, what is wrong) for each text colour below :data:`MIN_CONTRAST` against a colour it
    is drawn on (the first such one)."""
    palette = colours.palette()
    found = []
    for text, grounds in TEXT_ON:
        for ground in grounds:
            ratio = contrast_ratio(palette[text], palette[ground])
            if ratio < MIN_CONTRAST:
                message = (f"contrast {shown_ratio(ratio)}:1 against {ground} {palette[ground]}, "
                           f"needs at least {MIN_CONTRAST:g}:1")
                found.append((text, message))
                break
    return found


@dataclass(frozen=True)
class Brand:
    """A pack's validated brand: ``logo`` is the image's absolute path, ``colours`` every colour by name
    (``#rrggbb``, ``surface`` filled in)."""

    name: str
    logo: Path
    colours: dict[str, str]

    @classmethod
    def from_entry(cls, entry: BrandEntry, folder: Path) -> Brand:
        return cls(entry.name, (folder / entry.logo).resolve(), entry.colours.palette())
