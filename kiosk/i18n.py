"""Languages of the kiosk: gettext catalogues, Dutch first, English and French.

The texts are written in Dutch in the code and the ``.kv`` files, marked with
``tr("…")`` (or :func:`kiosk.state.N_` where they are only named), and
translated in ``kiosk/locale/{nl,en,fr}/LC_MESSAGES/kiosk.po`` — plain PO
files a translator edits with any PO editor. The Dutch catalogue may leave a
``msgstr`` empty: the Dutch source text is then shown.

The ``.po`` files are read and compiled to the binary ``.mo`` format that
Python's :mod:`gettext` reads by polib (pure Python, so the kiosk needs no GNU
gettext on a fresh machine): fuzzy, obsolete and untranslated entries are left
out, so gettext shows the source text for them. At start each catalogue is
compiled in memory, unless a ``.mo`` file newer than its ``.po`` lies beside it
(``python -m kiosk.i18n compile`` writes those, for a package build). Run
``python -m kiosk.i18n check`` to list texts in the code that a catalogue lacks.
"""

from __future__ import annotations

import argparse
import ast
import gettext
import io
import logging
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import polib

from edge_agent.contract import LANGUAGES

logger = logging.getLogger(__name__)

DOMAIN = "kiosk"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
PACKAGE_DIR = Path(__file__).resolve().parent
SOURCE_LANGUAGE = "nl"


class CatalogueError(Exception):
    """A PO file that cannot be compiled; the message names the file and line."""


_KEYWORD = re.compile(r"msgctxt|msgid|msgid_plural|msgstr(?:\[\d+\])?")
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
_POLIB_LINE = re.compile(r"\(line (\d+)\)(?::\s*(.*))?")


def _check_lines(text: str, path: str) -> None:
    """Refuse the mistakes polib reads without a word, and name the common ones better than it does.

    polib takes a keyword's string to be whatever lies between the line's first
    and last character (``msgstr Terminé`` would be "ermin"), and accepts a
    ``msgstr`` for a plural msgid or ``msgstr[n]`` for a singular one. A stray
    string or msgstr it refuses as a "syntax error"; this says which.
    """
    keyword, keyword_line = "", 0  # the last keyword of the entry being read, and its line
    in_entry = False  # a keyword came after the last comment, so a string line continues it
    plural = False
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):  # comments, flags and obsolete (#~) entries: polib reads those
            in_entry = False
            if keyword != "msgctxt":  # a comment ends an entry (a msgid's msgstr cannot follow it)
                keyword = ""
            continue
        value = line
        if line.startswith('"'):
            if not in_entry:
                raise CatalogueError(f"{path}:{number}: a string outside an entry")
        else:
            word, _, value = line.partition(" ")
            if not _KEYWORD.fullmatch(word):
                raise CatalogueError(f"{path}:{number}: unknown keyword {word[:20]!r}")
            if word == "msgid":
                plural = False
            elif word == "msgid_plural":
                plural = True
            elif word.startswith("msgstr"):
                if keyword not in ("msgid", "msgid_plural") and not keyword.startswith("msgstr["):
                    raise CatalogueError(f"{path}:{number}: msgstr without msgid")
                if (word == "msgstr") == plural:
                    raise CatalogueError(f"{path}:{number}: {'msgstr[n]' if plural else 'msgstr'} expected "
                                         f"for this msgid")
            keyword, keyword_line, in_entry = word, number, True
        if not _QUOTED.fullmatch(value.strip()):
            raise CatalogueError(f"{path}:{number}: expected a quoted string")
    if keyword == "msgctxt":
        raise CatalogueError(f"{path}:{keyword_line}: an entry without msgid")


def parse_po(text: str, path: str = "<po>") -> polib.POFile:
    """The catalogue of a PO file's text (polib; the header is its ``metadata``).

    :raises CatalogueError: naming the file and line of the first mistake.
    """
    _check_lines(text, path)
    try:
        catalogue = polib.pofile(text, encoding="utf-8")
    except OSError as exc:  # polib's syntax errors: "Syntax error in po file (line N)[: what]"
        found = _POLIB_LINE.search(str(exc))
        where = f"{path}:{found.group(1)}" if found else path
        raise CatalogueError(f"{where}: {(found.group(2) if found else None) or 'syntax error'}") from None
    seen: set[tuple[str | None, str]] = set()
    for entry in catalogue:
        if entry.obsolete:
            continue
        key = (entry.msgctxt, entry.msgid)
        if key in seen:
            raise CatalogueError(f"{path}:{entry.linenum}: msgid {entry.msgid!r} repeats an earlier one")
        seen.add(key)
    return catalogue


def compile_po(path: Path) -> bytes:
    """Compile the PO file at ``path`` to a ``.mo`` image (fuzzy, obsolete and untranslated entries left out).

    :raises CatalogueError: naming the file and line of a mistake.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogueError(f"{path}: cannot read: {exc}") from None
    return parse_po(text, str(path)).to_binary()


def _forms(entry: polib.POEntry) -> list[str]:
    """An entry's translation: one form, or one per plural form."""
    if entry.msgid_plural:
        return [entry.msgstr_plural[index] for index in sorted(entry.msgstr_plural)]
    return [entry.msgstr]


def po_path(language: str, locale_dir: Path = LOCALE_DIR) -> Path:
    return locale_dir / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def load(language: str, locale_dir: Path = LOCALE_DIR) -> gettext.NullTranslations:
    """The translations of ``language``: a ``.mo`` newer than its ``.po``, else the ``.po`` compiled in memory.

    A missing or broken catalogue is logged and gives the Dutch source texts.
    """
    po = po_path(language, locale_dir)
    mo = po.with_suffix(".mo")
    try:
        if mo.exists() and (not po.exists() or mo.stat().st_mtime >= po.stat().st_mtime):
            with open(mo, "rb") as stream:
                return gettext.GNUTranslations(stream)
        return gettext.GNUTranslations(io.BytesIO(compile_po(po)))
    except (OSError, CatalogueError) as exc:
        logger.error("catalogue %s unusable, showing Dutch texts: %s", language, exc)
        return gettext.NullTranslations()


class Translator:
    """Translates into any of :data:`LANGUAGES`; loads all catalogues once.

    :param locale_dir: where the ``{lang}/LC_MESSAGES/kiosk.po`` files are.
    """

    def __init__(self, locale_dir: Path = LOCALE_DIR, languages: Iterable[str] = LANGUAGES):
        self.catalogues = {language: load(language, locale_dir) for language in languages}

    def _catalogue(self, language: str) -> gettext.NullTranslations:
        return self.catalogues.get(language) or self.catalogues.get(SOURCE_LANGUAGE) or gettext.NullTranslations()

    def gettext(self, language: str, message: str) -> str:
        return self._catalogue(language).gettext(message)

    def ngettext(self, language: str, singular: str, plural: str, count: int) -> str:
        return self._catalogue(language).ngettext(singular, plural, count)

    def pgettext(self, language: str, context: str, message: str) -> str:
        return self._catalogue(language).pgettext(context, message)


# --------------------------------------------------------------------------- finding the texts of the code

# tr("…"), tr('…'), N_("…"), trn("…", "…", n), trp("context", "…") in .py and .kv files.
_STRING = r"""("(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')"""
_CALLS = {
    "tr": re.compile(r"\btr\(\s*" + _STRING),
    "N_": re.compile(r"\bN_\(\s*" + _STRING),
    "trn": re.compile(r"\btrn\(\s*" + _STRING + r"\s*,\s*" + _STRING),
    "trp": re.compile(r"\btrp\(\s*" + _STRING + r"\s*,\s*" + _STRING),
}


@dataclass(frozen=True)
class Used:
    """A text the code translates: (context, msgid, plural) and where."""

    context: str | None
    msgid: str
    plural: str | None
    where: str


def used_texts(package_dir: Path = PACKAGE_DIR) -> list[Used]:
    """Every text marked for translation in the kiosk's ``.py`` and ``.kv`` files."""
    found = []
    for path in sorted(list(package_dir.rglob("*.py")) + list(package_dir.rglob("*.kv"))):
        if path.name == "i18n.py":
            continue
        text = path.read_text(encoding="utf-8")
        for name, pattern in _CALLS.items():
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                where = f"{path.relative_to(package_dir.parent)}:{line}"
                first = ast.literal_eval(match.group(1))
                if name == "trn":
                    found.append(Used(None, first, ast.literal_eval(match.group(2)), where))
                elif name == "trp":
                    found.append(Used(first, ast.literal_eval(match.group(2)), None, where))
                else:
                    found.append(Used(None, first, None, where))
    return found


def missing_translations(locale_dir: Path = LOCALE_DIR, package_dir: Path = PACKAGE_DIR) -> list[str]:
    """Problems: texts of the code a catalogue lacks, or (for en and fr) leaves untranslated or fuzzy."""
    problems = []
    used = used_texts(package_dir)
    for language in LANGUAGES:
        path = po_path(language, locale_dir)
        entries = {(entry.msgctxt, entry.msgid): entry for entry in parse_po(path.read_text("utf-8"), str(path))
                   if not entry.obsolete}
        for text in used:
            entry = entries.get((text.context, text.msgid))
            if entry is None:
                problems.append(f"{language}: {text.where}: {text.msgid!r} is not in {path.name}")
            elif language != SOURCE_LANGUAGE and not entry.translated():
                problems.append(f"{language}: {text.where}: {text.msgid!r} is not translated")
            elif (not entry.msgid_plural) != (text.plural is None):
                problems.append(f"{language}: {text.where}: {text.msgid!r} plural forms differ")
            elif language != SOURCE_LANGUAGE:
                wanted = set(re.findall(r"\{\w*\}", text.msgid))
                for form in _forms(entry):
                    if set(re.findall(r"\{\w*\}", form)) != wanted:
                        problems.append(f"{language}: {text.where}: {text.msgid!r}: placeholders differ")
                        break
    return problems


def main(argv: list[str] | None = None) -> int:
    """``python -m kiosk.i18n compile|check``."""
    parser = argparse.ArgumentParser(prog="python -m kiosk.i18n", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["compile", "check"],
                        help="compile: write kiosk.mo beside each kiosk.po; check: list missing translations")
    args = parser.parse_args(argv)
    if args.command == "compile":
        for language in LANGUAGES:
            po = po_path(language)
            try:
                po.with_suffix(".mo").write_bytes(compile_po(po))
            except CatalogueError as exc:
                print(exc, file=sys.stderr)
                return 1
            print(po.with_suffix(".mo"))
        return 0
    problems = missing_translations()
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
