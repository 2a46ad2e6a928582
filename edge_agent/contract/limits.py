"""The largest message a JSON Schema allows, in bytes as the contract encodes it: each push must fit the limit.

:data:`~edge_agent.contract.codec.MESSAGE_LIMIT` (256 KiB) is the most the
agent reads of one message. A push that the published schema accepts must
therefore never be bigger: every list of a push has a ``maxItems`` chosen so
that a message with every list full and every field at its longest encodes
below the limit. :func:`worst_case_bytes` computes that size from the schema
alone (the one in ``docs/asyncapi.yaml``), and the tests check it for every
push; ``central push`` packs larger batches into several messages.

How each value is counted, as :func:`~edge_agent.contract.codec.encode` writes
it (compact JSON, UTF-8, ``ensure_ascii=False``):

- a string: its longest length (``maxLength``, or the longest match of its
  ``pattern``) times the most bytes one character of it can take: 1 for a
  pattern of plain ASCII characters, 2 if it may hold ``"`` or ``\\``, 6 for
  free text (a control character is written ``\\u0001``), plus the quotes.
  ``format: date-time`` is 32 characters (microseconds and an offset, as the
  agent writes it), ``format: date`` 10;
- an integer: the digits of its bounds (20 without bounds: 64 bits, what SQLite
  holds); a number 24 (the longest ``repr`` of a double); booleans, null,
  ``enum`` and ``const`` their longest JSON text;
- an object: every property present, each at its largest; a map
  (``additionalProperties``) only when ``propertyNames`` lists its keys;
- an array: ``maxItems`` items, each at its largest;
- ``anyOf`` / ``oneOf``: the largest choice; beside a ``type`` or
  ``properties`` they (and ``if``/``then``/``else``, ``allOf``) only narrow
  what the node allows, and its own keywords bound it.

Anything without a bound (a list without ``maxItems``, text without a length)
raises :class:`Unbounded` naming where it is.
"""

from __future__ import annotations

import json
from re import _parser as _sre_parse  # type: ignore[attr-defined]  # private (not in typeshed); the only parser
from typing import Any

from ..errors import ContractError

#: Characters of a date-time as the agent writes it: ``2026-04-01T09:30:00.123456+02:00``.
DATE_TIME_CHARS = 32
DATE_CHARS = 10
#: Digits and sign of an integer without bounds: the agent keeps integers in SQLite, 64 bits.
INTEGER_CHARS = 20
#: The longest ``repr`` of a double, e.g. ``-2.2250738585072014e-308``.
NUMBER_CHARS = 24
#: Bytes one character of free text can take in JSON: a control character is written ``\u0001``.
FREE_TEXT_CHAR_BYTES = 6

_MAXREPEAT = _sre_parse.MAXREPEAT


class Unbounded(ContractError):
    """A schema allows values of any size at ``path``: it needs a ``maxItems`` or ``maxLength`` there."""

    def __init__(self, path: str, what: str):
        super().__init__(f"{path or '(top level)'}: {what}")
        self.path = path


def worst_case_bytes(schema: dict[str, Any], definitions: dict[str, Any] | None = None) -> int:
    """The size in bytes of the largest JSON document ``schema`` accepts (see the module docstring).

    :param definitions: where its ``$ref`` point, by the last part of the reference (default: its ``$defs``;
        for a schema of the AsyncAPI document, ``components.schemas``).
    :raises Unbounded: naming the first place without a bound.
    """
    return _Sizer(schema.get("$defs", {}) if definitions is None else definitions).size(schema, "")


class _Sizer:
    def __init__(self, defs: dict[str, Any]):
        self.defs = defs

    def size(self, node: Any, path: str) -> int:
        if node is True or node == {}:
            raise Unbounded(path, "any value is allowed")
        if "$ref" in node:
            return self.size(self.defs[node["$ref"].rsplit("/", 1)[-1]], path)
        if "const" in node:
            return _json_length(node["const"])
        if "enum" in node:
            return max(_json_length(value) for value in node["enum"])
        kind = node.get("type")
        if kind is None and "properties" not in node:
            # Only choices. Beside a type or properties they are further conditions (if/then, anyOf of
            # required keys), which only narrow what the node allows: its own keywords bound it.
            for choice in ("anyOf", "oneOf"):
                if choice in node:
                    return max(self.size(option, path) for option in node[choice])
            if "allOf" in node:  # every part holds: the tightest bounded one bounds it
                return min(self._bounded(part, path) for part in node["allOf"])
        if isinstance(kind, list):
            return max(self.size({**node, "type": one}, path) for one in kind)
        if kind == "string":
            return _string(node, path)
        if kind == "integer":
            return _integer(node)
        if kind == "number":
            return NUMBER_CHARS
        if kind == "boolean":
            return 5
        if kind == "null":
            return 4
        if kind == "array":
            return self._array(node, path)
        if kind == "object" or "properties" in node:
            return self._object(node, path)
        raise Unbounded(path, f"a schema without a type: {sorted(node)}")

    def _bounded(self, node: Any, path: str) -> int:
        try:
            return self.size(node, path)
        except Unbounded:
            return 1 << 62  # larger than any bounded part

    def _array(self, node: dict[str, Any], path: str) -> int:
        if "maxItems" not in node:
            raise Unbounded(path, "a list without maxItems")
        count = node["maxItems"]
        if count == 0:
            return 2
        item = self.size(node.get("items", True), f"{path}.*")
        return 2 + count * item + (count - 1)

    def _object(self, node: dict[str, Any], path: str) -> int:
        members = [len(json.dumps(name, ensure_ascii=False).encode()) + 1 + self.size(value, f"{path}.{name}")
                   for name, value in node.get("properties", {}).items()]
        extra = node.get("additionalProperties", False)
        if extra is not False:
            names = node.get("propertyNames", {})
            if "enum" not in names:
                raise Unbounded(path, "a map whose keys are not listed (propertyNames enum)")
            value = self.size(extra if isinstance(extra, dict) else True, f"{path}.*")
            members += [_json_length(name) + 1 + value for name in names["enum"]
                        if name not in node.get("properties", {})]
        return 2 + sum(members) + max(0, len(members) - 1)


def _json_length(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def _string(node: dict[str, Any], path: str) -> int:
    fmt = node.get("format")
    if fmt == "date-time":
        return DATE_TIME_CHARS + 2
    if fmt == "date":
        return DATE_CHARS + 2
    pattern = node.get("pattern")
    chars, char_bytes = None, FREE_TEXT_CHAR_BYTES
    if pattern is not None:
        chars, char_bytes = _pattern_bounds(pattern)
    if "maxLength" in node:
        chars = node["maxLength"] if chars is None else min(chars, node["maxLength"])
    if chars is None:
        raise Unbounded(path, "text without maxLength (or a pattern of bounded length)")
    return 2 + chars * char_bytes


def _integer(node: dict[str, Any]) -> int:
    bounds = [node.get(key) for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")]
    low = next((value for value in (bounds[0], bounds[2]) if value is not None), None)
    high = next((value for value in (bounds[1], bounds[3]) if value is not None), None)
    if low is None or high is None:
        return INTEGER_CHARS
    return max(len(str(int(low))), len(str(int(high))))


def _pattern_bounds(pattern: str) -> tuple[int | None, int]:
    """The longest match of ``pattern`` (None when it has none) and the most bytes one matched character takes
    in JSON."""
    parsed = _sre_parse.parse(pattern)
    longest = parsed.getwidth()[1]
    return (None if longest >= _MAXREPEAT else longest), _char_bytes(parsed)


def _char_bytes(parsed: Any) -> int:
    """The most JSON bytes of one character a parsed pattern can match: 1 (plain ASCII), 2 (``"`` or ``\\``),
    4 (other Unicode) or :data:`FREE_TEXT_CHAR_BYTES` (it may match a control character, or anything)."""
    worst = 1
    for op, argument in parsed:
        name = str(op)
        if name == "LITERAL":
            worst = max(worst, _codepoint_bytes(argument, argument))
        elif name == "RANGE":
            worst = max(worst, _codepoint_bytes(*argument))
        elif name == "IN":
            if any(str(inner) == "NEGATE" for inner, _ in argument):
                worst = max(worst, _negated_bytes(argument))
            else:
                worst = max(worst, _char_bytes(argument))
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            worst = max(worst, _char_bytes(argument[2]))
        elif name in ("SUBPATTERN", "ATOMIC_GROUP"):
            worst = max(worst, _char_bytes(argument[-1]))
        elif name == "BRANCH":
            worst = max([worst, *(_char_bytes(branch) for branch in argument[1])])
        elif name == "CATEGORY":
            category = str(argument)
            if category != "CATEGORY_DIGIT":  # \d is ASCII digits in a JSON Schema pattern (ECMA-262)
                return FREE_TEXT_CHAR_BYTES
        elif name in ("AT", "ASSERT", "ASSERT_NOT", "GROUPREF"):
            continue
        else:  # ANY (.), NOT_LITERAL and the like: any character
            return FREE_TEXT_CHAR_BYTES
    return worst


def _negated_bytes(items: Any) -> int:
    r"""The most JSON bytes of a character outside the set ``items`` (``[^...]``): 4 (any Unicode character, or a
    quote written ``\"``) when the set excludes every control character JSON writes as ``\u00XX``, else
    :data:`FREE_TEXT_CHAR_BYTES`."""
    excluded: set[int] = set()
    for op, argument in items:
        if str(op) == "LITERAL":
            excluded.add(argument)
        elif str(op) == "RANGE":
            excluded.update(range(argument[0], argument[1] + 1))
    long_escapes = set(range(0x20)) - {ord(c) for c in "\b\f\n\r\t"}
    return 4 if long_escapes <= excluded else FREE_TEXT_CHAR_BYTES


def _codepoint_bytes(low: int, high: int) -> int:
    if low < 0x20:
        return FREE_TEXT_CHAR_BYTES
    if high >= 0x80:
        return len(chr(high).encode()) if high < 0x10000 else 4
    if any(low <= ord(special) <= high for special in ('"', "\\")):
        return 2
    return 1

