"""The kiosk's gettext catalogues: complete, valid, and compiled the same as GNU msgfmt would."""

from __future__ import annotations

import gettext
import io
import shutil
import subprocess

import pytest

from kiosk.i18n import (
    LANGUAGES,
    CatalogueError,
    Translator,
    compile_po,
    load,
    missing_translations,
    parse_po,
    po_path,
    used_texts,
)

SAMPLE = r'''
msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\n"
"Plural-Forms: nplurals=2; plural=(n > 1);\n"

#: kiosk/app.py
msgid "Klaar"
msgstr "Terminé"

msgid "Nog {n} punt"
msgid_plural "Nog {n} punten"
msgstr[0] "Encore {n} point"
msgstr[1] "Encore {n} "
"points"

msgctxt "tier"
msgid "Goud"
msgstr "Or"

#, fuzzy
msgid "Welkom"
msgstr "Bienvenue?"

msgid "Leeg"
msgstr ""

msgid "Met \"aanhalingstekens\"\n"
msgstr "Avec des \"guillemets\"\n"

#~ msgid "Oud"
#~ msgstr "Vieux"
'''


def test_every_text_of_the_code_is_in_every_catalogue_and_translated():
    assert len(used_texts()) > 50, "the scanner finds the texts of .py and .kv files"
    assert missing_translations() == []


def test_a_po_file_compiles_to_what_gettext_reads(tmp_path):
    path = tmp_path / "fr.po"
    path.write_text(SAMPLE, encoding="utf-8")
    translations = gettext.GNUTranslations(io.BytesIO(compile_po(path)))
    assert translations.gettext("Klaar") == "Terminé"
    assert translations.ngettext("Nog {n} punt", "Nog {n} punten", 1) == "Encore {n} point"
    assert translations.ngettext("Nog {n} punt", "Nog {n} punten", 0) == "Encore {n} point", "French: 0 is singular"
    assert translations.ngettext("Nog {n} punt", "Nog {n} punten", 2) == "Encore {n} points"
    assert translations.pgettext("tier", "Goud") == "Or" and translations.gettext("Goud") == "Goud"
    assert translations.gettext("Welkom") == "Welkom", "fuzzy entries are not used"
    assert translations.gettext("Leeg") == "Leeg", "untranslated entries fall back to the source"
    assert translations.gettext('Met "aanhalingstekens"\n') == 'Avec des "guillemets"\n'
    assert translations.gettext("Oud") == "Oud", "obsolete entries are not used"


@pytest.mark.skipif(shutil.which("msgfmt") is None, reason="GNU gettext's msgfmt is not installed")
@pytest.mark.parametrize("language", LANGUAGES)
def test_the_catalogues_compile_as_gnu_msgfmt_compiles_them(tmp_path, language):
    po = po_path(language)
    gnu = tmp_path / "gnu.mo"
    subprocess.run(["msgfmt", "--check", "-o", str(gnu), str(po)], check=True, capture_output=True)
    ours = gettext.GNUTranslations(io.BytesIO(compile_po(po)))
    with open(gnu, "rb") as stream:
        theirs = gettext.GNUTranslations(stream)
    assert ours._catalog == theirs._catalog
    assert ours.plural(0) == theirs.plural(0) and ours.plural(2) == theirs.plural(2)


@pytest.mark.parametrize("text, problem", [
    ('msgid "a"\nmsgstr "b"\nmsgid "a"\nmsgstr "c"\n', "repeats"),
    ('msgid "a"\nmsgstr b\n', "quoted"),
    ('msgid "a"\nmsgstr[0] "b"\n', "msgstr expected"),
    ('msgstr "b"\n', "without msgid"),
    ('msgid "a"\nmsgstring "b"\n', "unknown keyword"),
    ('"loose"\n', "outside an entry"),
    ('msgid "a"\n# a comment ends the entry\nmsgstr "b"\n', "without msgid"),
    ('msgctxt "c"\n', "without msgid"),
    ('msgid "a" "b"\nmsgstr "c"\n', "quoted"),
])
def test_a_broken_po_file_is_refused_with_its_line(text, problem):
    with pytest.raises(CatalogueError, match=problem) as raised:
        parse_po(text, "x.po")
    assert str(raised.value).startswith("x.po:")


def test_a_broken_catalogue_falls_back_to_the_dutch_texts(tmp_path, caplog):
    path = po_path("fr", tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text('msgid "Klaar"\nmsgstr Terminé\n', encoding="utf-8")
    translations = load("fr", tmp_path)
    assert translations.gettext("Klaar") == "Klaar"
    assert "catalogue fr unusable" in caplog.text and "fr/LC_MESSAGES/kiosk.po:2" in caplog.text


def test_a_compiled_mo_newer_than_its_po_is_used(tmp_path):
    path = po_path("en", tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text('msgid "Klaar"\nmsgstr "Done"\n', encoding="utf-8")
    path.with_suffix(".mo").write_bytes(compile_po(path).replace(b"Done", b"Fine"))
    assert Translator(tmp_path, ["en"]).gettext("en", "Klaar") == "Fine"
