"""Privacy: consent and its validity, the data-use log, and the erasure of a customer.

Everything the agent does with a customer's consent and with the rows that
hold their data lives here, so there is one place to read what is kept, for
how long and how it goes:

* **Consent** is a purpose (:class:`edge_agent.contract.Purpose`) with an end
  date. :func:`consent_valid` decides, without I/O, whether a consent holds
  at a moment; recognition at the kiosk needs ``recognition``, personal offers
  and prices need ``personal-offers`` as well (:func:`edge_agent.identity.decide`).
  Central's customer profile replaces a customer's consents
  (:func:`replace_consents`); withdrawal at the kiosk withdraws them all and
  erases the customer (:func:`withdraw_consents`).
* **The data-use log** says when a customer's data was used, at which device,
  for what and which categories (:func:`log_use`); the customer sees it at the
  kiosk (:func:`data_use`).
* **Re-linking a card** (:func:`relink_card`) during a store key rotation:
  a card found only by its token under the previous key is moved to its token
  under the new key, with its SUN replay counter and a staff badge's lockout, and central is told by a
  never-dropped ``card-relink`` event naming both tokens (never the UID).
* **Erasure** (:func:`erase_customer`) deletes every row of
  :data:`CUSTOMER_TABLES`. ``tests/test_privacy.py`` migrates a database and
  fails when a table with a customer or card column is neither there nor in
  :data:`KEPT_ON_ERASURE` with its reason. Events already in the outbox keep
  the customer's pseudonymous id in their payload and still go upstream (the
  withdrawal's own consent events among them).

The functions that touch the database take the caller's connection and run
inside the caller's transaction, so the erasure and the events it owes
upstream commit together.

This module sits below the contract (the contract imports
:mod:`edge_agent.identity`, which imports this module for consent), so the
contract's models and central's offers counter are imported where they are
used, not at the top.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Literal, TypeAlias

if TYPE_CHECKING:
    from .contract import ConsentView, DataUseEntry
    from .outbox import Outbox

# Purposes of consent (values of the contract's Purpose).
RECOGNITION = "recognition"
PERSONAL_OFFERS = "personal-offers"

Consents: TypeAlias = Mapping[str, datetime]
"""A customer's consents: purpose -> end of the consent (aware datetimes)."""

SHOWN_DATA_USES = 200  # the newest entries of the data-use log shown at the kiosk

# Every table holding a customer's data, with the column naming the customer.
# card_links.subject is the customer (or staff member) a card stands for.
CUSTOMER_TABLES: tuple[tuple[str, str], ...] = (
    ("customers", "customer"), ("consents", "customer"), ("orders", "customer"),
    ("data_use", "customer"), ("card_links", "subject"), ("purchases", "customer"),
    ("offer_activations", "customer"), ("offer_customers", "customer"))

# Tables with a customer or card column that erasure leaves alone, and why.
KEPT_ON_ERASURE: dict[str, str] = {
    "sun_counters": "the replay guard of a card, by token only: once card_links forgets the card nothing "
                    "links it to the customer, and deleting the counter would let the card's recorded SUN "
                    "messages be replayed",
    "staff_lockouts": "wrong PINs per staff badge (edge_agent.staff.lockout), by token only: a customer's card "
                      "never gets a PIN pad, and forgetting a lock when a card is erased would let a copied "
                      "badge start its five guesses afresh",
}


# --------------------------------------------------------------------------- consent (no I/O)


def consent_valid(consents: Consents, purpose: str, now: datetime) -> bool:
    """True when ``purpose`` was consented to and its end is still ahead of ``now``."""
    until = consents.get(purpose)
    return until is not None and now < until


# --------------------------------------------------------------------------- consent in the database


def stored_consents(conn: sqlite3.Connection, customer: str) -> dict[str, datetime]:
    """The consents stored for ``customer`` (valid or not), for :func:`consent_valid`."""
    return {purpose: datetime.fromisoformat(until) for purpose, until in
            conn.execute("SELECT purpose, until FROM consents WHERE customer = ?", (customer,))}


def consent_views(conn: sqlite3.Connection, customer: str) -> list[ConsentView]:
    """The consents stored for ``customer``, by purpose, as the kiosk shows them."""
    from .contract import ConsentView

    return [ConsentView(purpose=purpose, until=until) for purpose, until in conn.execute(
        "SELECT purpose, until FROM consents WHERE customer = ? ORDER BY purpose", (customer,))]


def replace_consents(conn: sqlite3.Connection, customer: str, consents: Iterable[tuple[str, datetime]]) -> None:
    """Make ``consents`` (purpose, end) the whole of ``customer``'s consents, as central's profile says."""
    conn.execute("DELETE FROM consents WHERE customer = ?", (customer,))
    conn.executemany("INSERT INTO consents (customer, purpose, until) VALUES (?, ?, ?)",
                     [(customer, purpose, until.isoformat()) for purpose, until in consents])


def withdraw_consents(conn: sqlite3.Connection, customer: str, outbox: Outbox,
                      source: Literal["kiosk", "central"]) -> tuple[list[str], int]:
    """Withdraw every consent of ``customer`` and erase them; queue a withdrawal event per purpose.

    Recognition is always withdrawn, even when no consent to it is stored.
    Call inside a durable transaction: once the data is gone the events are
    certain to go upstream (the outbox never drops them).

    :returns: the purposes withdrawn (in the order of their events) and how many rows were erased.
    """
    from .contract import ConsentEvent

    purposes = [row[0] for row in conn.execute(
        "SELECT purpose FROM consents WHERE customer = ? ORDER BY purpose", (customer,))]
    if RECOGNITION not in purposes:
        purposes.append(RECOGNITION)
    erased = erase_customer(conn, customer)
    for purpose in purposes:
        outbox.enqueue("consent", ConsentEvent(customer=customer, purpose=purpose, granted=False, until=None,
                                               source=source))
    return purposes, erased


# --------------------------------------------------------------------------- the data-use log


def log_use(conn: sqlite3.Connection, customer: str, at: datetime, device: str, use: str,
            categories: list[str]) -> None:
    """Add to ``customer``'s data-use log: at ``at``, ``device`` used ``categories`` of their data for ``use``."""
    conn.execute("INSERT INTO data_use (customer, at, device, use, categories) VALUES (?, ?, ?, ?, ?)",
                 (customer, at.isoformat(), device, use, json.dumps(categories)))


def data_use(conn: sqlite3.Connection, customer: str, limit: int = SHOWN_DATA_USES) -> list[DataUseEntry]:
    """The newest ``limit`` entries of ``customer``'s data-use log, newest first."""
    from .contract import DataUseEntry

    return [DataUseEntry(at=at, device=device, use=use, categories=json.loads(categories))
            for at, device, use, categories in conn.execute(
                "SELECT at, device, use, categories FROM data_use WHERE customer = ? ORDER BY id DESC LIMIT ?",
                (customer, limit))]


# --------------------------------------------------------------------------- store key rotation


def relink_card(conn: sqlite3.Connection, old: str, new: str, outbox: Outbox) -> bool:
    """Move the card known by token ``old`` (previous store key) to token ``new`` (current key); queue a
    ``card-relink`` event. Call inside a durable transaction, so the move and its event commit together.

    The card's link keeps its version and subject; its SUN read counter moves with it (the higher one when the
    new token has one too), so the replay guard survives the rotation, and so do a staff badge's wrong PINs and
    lock (:func:`edge_agent.staff.lockout.move_lockout`), so a locked badge does not start its five guesses
    afresh under its new token. Nothing happens when the new token
    already has a link of its own (central re-linked the card first) or the old one has none.

    :returns: True when the card was re-linked.
    """
    from .contract import CardRelinkEvent

    if conn.execute("SELECT 1 FROM card_links WHERE card = ?", (new,)).fetchone() is not None:
        return False
    if conn.execute("UPDATE card_links SET card = ? WHERE card = ?", (new, old)).rowcount == 0:
        return False
    row = conn.execute("SELECT counter FROM sun_counters WHERE card = ?", (old,)).fetchone()
    if row is not None:
        conn.execute("INSERT INTO sun_counters (card, counter) VALUES (?, ?) ON CONFLICT (card) DO UPDATE "
                     "SET counter = max(counter, excluded.counter)", (new, row[0]))
        conn.execute("DELETE FROM sun_counters WHERE card = ?", (old,))
    from .staff.lockout import move_lockout  # staff sits above sessions, which import this module

    move_lockout(conn, old, new)
    outbox.enqueue("card-relink", CardRelinkEvent(old_card=old, new_card=new))
    return True


# --------------------------------------------------------------------------- erasure


def erase_customer(conn: sqlite3.Connection, customer: str) -> int:
    """Delete every local record of ``customer`` (every row of :data:`CUSTOMER_TABLES`); returns how many went."""
    from .central import next_offer_seq

    named_in = [row[0] for row in conn.execute("SELECT offer FROM offer_customers WHERE customer = ?", (customer,))]
    if named_in:  # the matcher's in-memory offers must forget the customer too
        seq = next_offer_seq(conn)
        conn.executemany("UPDATE offers SET seq = ? WHERE offer = ?", [(seq, offer) for offer in named_in])
    erased = 0
    for table, column in CUSTOMER_TABLES:
        erased += conn.execute(f"DELETE FROM {table} WHERE {column} = ?", (customer,)).rowcount
    return erased
