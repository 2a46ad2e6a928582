"""The store's look in a content pack (kiosk/brand.py): WCAG contrast, the brand's schema and its theme.

The contrast maths is checked against WCAG's own definition for generated colours (hypothesis) and known
values; a pack's brand is refused with file, line, key path and, for a text colour too close to what it is
drawn on, the ratio. No display is needed: the kiosk on Xvfb is in ``test_kiosk_brand_screens.py``.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.brand import MIN_CONTRAST, contrast_ratio, normal_hex, relative_luminance, rgb, shown_ratio
from kiosk.content import ContentError, apply_overlay, load_pack, save_copy

ROOT = Path(__file__).resolve().parents[1]
colours = st.tuples(*[st.integers(0, 255)] * 3).map(lambda c: "#{:02x}{:02x}{:02x}".format(*c))

GOOD_COLOURS = {"primary": "#2e6b3a", "on_primary": "#ffffff", "accent": "#e3ded2", "on_accent": "#1d1d1b",
                "bar": "#24552e", "on_bar": "#ffffff", "background": "#f4f1ea", "text": "#1d1d1b"}


def png(path: Path, width: int = 40, height: int = 20, colour: tuple[int, int, int] = (40, 120, 60)) -> None:
    """A plain PNG (no imaging library needed)."""
    rows = b"".join(b"\x00" + bytes(colour) * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def branded(folder: Path, colours: dict[str, str] | None = None, logo: str | None = "brand/logo.png",
            name: str = "Fietsen Van Dijk", extra: str = "") -> Path:
    """A pack with one attract image and a brand (``logo`` None: no logo key)."""
    png(folder / "attract" / "lente.png")
    png(folder / "brand" / "logo.png")
    lines = ['pack: test', 'version: "1"', 'attract:', '  - id: lente', '    image: attract/lente.png',
             'brand:', f'  name: "{name}"']
    if logo is not None:
        lines.append(f"  logo: {logo}")
    lines.append("  colours:")
    lines.extend(f'    {key}: "{value}"' for key, value in (colours or GOOD_COLOURS).items())
    (folder / "content.yaml").write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")
    return folder


def problems(folder: Path) -> str:
    with pytest.raises(ContentError) as raised:
        load_pack(folder)
    return str(raised.value)


# --------------------------------------------------------------------------- WCAG's formula


@given(colours, colours)
def test_the_contrast_ratio_is_symmetric_between_1_and_21_and_follows_the_luminances(first, second):
    ratio = contrast_ratio(first, second)
    assert ratio == pytest.approx(contrast_ratio(second, first))
    assert 1.0 <= ratio <= 21.0 + 1e-9
    lighter, darker = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    assert ratio == pytest.approx((lighter + 0.05) / (darker + 0.05))
    assert contrast_ratio(first, first) == pytest.approx(1.0)


@given(colours, st.integers(0, 2), st.integers(1, 255))
def test_a_lighter_channel_never_lowers_the_luminance_and_black_to_white_spans_0_to_1(colour, channel, more):
    channels = list(rgb(colour))
    before = relative_luminance(colour)
    channels[channel] = min(255, channels[channel] + more)
    assert relative_luminance("#{:02x}{:02x}{:02x}".format(*channels)) >= before
    assert 0.0 <= before <= 1.0


@given(st.floats(1.0, 21.0))
def test_a_shown_ratio_is_never_rounded_up_past_what_was_measured(ratio):
    assert float(shown_ratio(ratio)) <= ratio


def test_known_wcag_values():
    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert relative_luminance("#ffffff") == pytest.approx(1.0) and relative_luminance("#000") == 0.0
    # The grey on white that is famously just short of AA, and the one just past it.
    assert contrast_ratio("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
    assert contrast_ratio("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)
    assert contrast_ratio("#777777", "#ffffff") < MIN_CONTRAST <= contrast_ratio("#767676", "#ffffff")
    assert normal_hex("#ABC") == "#aabbcc" and normal_hex(" #2E6B3A ") == "#2e6b3a"
    with pytest.raises(ValueError, match="is not a colour"):
        normal_hex("green")


# --------------------------------------------------------------------------- the brand in a pack


def test_a_branded_pack_loads_with_every_colour_normalised_and_the_logo_as_a_file(tmp_path):
    pack = load_pack(branded(tmp_path, {**GOOD_COLOURS, "primary": "#2E6B3A"}))
    assert pack.brand is not None and pack.brand.name == "Fietsen Van Dijk"
    assert pack.brand.logo == (tmp_path / "brand" / "logo.png").resolve()
    assert pack.brand.colours["primary"] == "#2e6b3a"
    assert pack.brand.colours["surface"] == GOOD_COLOURS["background"], "a brand without surface uses its background"
    assert "brand/logo.png" in pack.files, "the logo is part of the pack (copied with it, listed for delivery)"
    assert apply_overlay(pack, None).brand == pack.brand
    assert save_copy(pack, tmp_path / "last-good") and load_pack(tmp_path / "last-good").brand.colours == \
        pack.brand.colours


def test_a_pack_without_a_brand_has_none(tmp_path):
    branded(tmp_path)
    (tmp_path / "content.yaml").write_text('pack: test\nversion: "1"\n', encoding="utf-8")
    assert load_pack(tmp_path).brand is None


def test_the_demo_pack_has_a_brand_that_passes_its_own_checks(tmp_path):
    manifest = (ROOT / "content" / "tuincentrum" / "content.yaml").read_text(encoding="utf-8")
    (tmp_path / "content.yaml").write_text(manifest.split("\nattract:")[0] + "\n", encoding="utf-8")
    png(tmp_path / "brand" / "logo.png")
    brand = load_pack(tmp_path).brand
    assert brand is not None and brand.name == "Tuincentrum De Linde"


def test_a_text_colour_below_aa_is_refused_with_its_line_and_ratio(tmp_path):
    text = problems(branded(tmp_path, {**GOOD_COLOURS, "background": "#ffffff", "text": "#888888"}))
    line = next(number for number, row in enumerate((tmp_path / "content.yaml").read_text().splitlines(), 1)
                if row.strip().startswith("text:"))
    expected = (f"content.yaml:{line}: brand.colours.text: contrast 3.5:1 against background #ffffff, "
                "needs at least 4.5:1")
    assert expected in text, text


def test_a_text_colour_is_checked_against_every_colour_it_is_drawn_on(tmp_path):
    colours = {**GOOD_COLOURS, "surface": "#1d1d1b"}  # dark panels under dark text
    assert "brand.colours.text: contrast 1:1 against surface #1d1d1b, needs at least 4.5:1" in problems(
        branded(tmp_path, colours))
    colours = {**GOOD_COLOURS, "on_primary": "#3a7a48"}
    assert "brand.colours.on_primary: contrast 1.2:1 against primary #2e6b3a" in problems(
        branded(tmp_path, colours))
    colours = {**GOOD_COLOURS, "on_bar": "#777777", "on_accent": "#ffffff"}
    text = problems(branded(tmp_path, colours))
    assert "brand.colours.on_bar: contrast 1.9:1 against bar #24552e" in text
    assert "brand.colours.on_accent: contrast 1.3:1 against accent #e3ded2" in text


def test_just_short_of_aa_reads_as_short(tmp_path):
    text = problems(branded(tmp_path, {**GOOD_COLOURS, "background": "#ffffff", "text": "#777777"}))
    assert "contrast 4.4:1 against background #ffffff, needs at least 4.5:1" in text, text


@pytest.mark.parametrize("colours, message", [
    ({**GOOD_COLOURS, "primary": "green"}, "brand.colours.primary: 'green' is not a colour: write it as #rrggbb"),
    ({**GOOD_COLOURS, "bar": "#12345"}, "brand.colours.bar: '#12345' is not a colour"),
    ({key: value for key, value in GOOD_COLOURS.items() if key != "on_bar"},
     "brand.colours.on_bar: missing: this key is required"),
    ({**GOOD_COLOURS, "link": "#0000ee"}, "brand.colours.link: unknown key (allowed: primary, on_primary, accent"),
])
def test_a_bad_or_missing_colour_is_refused_with_its_key(tmp_path, colours, message):
    assert message in problems(branded(tmp_path, colours))


def test_a_missing_logo_is_refused(tmp_path):
    assert "brand.logo: missing: this key is required" in problems(branded(tmp_path, logo=None))
    assert "brand.logo: brand/logo.svg does not exist" not in problems(branded(tmp_path, logo="brand/logo.svg"))
    assert "brand.logo: 'brand/logo.svg' is not an image" in problems(branded(tmp_path, logo="brand/logo.svg"))
    text = problems(branded(tmp_path, logo="brand/winkel.png"))
    assert "content.yaml:8: brand.logo: brand/winkel.png does not exist" in text, text
    assert "brand.logo: '../logo.png' must be a path inside the pack folder" in problems(
        branded(tmp_path, logo="../logo.png"))
