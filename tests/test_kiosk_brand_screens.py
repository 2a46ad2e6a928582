"""The store's look on screen: two brands at four window sizes, the high-contrast theme over a brand, and
the kiosk's own look without one.

The kiosk runs on Xvfb with the demo pack (Tuincentrum De Linde) or a second store's pack (Fietsen Van Dijk,
``tests/support/packs.py``); the status file says which colours are in use and the screenshot shows them drawn:
the top bar, the attract captions' band, the bottom bar and a button are read back pixel by pixel.
Screenshots go to ``tests/artifacts/screens/brand-*``.
"""

from __future__ import annotations

import cv2
import pytest

from kiosk.brand import rgb
from tests.support.kiosk import publish_session
from tests.support.packs import BIKE_COLOURS, bike_shop_pack, demo_pack

SIZES = ["800x480", "480x800", "1920x1080", "1080x1920"]
BRANDS = {"linde": ("Tuincentrum De Linde", demo_pack), "vandijk": ("Fietsen Van Dijk", bike_shop_pack)}
HIGH_CONTRAST_BAR = "#000000"


@pytest.fixture(scope="module")
def packs(tmp_path_factory):
    return {key: make(tmp_path_factory.mktemp(key)) for key, (_name, make) in BRANDS.items()}


def pixel(image, x: float, y: float) -> str:
    blue, green, red = image[int(y), int(x)][:3]
    return f"#{red:02x}{green:02x}{blue:02x}"


def near(first: str, second: str, tolerance: int = 3) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(rgb(first), rgb(second), strict=True))


def brand_colours(status: dict) -> dict:
    """What the status says is drawn, in the brand's words."""
    drawn = status["colours"]
    return {"primary": drawn["primary"], "on_primary": drawn["on_primary"], "accent": drawn["secondary"],
            "on_accent": drawn["on_secondary"], "bar": drawn["bar"], "on_bar": drawn["on_bar"],
            "background": drawn["background"], "text": drawn["text"]}


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("brand", list(BRANDS))
def test_a_packs_brand_colours_the_bars_captions_and_buttons_with_its_name_and_logo(
        kiosk, publisher, mosquitto, packs, brand, size):
    name, _make = BRANDS[brand]
    app, topics = kiosk(size=size, args=("--content", str(packs[brand]), "--transition", "none"))
    status = app.wait(lambda s: s["screen"] == "bereik" and s["brand"] is not None and s["attract"]["kind"]
                      and s["logo_shown"], timeout=20)
    colours = status["brand"]["colours"]
    assert status["theme"] == "brand" and name in status["texts"]
    assert brand_colours(status) == {key: colours[key] for key in brand_colours(status)}
    assert status["colours"]["caption"] == colours["bar"] and status["colours"]["on_caption"] == colours["on_bar"]
    image = cv2.imread(str(app.keep(status, f"brand-{brand}-bereik-{size}")))
    width, height = status["window"]
    top = status["geometry"]["top_bar"]
    assert near(pixel(image, width - 2, top[3] / 2), colours["bar"]), "the top bar is in the brand's bar colour"
    assert near(pixel(image, 2, height - 2), colours["bar"]), "the attract captions' band is in the bar colour"
    assert near(pixel(image, width / 2, top[3] + 3), colours["background"]) or status["attract"]["kind"], \
        "behind the screens is the brand's background"

    publish_session(publisher(mosquitto), topics)
    status = app.wait(lambda s: s["screen"] == "begrijp" and app.shows(s, "Sanne"))
    image = cv2.imread(str(app.keep(status, f"brand-{brand}-begrijp-{size}")))
    bottom = status["geometry"]["bottom_bar"]
    assert near(pixel(image, width - 2, bottom[1] + 2), colours["bar"]), "the bottom bar is in the bar colour"
    x, y, w, _h = status["targets"]["intent-inspireer"]
    assert near(pixel(image, x - w / 2 + 3, y), colours["primary"]), "a button is in the brand's primary colour"
    x, y, w, _h = status["targets"]["nav-begrijp"]  # the current screen's button
    assert near(pixel(image, x - w / 2 + 3, y), colours["accent"]), "the current screen's button is in the accent"
    x, y, w, _h = status["targets"]["lang-nl"]  # the language in use
    assert near(pixel(image, x - w / 2 + 3, y), colours["accent"])


def test_high_contrast_overrides_the_brand_and_the_next_shopper_gets_the_brand_back(kiosk, publisher, mosquitto,
                                                                                      packs):
    app, topics = kiosk(args=("--content", str(packs["vandijk"]), "--transition", "none"))
    publish_session(publisher(mosquitto), topics)
    app.wait(lambda s: s["screen"] == "begrijp" and s["theme"] == "brand" and app.shows(s, "Sanne"))
    app.click("contrast")
    status = app.wait(lambda s: s["theme"] == "high-contrast")
    assert status["colours"]["bar"] == HIGH_CONTRAST_BAR and status["colours"]["background"] == "#000000"
    assert status["colours"]["primary"] == "#ffd500" and "Fietsen Van Dijk" in status["texts"]
    image = cv2.imread(str(app.keep(status, "brand-vandijk-high-contrast-800x480")))
    top = status["geometry"]["top_bar"]
    assert near(pixel(image, status["window"][0] - 2, top[3] / 2), HIGH_CONTRAST_BAR)
    for _x, _y, width, height in status["targets"].values():
        assert min(width, height) >= status["min_target_px"] - 0.5
    app.click("klaar")
    status = app.wait(lambda s: s["screen"] == "bereik" and s["theme"] == "brand")
    assert status["colours"]["bar"] == BIKE_COLOURS["bar"]


def test_without_a_brand_the_kiosk_keeps_its_own_look(kiosk):
    from kiosk.widgets import STANDARD

    app, _topics = kiosk()
    status = app.wait_screen("bereik", "Houd uw klantenpas bij de lezer")
    assert status["brand"] is None and status["theme"] == "standard" and not status["logo_shown"]
    assert status["colours"]["bar"] == "#" + "".join(f"{round(c * 255):02x}" for c in STANDARD.bar[:3])
    assert status["colours"]["caption"] == "#ffffff", "the attract captions' band stays white"
    assert status["geometry"]["top_rows"] == 1


def test_a_new_pack_changes_the_look_and_one_with_a_low_contrast_brand_is_refused_with_its_ratio(kiosk, tmp_path):
    folder = bike_shop_pack(tmp_path / "pack")
    app, _topics = kiosk(args=("--content", str(folder), "--transition", "none"))
    app.wait(lambda s: s["brand"] is not None and s["brand"]["name"] == "Fietsen Van Dijk", timeout=20)
    manifest = (folder / "content.yaml").read_text(encoding="utf-8")
    plain = manifest.split("brand:")[0].replace('version: "1"', 'version: "2"')
    (folder / "content.yaml").write_text(plain, encoding="utf-8")
    status = app.wait(lambda s: s["brand"] is None and s["theme"] == "standard", timeout=40)
    assert "Fietsen Van Dijk" not in status["texts"] and not status["logo_shown"]
    faint = manifest.replace('version: "1"', 'version: "3"').replace(
        f'text: "{BIKE_COLOURS["text"]}"', 'text: "#9aa5b1"')
    (folder / "content.yaml").write_text(faint, encoding="utf-8")
    app.wait(lambda _s: "brand.colours.text: contrast 2.2:1 against background #eef2f7, needs at least 4.5:1"
             in app.log(), timeout=40)
    status = app.status()
    assert status["brand"] is None and status["theme"] == "standard", "the refused pack's look is not taken"
