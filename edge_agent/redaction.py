"""Log redaction: no card UID, card-token input, PIN or personal field leaves a log handler, at any level.

Card UIDs are never logged (README, privacy). The agent's own code logs no
UID, but the libraries it runs do at DEBUG: nfcpy prints every target it
finds (``found 106A sdd_res=04A1B2C3D4E5F6``) and every frame it exchanges,
whose anticollision and READ frames carry the UID in pieces
(``8804a1b29f``, ``c3d4e5f604``). A log level is a remote command
(``set-log-level``), so the promise cannot rest on levels: it is kept at the
handler. :class:`RedactingFilter`, installed on every handler the agent, the
kiosk and the demo set up (:func:`setup_logging`), rewrites each record
before any handler formats it:

* **hex of 4 bytes or more**, in any spelling: a run of 8 or more hex digits
  in either case (inside a longer frame dump too, where a UID's cascade
  pieces sit), or 4 or more hex pairs joined by one separator (``:``,
  space, ``-`` or ``.``: ``04:A1:B2:C3``), or ``0x04, 0xa1, …`` lists;
  canonical UUIDs (message and session ids, 16 random bytes that hold no UID)
  are kept;
* **bytes reprs** (``b'\\x04\\xa1…'``, ``bytearray(b'…')``) and lists of 4 or
  more small integers (``[4, 161, 178, 195]``): the UID as Python prints it;
* **personal fields by name**: the value after ``first_name``, ``last_name``,
  ``name``, ``email``, ``phone``, ``pin``, ``uid`` … in JSON, a dict's repr
  or ``key=value`` form, and pydantic's ``input_value=…`` in validation
  errors (a rejected profile's name would be echoed there).

The message is formatted with its arguments first, and tracebacks and stack
information are rendered and redacted too, so nothing reaches a handler in
its raw form; uncaught exceptions, which Python would print to standard error
itself, are logged instead. Redaction errs on the side of hiding: a long decimal number or
a content hash is hidden as well.

``set-log-level`` may set any logger to any level, ``nfc`` at DEBUG included,
because every handler redacts; it installs the filter on a handler that
lacks it first (:func:`install_everywhere`).
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from typing import TextIO

HIDDEN = "[redacted]"

# Keys whose values are personal (or a card's token input) wherever they appear in a message.
PERSONAL_KEYS = ("first_name", "last_name", "full_name", "name", "email", "phone", "pin", "uid", "card_uid",
                 "birth_date", "date_of_birth", "address", "postcode", "input_value")

_UUID = r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}(?![0-9A-Fa-f])"
_BYTES_LITERAL = r"""(?i:bytearray\(b|b)(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")\)?"""
_HEX_LIST = r"0[xX][0-9A-Fa-f]{1,2}(?:\s*,?\s*0[xX][0-9A-Fa-f]{1,2}){3,}"
_INT_LIST = r"[\[(]\s*\d{1,3}(?:\s*,\s*\d{1,3}){3,}\s*,?\s*[\])]"
_SEPARATED = r"[0-9A-Fa-f]{2}(?P<sep>[:. -])[0-9A-Fa-f]{2}(?:(?P=sep)[0-9A-Fa-f]{2}){2,}"
_RUN = r"[0-9A-Fa-f]{8,}"

_SENSITIVE = re.compile(
    f"(?P<uuid>{_UUID})|(?P<bytes>{_BYTES_LITERAL})|(?P<hexlist>{_HEX_LIST})|(?P<intlist>{_INT_LIST})"
    f"|(?P<separated>{_SEPARATED})|(?P<run>{_RUN})")

_VALUE = r"""(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[^\s,;)}\]]+)"""
_PERSONAL = re.compile(
    r"""(?P<key>(?<![A-Za-z0-9_])["']?(?:""" + "|".join(PERSONAL_KEYS) + r""")["']?\s*[:=]\s*)"""
    r"""(?P<value>(?!\[redacted\])""" + _VALUE + ")",
    re.IGNORECASE)
# pydantic: "[type=string_too_long, input_value='Sanne …', input_type=str]"; the value may hold commas.
_INPUT_VALUE = re.compile(r"input_value=.*?(?=, input_type=)", re.DOTALL)


def _hide(match: re.Match[str]) -> str:
    if match.group("uuid") is not None:
        return match.group(0)
    if match.group("bytes") is not None and "\\x" not in match.group(0) and len(match.group(0)) < 7:
        return match.group(0)  # b'' or b'ok': fewer than 4 bytes
    return HIDDEN


# Cheap tests first: most lines hold neither two adjacent hex pairs, a bytes literal, a list of
# numbers nor a personal key, and the full patterns cost several times more per line.
_MAYBE_SENSITIVE = re.compile(r"[0-9A-Fa-f]{2}[:. -]?[0-9A-Fa-f]{2}|0[xX][0-9A-Fa-f]|[bB]['\"(]|\d\s*,")


def redact(text: str) -> str:
    """``text`` with every UID spelling and personal field value replaced by ``[redacted]``."""
    lowered = text.lower()
    if any(key in lowered for key in PERSONAL_KEYS):
        text = _INPUT_VALUE.sub("input_value=" + HIDDEN, text)
        text = _PERSONAL.sub(lambda match: match.group("key") + HIDDEN, text)
    if _MAYBE_SENSITIVE.search(text) is None:
        return text
    return _SENSITIVE.sub(_hide, text)


class RedactingFilter(logging.Filter):
    """A handler filter that redacts a record in place (:func:`redact`); it never drops one.

    The message is formatted here (``msg % args``), so a handler's formatter
    sees only redacted text; an exception's traceback and the stack
    information are rendered and redacted, and ``exc_info`` cleared, so no
    formatter renders the raw exception again.
    """

    _renderer = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError, KeyError, AttributeError) as exc:  # arguments that do not fit the format
            message = f"{record.msg!s} (arguments did not fit: {type(exc).__name__})"
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._renderer.formatException(record.exc_info)
        record.exc_info = None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def install(handler: logging.Handler) -> logging.Handler:
    """Add a :class:`RedactingFilter` to ``handler`` unless it has one; returns the handler."""
    if not any(isinstance(existing, RedactingFilter) for existing in handler.filters):
        handler.addFilter(RedactingFilter())
    return handler


def all_handlers() -> list[logging.Handler]:
    """Every handler of every logger, the root logger's first."""
    handlers = list(logging.getLogger().handlers)
    for candidate in list(logging.Logger.manager.loggerDict.values()):
        if isinstance(candidate, logging.Logger):
            handlers += [handler for handler in candidate.handlers if handler not in handlers]
    return handlers


def install_everywhere() -> int:
    """Install the filter on every handler of every logger (root included); how many lacked it."""
    missing = unredacted_handlers()
    for handler in missing:
        install(handler)
    return len(missing)


def unredacted_handlers() -> list[logging.Handler]:
    """The handlers of any logger that have no :class:`RedactingFilter` (a NullHandler writes nothing)."""
    return [handler for handler in all_handlers() if not isinstance(handler, logging.NullHandler)
            and not any(isinstance(existing, RedactingFilter) for existing in handler.filters)]


def setup_logging(level: str | int, fmt: str, stream: TextIO | None = None) -> logging.Handler | None:
    """Log to ``stream`` (standard error by default) at ``level`` through a redacting handler.

    Like :func:`logging.basicConfig`, it adds the handler only when the root logger has none (a
    second call does not log twice; under a test runner its capturing handlers stay), and then
    installs the filter on every handler of every logger. Returns the handler it added, if any.
    """
    root = logging.getLogger()
    handler = None
    if not root.handlers:
        handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
        handler.setFormatter(logging.Formatter(fmt))
        root.addHandler(handler)
    root.setLevel(level)
    install_everywhere()
    _route_uncaught_exceptions()
    return handler


def _route_uncaught_exceptions() -> None:
    """Tracebacks of uncaught exceptions go through logging (and so the redaction), not straight to stderr.

    Python prints them itself otherwise (``sys.excepthook``, ``threading.excepthook``), and an
    exception's message may hold what it was given: a UID from a library, a name in a payload.
    """
    uncaught = logging.getLogger("uncaught")

    def on_main(kind, value, traceback) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, value, traceback)
            return
        uncaught.critical("uncaught exception", exc_info=(kind, value, traceback))

    def on_thread(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit or args.exc_value is None:
            return
        name = args.thread.name if args.thread is not None else "?"
        uncaught.error("uncaught exception in thread %s", name,
                       exc_info=(args.exc_type, args.exc_value, args.exc_traceback))

    sys.excepthook = on_main
    threading.excepthook = on_thread
