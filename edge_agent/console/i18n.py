"""Languages of the console: nl (the source texts), en and fr, from ``.po`` catalogues like the kiosk's.

The texts are Dutch in the templates and the code, marked ``_("…")``; their translations are in
``edge_agent/console/locale/{nl,en,fr}/LC_MESSAGES/console.po``, compiled in memory at start by the kiosk's own
compiler (:func:`kiosk.i18n.compile_po`: polib, with its checks of the file; ``msgfmt -c`` passes on them too).
A missing or broken catalogue is logged and shows the Dutch texts. The language is the ``lang`` cookie (set by
the language links) or else the browser's ``Accept-Language``, or else the configured one.
"""

from __future__ import annotations

import gettext
import io
import logging
from pathlib import Path

from kiosk.i18n import CatalogueError, compile_po

logger = logging.getLogger(__name__)

DOMAIN = "console"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANGUAGES = ("nl", "en", "fr")
#: Texts the templates translate from a value (``_(section)``, ``_(session.role.value)``…), not a literal:
#: the catalogue check (tests/test_console_i18n.py) adds them to the literals it finds.
DYNAMIC: tuple[str, ...] = (
    "staff", "manager", "attract", "inspire", "instructions", "enable", "disable", "move-up", "move-down",
    "undo", "reset", "ok", "full", "busy", "io-error", "Aan", "Uit", "Vandaag aan", "Vandaag uit", "Overzicht",
    "Apparaten", "Personeel",
    # The analytics pages (pages_analytics.py): the menu entry, the phases and the kinds of session.
    "Gebruik", "Bereik", "Begrijp", "Inspireer", "Informeer", "Converteer", "Ontzorg", "Continueer", "Herkend",
    "Anoniem", "Aanmelding", "Zonder pas", "Overige",
    # The alerts page (pages_alerts.py): the kinds of alert, the phases of a call, why a device is offline.
    "Meldingen", "assist", "stock", "offline", "outbox", "content", "reach", "understand", "inform", "convert",
    "after-care", "continue", "connected", "shutdown", "last-will")


def po_path(language: str, locale_dir: Path = LOCALE_DIR) -> Path:
    return locale_dir / language / "LC_MESSAGES" / f"{DOMAIN}.po"


class ConsoleTranslations:
    """Every language's catalogue, loaded once."""

    def __init__(self, locale_dir: Path = LOCALE_DIR):
        self.catalogues: dict[str, gettext.NullTranslations] = {}
        for language in LANGUAGES:
            try:
                self.catalogues[language] = gettext.GNUTranslations(io.BytesIO(compile_po(po_path(language,
                                                                                                    locale_dir))))
            except (OSError, CatalogueError) as exc:
                logger.error("console catalogue %s unusable, showing Dutch texts: %s", language, exc)
                self.catalogues[language] = gettext.NullTranslations()

    def get(self, language: str) -> gettext.NullTranslations:
        return self.catalogues.get(language) or gettext.NullTranslations()


def choose_language(cookie: str | None, accept: str | None, default: str) -> str:
    """The page's language: the cookie's, else the first of ``Accept-Language`` the console has, else ``default``."""
    if cookie in LANGUAGES:
        return str(cookie)
    for part in (accept or "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return default
