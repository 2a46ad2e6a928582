"""The "what brings you here" choices on Begrijp live in one place, its .kv file (kiosk/state.py kept an unused
copy, INTENTS, that could drift from it): each opens a screen a recognised customer may open."""

import re
from pathlib import Path

import kiosk.state
from kiosk.state import SCREENS, Mode, Screen

BEGRIJP = Path(kiosk.state.__file__).parent / "screens" / "begrijp.kv"


def test_begrijp_intents_are_defined_once_and_each_opens_a_screen_a_customer_may_open():
    assert not hasattr(kiosk.state, "INTENTS"), "a second, unused list of the intents"
    opened = re.findall(r"target: 'intent-([a-z-]+)'\s+text: [^\n]+\s+on_release: app\.open_screen\('([a-z-]+)'\)",
                        BEGRIJP.read_text())
    assert len(opened) == 5
    for target, screen in opened:
        assert target == screen and Screen(screen) in SCREENS[Mode.CUSTOMER] and Screen(screen) is not Screen.BEGRIJP
