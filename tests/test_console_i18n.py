"""The console's nl/en/fr catalogues: GNU ``msgfmt -c`` accepts each, and every text the templates and pages
show is in each (translated in en and fr), so no page shows a Dutch text in English or French by omission."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import polib
import pytest

from edge_agent.console.i18n import DYNAMIC, LANGUAGES, ConsoleTranslations, po_path
from tests.support.system import ensure_installed

PACKAGE = Path(__file__).resolve().parents[1] / "edge_agent" / "console"


def shown_texts() -> set[str]:
    """Every literal ``_("…")`` of the templates, the messages the pages hand to them, and :data:`DYNAMIC`."""
    texts = set(DYNAMIC)
    for template in (PACKAGE / "templates").glob("*.html"):
        texts |= set(re.findall(r'_\("((?:[^"\\]|\\.)*)"\)', template.read_text()))
    for module in PACKAGE.glob("pages_*.py"):
        source = module.read_text()
        texts |= set(re.findall(r'"message": "([^"]+)"', source))
        texts |= set(re.findall(r'login_form\(request, "([^"]+)"', source))
    texts |= set(re.findall(r'NavItem\("[^"]*", "([^"]+)"', (PACKAGE / "web.py").read_text()))
    return texts


@pytest.mark.parametrize("language", LANGUAGES)
def test_gnu_msgfmt_checks_pass_on_every_console_catalogue(language):
    msgfmt = ensure_installed("gettext", binary="msgfmt")
    result = subprocess.run([msgfmt, "-c", "-o", "/dev/null", str(po_path(language))], capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_text_a_console_page_shows_is_in_the_catalogue_and_translated(language):
    catalogue = polib.pofile(str(po_path(language)))
    ids = {entry.msgid: entry.msgstr for entry in catalogue if not entry.obsolete}
    missing = sorted(shown_texts() - set(ids))
    assert not missing, f"{language}: not in the catalogue: {missing}"
    if language != "nl":
        untranslated = sorted(text for text in shown_texts() if not ids[text])
        assert not untranslated, f"{language}: untranslated: {untranslated}"


def test_a_translation_keeps_its_placeholders():
    translations = ConsoleTranslations()
    text = "Te vaak een verkeerde pincode: probeer het over {minutes} min opnieuw."
    for language in LANGUAGES:
        assert "{minutes}" in translations.get(language).gettext(text) or language == "nl"
    assert translations.get("en").gettext(text).format(minutes=5) == "Too many wrong PINs: try again in 5 min."
