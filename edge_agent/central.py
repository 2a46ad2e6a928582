"""Applying what central pushes to the local state.

Each applier runs inside the inbox's transaction and either applies the
whole message or raises :class:`RejectedMessage` (nothing half-applied).
Versioned records are never overwritten by an older version; the same
version again is a no-op.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Callable

from pydantic import BaseModel

from .contract import CardLinkPush, CustomerProfile, ErasureAckEvent, ErasureRequest, OrderPush
from .errors import RejectedMessage
from .outbox import Outbox

logger = logging.getLogger(__name__)

Applier = Callable[[sqlite3.Connection, BaseModel, Outbox], None]


def _newer(conn: sqlite3.Connection, table: str, key_column: str, key: str, version: int) -> bool:
    """True when ``version`` should replace what is stored; raises when it is older."""
    row = conn.execute(f"SELECT version FROM {table} WHERE {key_column} = ?", (key,)).fetchone()
    if row is None:
        return True
    if version < row[0]:
        raise RejectedMessage(f"version {version} is older than the stored version {row[0]}")
    return version > row[0]


def apply_customer(conn: sqlite3.Connection, profile: CustomerProfile, outbox: Outbox) -> None:
    if not _newer(conn, "customers", "customer", profile.customer, profile.version):
        return
    document = profile.model_dump(mode="json", exclude={"consents"})
    conn.execute(
        "INSERT INTO customers (customer, version, profile, updated) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (customer) DO UPDATE SET version = excluded.version, profile = excluded.profile, "
        "updated = excluded.updated",
        (profile.customer, profile.version, json.dumps(document), time.time()),
    )
    conn.execute("DELETE FROM consents WHERE customer = ?", (profile.customer,))
    conn.executemany(
        "INSERT INTO consents (customer, purpose, until) VALUES (?, ?, ?)",
        [(profile.customer, consent.purpose.value, consent.until.isoformat()) for consent in profile.consents],
    )


def apply_order(conn: sqlite3.Connection, order: OrderPush, outbox: Outbox) -> None:
    if not _newer(conn, "orders", "order_id", order.order_id, order.version):
        return
    conn.execute(
        "INSERT INTO orders (order_id, customer, version, status, data, updated) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (order_id) DO UPDATE SET customer = excluded.customer, version = excluded.version, "
        "status = excluded.status, data = excluded.data, updated = excluded.updated",
        (order.order_id, order.customer, order.version, order.status.value,
         order.model_dump_json(), time.time()),
    )


def apply_card_link(conn: sqlite3.Connection, link: CardLinkPush, outbox: Outbox) -> None:
    if not _newer(conn, "card_links", "card", link.card, link.version):
        return
    conn.execute(
        "INSERT INTO card_links (card, version, kind, subject, active, updated) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (card) DO UPDATE SET version = excluded.version, kind = excluded.kind, "
        "subject = excluded.subject, active = excluded.active, updated = excluded.updated",
        (link.card, link.version, link.kind, link.customer or link.staff, int(link.active), time.time()),
    )


# Every table holding a customer's data, with the column naming the customer.
CUSTOMER_TABLES = (("customers", "customer"), ("consents", "customer"), ("orders", "customer"),
                   ("data_use", "customer"), ("card_links", "subject"))


def erase_customer(conn: sqlite3.Connection, customer: str) -> int:
    """Delete every local record of ``customer``; returns how many rows went."""
    erased = 0
    for table, column in CUSTOMER_TABLES:
        erased += conn.execute(f"DELETE FROM {table} WHERE {column} = ?", (customer,)).rowcount
    return erased


def apply_erasure(conn: sqlite3.Connection, request: ErasureRequest, outbox: Outbox) -> None:
    done = conn.execute("SELECT erased_records FROM erasures WHERE request_id = ?",
                        (request.request_id,)).fetchone()
    erased = erase_customer(conn, request.customer)
    if done is not None:
        erased += done[0]
    conn.execute("INSERT OR REPLACE INTO erasures (request_id, applied, erased_records) VALUES (?, ?, ?)",
                 (request.request_id, time.time(), erased))
    # Same transaction as the erasure: the acknowledgement cannot be lost
    # once the data is gone, nor sent while the data is still there.
    outbox.enqueue("erasure-ack", ErasureAckEvent(request_id=request.request_id, customer=request.customer,
                                                  erased_records=erased))
    logger.info("erasure request %s applied: %d records erased", request.request_id, erased)


APPLIERS: dict[str, Applier] = {
    "customer": apply_customer,
    "order": apply_order,
    "card-link": apply_card_link,
    "erasure": apply_erasure,
}

# Pushes whose application must survive power loss once acknowledged.
DURABLE = {"customer", "erasure", "order", "card-link"}
