"""The screens, one ``.kv`` file each (and a ``.py`` where a screen needs code).

Every screen is a view of the app's properties (``app.session``,
``app.my_data``, ``app.lang``…): when the state is wiped those become empty
and so does every text on every screen, shown or not.
"""

from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder
from kivy.uix.screenmanager import Screen as KivyScreen

from ..state import Screen
from ..widgets import TextBlock

KV_DIR = Path(__file__).resolve().parent


class KioskScreen(KivyScreen):
    """Base of every screen. Its texts that changed while it was hidden are rendered as it comes in
    (:class:`kiosk.widgets.TextBlock`)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.fbind("on_pre_enter", self._render_pending)

    def _render_pending(self, *_args) -> None:
        for widget in self.walk(restrict=True):
            if isinstance(widget, TextBlock):
                widget.render_pending()


class BegrijpScreen(KioskScreen):
    """Begrijp: the greeting for a recognised customer and "what brings you here"."""


class EnrolmentScreen(KioskScreen):
    """Anonymous mode: why the card was not recognised, and the invitation to opt in."""


class ContinueerScreen(KioskScreen):
    """Continueer: points, tier and the progress to the next tier."""


class InformeerScreen(KioskScreen):
    """Informeer: a scanned or lifted product, with the shopper's price and why."""


class MijnGegevensScreen(KioskScreen):
    """Mijn gegevens: what the store knows, consents and their end, the data-use log, and "forget me"."""


class StaffScreen(KioskScreen):
    """Staff home, in staff mode (after the PIN): the member's name and role, the countdown, the staff
    screens the role may open, and device health from the agent's state, birth and health messages."""


def load_kv() -> None:
    """Load the screens' ``.kv`` files (once): one per :class:`kiosk.state.Screen`, named as it is."""
    from . import bereik, converteer, inspireer, ontzorg, staff_screens  # noqa: F401  (their widget classes, before their .kv names them)

    for screen in Screen:
        path = str(KV_DIR / f"{screen.value.replace('-', '_')}.kv")
        if path not in Builder.files:
            Builder.load_file(path)


def create_screens() -> dict[Screen, KioskScreen]:
    """One instance of every screen, named by its :class:`kiosk.state.Screen`."""
    from .bereik import BereikScreen
    from .converteer import ConverteerScreen
    from .inhoud import InhoudScreen
    from .inspireer import InspireerScreen
    from .ontzorg import OntzorgScreen
    from .staff_screens import staff_screens
    from .voorbeeld import VoorbeeldScreen

    load_kv()
    classes: dict[Screen, type[KioskScreen]] = {
        Screen.BEREIK: BereikScreen, Screen.BEGRIJP: BegrijpScreen, Screen.ENROLMENT: EnrolmentScreen,
        Screen.MIJN_GEGEVENS: MijnGegevensScreen, Screen.CONTINUEER: ContinueerScreen, Screen.STAFF: StaffScreen,
        Screen.INFORMEER: InformeerScreen, Screen.CONVERTEER: ConverteerScreen, Screen.INSPIREER: InspireerScreen,
        Screen.ONTZORG: OntzorgScreen, Screen.INHOUD: InhoudScreen, Screen.VOORBEELD: VoorbeeldScreen}
    classes.update({Screen(name): cls for name, cls in staff_screens().items()})  # store staff's other screens
    from .staff_checks import StaffChecksScreen

    classes[Screen.STAFF_CHECKS] = StaffChecksScreen  # the device checks
    return {screen: cls(name=screen.value) for screen, cls in classes.items()}
