"""Languages of the kiosk: gettext catalogues, Dutch first, English and French.

The texts are written in Dutch in the code and the ``.kv`` files, marked with
``tr("…")`` (or :func:`kiosk.state.N_` where they are only named), and
translated in ``kiosk/locale/{nl,en,fr}/LC_MESSAGES/kiosk.po`` — plain PO
files a translator edits with any PO editor. The Dutch catalogue may leave a
``msgstr`` empty: the Dutch source text is then shown.

The ``.po`` files are compiled to the binary ``.mo`` format that Python's
:mod:`gettext` reads. :func:`compile_po` does that in pure Python (the rules
of CPython's ``Tools/i18n/msgfmt.py``, which Debian's python3 does not ship),
so the kiosk needs neither GNU gettext nor Babel on a fresh machine: at start
each catalogue is compiled in memory, unless a ``.mo`` file newer than its
``.po`` lies beside it (``python -m kiosk.i18n compile`` writes those, for a
package build). Run ``python -m kiosk.i18n check`` to list texts in the code
that a catalogue lacks.
"""

from __future__ import annotations

import argparse
import ast
import gettext
import io
import logging
import re
import struct
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from edge_agent.contract import LANGUAGES

logger = logging.getLogger(__name__)

DOMAIN = "kiosk"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
PACKAGE_DIR = Path(__file__).resolve().parent
SOURCE_LANGUAGE = "nl"


class CatalogueError(Exception):
    """A PO file that cannot be compiled; the message names the file and line."""


@dataclass(frozen=True)
class Entry:
    """One message of a PO file."""

    msgid: str
    msgstr: tuple[str, ...]  # one form, or one per plural form
    context: str | None = None
    plural: str | None = None
    fuzzy: bool = False
    line: int = 0


def _unquote(text: str, path: str, line: int) -> str:
    text = text.strip()
    if not (len(text) >= 2 and text[0] == '"' and text[-1] == '"'):
        raise CatalogueError(f"{path}:{line}: expected a quoted string")
    try:
        value = ast.literal_eval(text)
    except (SyntaxError, ValueError):
        raise CatalogueError(f"{path}:{line}: bad string escape") from None
    if not isinstance(value, str):
        raise CatalogueError(f"{path}:{line}: expected a string")
    return value


def parse_po(text: str, path: str = "<po>") -> list[Entry]:
    """The entries of a PO file (the header is the entry with an empty msgid).

    :raises CatalogueError: naming the file and line of the first mistake.
    """
    entries: list[Entry] = []
    current: dict = {}
    section: str | None = None
    fuzzy = False

    def finish() -> None:
        nonlocal current, fuzzy, section
        if "msgid" in current:
            strings = current.get("msgstr", {})
            if current.get("msgid_plural") is None:
                forms = (strings.get(0, ""),)
            else:
                forms = tuple(strings[index] for index in sorted(strings))
            entries.append(Entry(current["msgid"], forms, current.get("msgctxt"), current.get("msgid_plural"),
                                 fuzzy, current["line"]))
        elif current:
            raise CatalogueError(f"{path}:{current.get('line', '?')}: an entry without msgid")
        current, fuzzy, section = {}, False, None

    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            if "msgstr" in current or "msgid" in current:
                finish()
            if line.startswith("#,") and "fuzzy" in (part.strip() for part in line[2:].split(",")):
                fuzzy = True
            continue
        keyword, _, rest = line.partition(" ")
        if line.startswith('"'):
            if section is None:
                raise CatalogueError(f"{path}:{number}: a string outside an entry")
            piece = _unquote(line, path, number)
            if isinstance(section, tuple):
                current["msgstr"][section[1]] += piece
            else:
                current[section] += piece
            continue
        if keyword == "msgctxt":
            if "msgstr" in current:
                finish()
            current["msgctxt"] = _unquote(rest, path, number)
            current.setdefault("line", number)
            section = "msgctxt"
        elif keyword == "msgid":
            if "msgstr" in current:
                finish()
            if "msgid" in current:
                raise CatalogueError(f"{path}:{number}: msgid without msgstr before it")
            current["msgid"] = _unquote(rest, path, number)
            current.setdefault("line", number)
            section = "msgid"
        elif keyword == "msgid_plural":
            if "msgid" not in current:
                raise CatalogueError(f"{path}:{number}: msgid_plural without msgid")
            current["msgid_plural"] = _unquote(rest, path, number)
            section = "msgid_plural"
        elif keyword == "msgstr" or re.fullmatch(r"msgstr\[\d+\]", keyword):
            if "msgid" not in current:
                raise CatalogueError(f"{path}:{number}: msgstr without msgid")
            index = int(keyword[7:-1]) if keyword != "msgstr" else 0
            if (keyword == "msgstr") != (current.get("msgid_plural") is None):
                raise CatalogueError(f"{path}:{number}: {'msgstr[n]' if keyword == 'msgstr' else 'msgstr'} "
                                     f"expected for this msgid")
            current.setdefault("msgstr", {})[index] = _unquote(rest, path, number)
            section = ("msgstr", index)
        else:
            raise CatalogueError(f"{path}:{number}: unknown keyword {keyword[:20]!r}")
    finish()
    seen: dict[tuple[str | None, str], int] = {}
    for entry in entries:
        key = (entry.context, entry.msgid)
        if key in seen:
            raise CatalogueError(f"{path}:{entry.line}: msgid repeats the one on line {seen[key]}")
        seen[key] = entry.line
    return entries


def compile_entries(entries: Iterable[Entry]) -> bytes:
    """The GNU ``.mo`` image of ``entries``: fuzzy and untranslated ones left out (the header kept)."""
    messages: dict[bytes, bytes] = {}
    for entry in entries:
        if entry.msgid and (entry.fuzzy or not all(entry.msgstr)):
            continue  # gettext then falls back to the source text
        key = entry.msgid if entry.plural is None else entry.msgid + "\0" + entry.plural
        if entry.context is not None:
            key = entry.context + "\x04" + key
        messages[key.encode()] = "\0".join(entry.msgstr).encode()
    keys = sorted(messages)
    ids = strs = b""
    offsets = []
    for key in keys:
        offsets.append((len(ids), len(key), len(strs), len(messages[key])))
        ids += key + b"\0"
        strs += messages[key] + b"\0"
    start_ids = 7 * 4
    start_strs = start_ids + len(keys) * 8
    start_data = start_strs + len(keys) * 8
    id_table, str_table = [], []
    for id_offset, id_length, str_offset, str_length in offsets:
        id_table += [id_length, start_data + id_offset]
        str_table += [str_length, start_data + len(ids) + str_offset]
    header = struct.pack("Iiiiiii", 0x950412DE, 0, len(keys), start_ids, start_strs, 0, 0)
    return (header + struct.pack(f"{len(id_table)}i", *id_table) + struct.pack(f"{len(str_table)}i", *str_table)
            + ids + strs)


def compile_po(path: Path) -> bytes:
    """Compile the PO file at ``path`` to a ``.mo`` image.

    :raises CatalogueError: naming the file and line of a mistake.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogueError(f"{path}: cannot read: {exc}") from None
    return compile_entries(parse_po(text, str(path)))


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
        entries = {(entry.context, entry.msgid): entry for entry in parse_po(path.read_text("utf-8"), str(path))}
        for text in used:
            entry = entries.get((text.context, text.msgid))
            if entry is None:
                problems.append(f"{language}: {text.where}: {text.msgid!r} is not in {path.name}")
            elif language != SOURCE_LANGUAGE and (entry.fuzzy or not all(entry.msgstr)):
                problems.append(f"{language}: {text.where}: {text.msgid!r} is not translated")
            elif (entry.plural is None) != (text.plural is None):
                problems.append(f"{language}: {text.where}: {text.msgid!r} plural forms differ")
            elif language != SOURCE_LANGUAGE:
                wanted = set(re.findall(r"\{\w*\}", text.msgid))
                for form in entry.msgstr:
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
