"""Mistakes in what a user gives us, said one way: ``file:line: key.path: what is wrong``.

Every validator of a file a person writes uses this module: the agent's
configuration (:mod:`edge_agent.config`), the kiosk's (:mod:`kiosk.config`),
content packs (:mod:`kiosk.content`) and ``central push`` files
(:mod:`edge_agent.central_push`). Each mistake is a :class:`Problem`; a
validator raises an :class:`InvalidInput` holding all of them, so one run
names every mistake, each where an editor can jump to it::

    config/agent.toml:9: mqtt.port: Input should be less than or equal to 65535
    content/tuincentrum/content.yaml:7: attract.1.caption.es: unknown language 'es' (use nl, en, fr)

:func:`validation_problems` turns a pydantic ``ValidationError`` into
problems (the one place that words pydantic's errors for people);
:func:`toml_line` and :func:`yaml_line` find the line of a key path in the
source text. :func:`describe_validation` is the one-line form for messages
received over MQTT, which never echoes what the sender wrote.

Both command lines, ``edge-agent`` and ``kiosk``, exit with the same codes:
:data:`EXIT_INVALID` (2, as argparse does for a bad option) when the input
given is invalid, :data:`EXIT_FAILURE` (1) when a valid request failed while
running (a broker that cannot be reached, a card that does not verify).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

#: Everything went as asked.
EXIT_OK = 0
#: The request was valid but failed while running: a broker that cannot be reached, a missing secret,
#: a card whose message does not verify.
EXIT_FAILURE = 1
#: The input given is invalid: a command-line option (argparse's own code), a configuration file, a content
#: pack, a ``central push`` file. Nothing was done; running again without a fix gives the same answer.
EXIT_INVALID = 2

#: The key path of a mistake in the document as a whole (it is not a mapping, or it is empty).
TOP_LEVEL = "(top level)"
#: The last key of a path that names a key the sender wrote: a message from the network never echoes it.
UNKNOWN_KEY = "<unknown key>"

#: A key path as pydantic gives it: keys and list indexes, from the top of the document.
Loc = tuple[int | str, ...]
#: Finds the line (1-based) of a key path in a source text, or None.
Locate = Callable[[Loc], int | None]

# pydantic's location of a mistake in a dictionary's key (``{de: ...}`` where only nl, en, fr may be) ends
# with this marker after the key itself.
_DICT_KEY = "[key]"
_VALUE_ERROR = "Value error, "
_TOML_LINE = re.compile(r"\(at line (\d+), column \d+\)")


@dataclass(frozen=True)
class Problem:
    """One mistake: where (file, line, key path) and what. Each part but the message may be unknown."""

    file: str | Path | None
    line: int | None
    key: str | None
    message: str

    def __str__(self) -> str:
        where = "" if self.file is None else str(self.file)
        if self.line is not None:
            where = f"{where}:{self.line}" if where else f"line {self.line}"
        return ": ".join(part for part in (where, self.key, self.message) if part)


class InvalidInput(Exception):
    """Input that cannot be used. ``problems`` lists every mistake; the message has one per line.

    :param problems: the mistakes, in the order to show them.
    :param source: what was read (a file name, "options"), for the summary line.
    """

    def __init__(self, problems: Sequence[Problem], source: str | Path | None = None):
        self.problems = list(problems)
        self.source = None if source is None else str(source)
        super().__init__("\n".join(str(problem) for problem in self.problems))

    def summary(self) -> str:
        """``<source>: <n> problem(s)``, the line after the problems on a terminal."""
        count = f"{len(self.problems)} problem(s)"
        return f"{self.source}: {count}" if self.source else count


def report(error: InvalidInput, stream: TextIO) -> int:
    """Print every problem of ``error`` on its own line, then its summary; :data:`EXIT_INVALID`."""
    for problem in error.problems:
        print(problem, file=stream)
    print(error.summary(), file=stream)
    return EXIT_INVALID


def key_path(loc: Iterable[int | str]) -> str:
    """``attract.0.caption``: the parts of ``loc`` joined by dots; :data:`TOP_LEVEL` when there are none."""
    return ".".join(str(part) for part in loc) or TOP_LEVEL


def friendly_message(error: ErrorDetails) -> str:
    """pydantic's message for ``error``, worded for someone editing a file."""
    if error["type"] == "extra_forbidden":
        return "unknown key"
    if error["type"] == "missing":
        return "missing: this key is required"
    message = error["msg"].removeprefix(_VALUE_ERROR)
    given = error.get("input")
    if error["type"] == "string_type" and isinstance(given, int | float) and not isinstance(given, bool):
        message += " (quote it: unquoted digits are read as a number)"
    return message


def validation_problems(exc: ValidationError, *, file: str | Path | None = None, locate: Locate | None = None,
                        prefix: Loc = (), message: Callable[[ErrorDetails], str] = friendly_message,
                        redact: bool = False) -> list[Problem]:
    """One :class:`Problem` per error of ``exc``, in pydantic's order.

    :param file: the file the validated document came from.
    :param locate: finds the line of a key path (see :func:`toml_line`, :func:`yaml_line`).
    :param prefix: where the validated value sits in the file (e.g. ``("offers", 3)``).
    :param message: words each error (:func:`friendly_message`; ``lambda error: error["msg"]`` for pydantic's).
    :param redact: never echo what the sender wrote: an unknown key shows as :data:`UNKNOWN_KEY` (for messages
        from the network, whose keys are not ours to log).
    """
    problems = []
    for error in exc.errors(include_url=False):
        loc: Loc = (*prefix, *error["loc"])
        if redact:
            if error["type"] == "extra_forbidden" and len(loc) > len(prefix):
                loc = (*loc[:-1], UNKNOWN_KEY)
            if loc and loc[-1] == _DICT_KEY:
                loc = (*loc[:-2], UNKNOWN_KEY)
        elif loc and loc[-1] == _DICT_KEY:
            loc = loc[:-1]  # the key path of the key itself
        line = locate(loc) if locate is not None else None
        problems.append(Problem(file, line, key_path(loc), message(error)))
    return problems


def describe_validation(exc: ValidationError, prefix: str = "") -> str:
    """One line naming each failing field (the first five), never echoing what the sender wrote.

    For messages received over MQTT: ``data.offers.0.percent: Input should be greater than 0; and 2 more``.
    """
    parts = [f"{problem.key}: {problem.message}" for problem in
             validation_problems(exc, prefix=_split(prefix), message=lambda error: error["msg"], redact=True)[:5]]
    more = exc.error_count() - len(parts)
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)


def _split(prefix: str) -> Loc:
    return tuple(part for part in prefix.split(".") if part)


# --------------------------------------------------------------------------- lines in the source text


def toml_lines(text: str) -> dict[Loc, int]:
    """The line of every table header and key in TOML ``text``, by key path (arrays of tables indexed).

    A line scan, not a parser: it is only asked for lines of a document ``tomllib`` has already read.
    """
    lines: dict[Loc, int] = {}
    arrays: dict[Loc, int] = {}  # array of tables -> elements so far
    table: Loc = ()
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.split("#", 1)[0].strip()
        if stripped.startswith("[[") and stripped.endswith("]]"):
            parts = _dotted(stripped[2:-2])
            array = (*_resolve(parts[:-1], arrays), parts[-1])
            arrays[array] = arrays.get(array, 0) + 1
            table = (*array, arrays[array] - 1)
            lines.setdefault(table, number)
            lines.setdefault(table[:-1], number)
        elif stripped.startswith("[") and stripped.endswith("]"):
            table = _resolve(_dotted(stripped[1:-1]), arrays)
            lines.setdefault(table, number)
        elif "=" in stripped:
            lines.setdefault((*table, *_dotted(stripped.split("=", 1)[0])), number)
    return lines


def _dotted(key: str) -> Loc:
    return tuple(part.strip().strip("\"'") for part in key.split("."))


def _resolve(path: Loc, arrays: dict[Loc, int]) -> Loc:
    """``path`` with the last element's index after each array of tables it passes through."""
    resolved: Loc = ()
    for part in path:
        resolved = (*resolved, part)
        if resolved in arrays:
            resolved = (*resolved, arrays[resolved] - 1)
    return resolved


def toml_line(text: str, loc: Sequence[int | str]) -> int | None:
    """The line of the key at ``loc`` in TOML ``text``, else of the deepest table or key above it that is written."""
    return _deepest(toml_lines(text), tuple(loc))


def toml_locator(text: str) -> Locate:
    """:func:`toml_line` for many key paths of one text (it is scanned once)."""
    lines = toml_lines(text)
    return lambda loc: _deepest(lines, loc)


def _deepest(lines: dict[Loc, int], loc: Loc) -> int | None:
    for end in range(len(loc), 0, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


def toml_error_line(exc: Exception) -> int | None:
    """The line a ``tomllib.TOMLDecodeError`` names in its message (Python 3.11 has no attribute for it)."""
    found = _TOML_LINE.search(str(exc))
    return int(found.group(1)) if found else None


def yaml_node(text: str) -> yaml.Node | None:
    """The YAML node tree of ``text`` (lines and columns kept), None when it is empty or not valid YAML."""
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None


def yaml_line(node: yaml.Node | None, loc: Sequence[int | str]) -> int | None:
    """The line (1-based) of the key or item at ``loc`` under ``node``, or of the deepest one that exists."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            pair = next(((key, value) for key, value in node.value if key.value == part), None)
            if pair is None:
                break
            line, node = pair[0].start_mark.line + 1, pair[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def yaml_locator(node: yaml.Node | None) -> Locate:
    """:func:`yaml_line` under one node tree."""
    return lambda loc: yaml_line(node, loc)


def yaml_error_line(exc: yaml.YAMLError) -> int | None:
    """The line a YAML syntax error points at."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return mark.line + 1 if mark is not None else None

