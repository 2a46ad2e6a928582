"""Every way a card UID can be written into a log, a message or a file, for the tests' UID scans.

A scan that looks for ``uid.hex()`` alone misses ``04:A1:B2:…`` and nfcpy's
frame dumps, where a 7- or 10-byte UID travels in cascade pieces
(``88 04 A1 B2 BCC``, ``C3 D4 E5 F6 BCC``). Every UID scan of the suite goes
through :func:`found_uids` / :func:`assert_no_uid`, so a spelling added here
is looked for everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

SEPARATORS = ("", ":", " ", "-", ".")
CASCADE_TAG = 0x88  # ISO/IEC 14443-3: the first byte of a cascade level that is continued


def _bcc(part: bytes) -> int:
    check = 0
    for byte in part:
        check ^= byte
    return check


def cascade_pieces(uid: bytes) -> list[bytes]:
    """The pieces of ``uid`` as the anticollision frames and a Type 2 Tag's first pages carry them."""
    if len(uid) == 4:
        return [uid + bytes([_bcc(uid)])]
    if len(uid) == 7:
        first = bytes([CASCADE_TAG]) + uid[:3]
        return [first, first + bytes([_bcc(first)]), uid[3:], uid[:3] + bytes([_bcc(first)])]
    if len(uid) == 10:
        first, second = bytes([CASCADE_TAG]) + uid[:3], bytes([CASCADE_TAG]) + uid[3:6]
        return [first, second, uid[6:]]
    return []


def uid_spellings(uid: bytes) -> Iterator[str]:
    """Every spelling of ``uid``, in lower case (compare with the lower-cased text).

    Hex with and without the separators ``:``, space, ``-`` and ``.`` (upper and mixed case are
    found by lower-casing the text), ``0x`` lists, the ``bytes`` and ``bytearray`` reprs, the
    list of its byte values, and the cascade pieces nfcpy's frame dumps show.
    """
    pairs = [f"{byte:02x}" for byte in uid]
    for separator in SEPARATORS:
        yield separator.join(pairs)
    yield ", ".join(f"0x{pair}" for pair in pairs)
    yield " ".join(f"0x{pair}" for pair in pairs)
    yield repr(uid).lower()
    yield repr(bytearray(uid)).lower()
    yield repr(list(uid))
    for piece in cascade_pieces(uid):
        yield piece.hex()


def found_uids(text: str, uids: Iterable[bytes]) -> list[str]:
    """Which spellings of which UIDs ``text`` holds, described without the UID itself (for messages)."""
    lowered = text.lower()
    found = []
    for number, uid in enumerate(uids, start=1):
        for kind, spelling in enumerate(uid_spellings(uid), start=1):
            if spelling in lowered:
                found.append(f"UID #{number} ({len(uid)} bytes), spelling #{kind}")
    return found


def assert_no_uid(text: str, uids: Iterable[bytes], where: str) -> None:
    """Fail when ``text`` holds any spelling of any of ``uids``; ``where`` names the text."""
    found = found_uids(text, uids)
    assert not found, f"raw UID in {where}: {', '.join(found)}"
