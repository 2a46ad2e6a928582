"""Applying what central pushes to the local state.

Each applier runs inside the inbox's transaction and either applies the
whole message or raises :class:`RejectedMessage` (nothing half-applied).
Versioned records are never overwritten by an older version; the same
version again is a no-op.

Batches (catalogue, price list, offers, purchase history) carry many records,
each with its own version: newer records are applied, records at the stored
version are skipped, and one older record rejects the whole message, naming
its position. Records naming products the catalogue does not (yet) hold are
accepted: central pushes chain-wide offers and price lists to every store and
in no particular order with the catalogue, so such a record stays inert until
the product is listed (matching only ever starts from a listed product).

A customer profile's consents and an erasure request are applied through
:mod:`edge_agent.privacy`, which owns consent and the list of customer tables.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC
from typing import Any

from .contract import (
    CardLinkPush,
    CataloguePush,
    CustomerProfile,
    ErasureAckEvent,
    ErasureRequest,
    OffersPush,
    OrderPush,
    PriceListPush,
    PurchaseHistoryPush,
)
from .errors import RejectedMessage
from .outbox import Outbox
from .privacy import erase_customer, replace_consents
from .staff.records import apply_staff

logger = logging.getLogger(__name__)

# An applier takes the push's payload as the model its message names in the contract
# (one model per applier), so the payload is typed Any here. What it returns, if anything, is a line for
# the log, written once the transaction has committed (never before: the change may still be rolled back).
Applier = Callable[[sqlite3.Connection, Any, Outbox], "str | None"]


def _newer(conn: sqlite3.Connection, table: str, key_column: str, key: str, version: int) -> bool:
    """True when ``version`` should replace what is stored; raises when it is older."""
    row = conn.execute(f"SELECT version FROM {table} WHERE {key_column} = ?", (key,)).fetchone()
    if row is None:
        return True
    if version < row[0]:
        raise RejectedMessage(f"version {version} is older than the stored version {row[0]}")
    return version > row[0]


def _upsert(table: str, columns: tuple[str, ...], key: tuple[str, ...]) -> str:
    """``INSERT … ON CONFLICT (key) DO UPDATE`` of every other column: how a versioned record is stored
    (its version was checked before)."""
    updates = ", ".join(f"{column} = excluded.{column}" for column in columns if column not in key)
    return (f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
            f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}")


UPSERT_CUSTOMER = _upsert("customers", ("customer", "version", "profile", "updated"), ("customer",))
UPSERT_ORDER = _upsert("orders", ("order_id", "customer", "version", "status", "data", "updated"), ("order_id",))
UPSERT_CARD_LINK = _upsert("card_links", ("card", "version", "kind", "subject", "active", "updated"), ("card",))
UPSERT_PRODUCT = _upsert("products", ("gtin", "version", "active", "price_cents", "category", "data", "updated"),
                         ("gtin",))
UPSERT_PRICE_GROUP = _upsert("price_groups", ("price_group", "version", "name", "updated"), ("price_group",))
UPSERT_GROUP_PRICE = _upsert("group_prices", ("price_group", "gtin", "version", "active", "price_cents", "updated"),
                             ("price_group", "gtin"))
UPSERT_OFFER = _upsert("offers", ("offer", "version", "active", "seq", "data", "updated"), ("offer",))
UPSERT_PURCHASE = _upsert("purchases", ("line", "version", "active", "customer", "gtin", "at", "data", "updated"),
                          ("line",))


def apply_customer(conn: sqlite3.Connection, profile: CustomerProfile, outbox: Outbox) -> None:
    if not _newer(conn, "customers", "customer", profile.customer, profile.version):
        return
    document = profile.model_dump(mode="json", exclude={"consents"})
    conn.execute(
        UPSERT_CUSTOMER,
        (profile.customer, profile.version, json.dumps(document), time.time()),
    )
    replace_consents(conn, profile.customer, [(consent.purpose.value, consent.until) for consent in profile.consents])


def apply_order(conn: sqlite3.Connection, order: OrderPush, outbox: Outbox) -> None:
    if not _newer(conn, "orders", "order_id", order.order_id, order.version):
        return
    conn.execute(
        UPSERT_ORDER,
        (order.order_id, order.customer, order.version, order.status.value,
         order.model_dump_json(), time.time()),
    )


def apply_card_link(conn: sqlite3.Connection, link: CardLinkPush, outbox: Outbox) -> None:
    if not _newer(conn, "card_links", "card", link.card, link.version):
        return
    conn.execute(
        UPSERT_CARD_LINK,
        (link.card, link.version, link.kind, link.customer or link.staff, int(link.active), time.time()),
    )


# --------------------------------------------------------------------------- batches


_CHUNK = 500  # keys per IN (...) query


def _stored_versions(conn: sqlite3.Connection, table: str, columns: tuple[str, ...],
                     keys: list[tuple]) -> dict[tuple, int]:
    """The stored version of each of ``keys`` (tuples of ``columns``) that is stored."""
    found: dict[tuple, int] = {}
    names = ", ".join(columns)
    row_marks = "(" + ", ".join("?" * len(columns)) + ")"
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start:start + _CHUNK]
        if len(columns) == 1:
            where = f"{columns[0]} IN ({', '.join('?' * len(chunk))})"
        else:
            where = f"({names}) IN (VALUES {', '.join([row_marks] * len(chunk))})"
        query = f"SELECT {names}, version FROM {table} WHERE {where}"
        for row in conn.execute(query, [part for key in chunk for part in key]):
            found[tuple(row[:-1])] = row[-1]
    return found


def _newer_records(conn: sqlite3.Connection, records, what: str, table: str, columns: tuple[str, ...]) -> list:
    """The records of a batch newer than what is stored.

    :raises RejectedMessage: naming the first record older than the stored one.
    """
    keys = [tuple(getattr(record, column) for column in columns) for record in records]
    stored = _stored_versions(conn, table, columns, keys)
    newer = []
    for index, (record, key) in enumerate(zip(records, keys, strict=True)):
        version = stored.get(key)
        if version is None or record.version > version:
            newer.append(record)
        elif record.version < version:
            raise RejectedMessage(f"{what}[{index}]: version {record.version} is older than the stored "
                                  f"version {version}")
    return newer


def _unlisted(conn: sqlite3.Connection, gtins: set[str]) -> int:
    """How many of ``gtins`` are not listed in the catalogue."""
    listed = 0
    ordered = sorted(gtins)
    for start in range(0, len(ordered), _CHUNK):
        chunk = ordered[start:start + _CHUNK]
        listed += conn.execute(f"SELECT count(*) FROM products WHERE active = 1 AND gtin IN "
                               f"({', '.join('?' * len(chunk))})", chunk).fetchone()[0]
    return len(ordered) - listed


def apply_catalogue(conn: sqlite3.Connection, push: CataloguePush, outbox: Outbox) -> None:
    now = time.time()
    conn.executemany(
        UPSERT_PRODUCT,
        [(record.gtin, record.version, int(record.active), record.price_cents, record.category,
          record.model_dump_json(exclude_none=True), now)
         for record in _newer_records(conn, push.products, "products", "products", ("gtin",))])


def apply_price_list(conn: sqlite3.Connection, push: PriceListPush, outbox: Outbox) -> None:
    groups = _newer_records(conn, push.groups, "groups", "price_groups", ("price_group",))
    prices = _newer_records(conn, push.prices, "prices", "group_prices", ("price_group", "gtin"))
    now = time.time()
    conn.executemany(
        UPSERT_PRICE_GROUP,
        [(group.price_group, group.version, group.name.model_dump_json(exclude_none=True), now) for group in groups])
    conn.executemany(
        UPSERT_GROUP_PRICE,
        [(price.price_group, price.gtin, price.version, int(price.active), price.price_cents, now)
         for price in prices])
    if prices:
        unlisted = _unlisted(conn, {price.gtin for price in prices if price.active})
        if unlisted:
            logger.info("price list: %d product(s) not in the catalogue; their prices wait for them", unlisted)


def next_offer_seq(conn: sqlite3.Connection) -> int:
    """Advance the offers' change counter (read by the matcher to reload what changed)."""
    return conn.execute("UPDATE sync_state SET seq = seq + 1 WHERE name = 'offers' RETURNING seq").fetchone()[0]


def apply_offers(conn: sqlite3.Connection, push: OffersPush, outbox: Outbox) -> None:
    offers = _newer_records(conn, push.offers, "offers", "offers", ("offer",))
    if not offers:
        return
    seq = next_offer_seq(conn)
    now = time.time()
    conn.executemany(
        UPSERT_OFFER,
        [(offer.offer, offer.version, int(offer.active), seq,
          offer.model_dump_json(exclude={"targeting": {"customers"}}), now) for offer in offers])
    conn.executemany("DELETE FROM offer_customers WHERE offer = ?", [(offer.offer,) for offer in offers])
    conn.executemany("INSERT INTO offer_customers (offer, customer) VALUES (?, ?)",
                     [(offer.offer, customer) for offer in offers if offer.active
                      for customer in offer.targeting.customers])
    named = {gtin for offer in offers if offer.active for gtin in offer.products}
    unlisted = _unlisted(conn, named) if named else 0
    if unlisted:
        logger.info("offers: %d of %d product(s) they name are not in the catalogue; inert for those until listed",
                    unlisted, len(named))


def apply_purchase_history(conn: sqlite3.Connection, push: PurchaseHistoryPush, outbox: Outbox) -> None:
    now = time.time()
    conn.executemany(
        UPSERT_PURCHASE,
        [(line.line, line.version, int(line.active), line.customer, line.gtin,
          line.at.astimezone(UTC).isoformat(), line.model_dump_json(exclude_none=True), now)
         for line in _newer_records(conn, push.purchases, "purchases", "purchases", ("line",))])


def apply_erasure(conn: sqlite3.Connection, request: ErasureRequest, outbox: Outbox) -> str:
    """Erase the customer central names (:func:`edge_agent.privacy.erase_customer`) and acknowledge it.

    A repeated request erases again (data may have arrived since) and acknowledges
    the records erased by every application of it.

    :returns: the log line, for the inbox to write once the erasure has committed.
    """
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
    return f"erasure request {request.request_id} applied: {erased} records erased"


APPLIERS: dict[str, Applier] = {
    "customer": apply_customer,
    "order": apply_order,
    "card-link": apply_card_link,
    "erasure": apply_erasure,
    "catalogue": apply_catalogue,
    "price-list": apply_price_list,
    "offers": apply_offers,
    "purchase-history": apply_purchase_history,
}

# Store staff: their records live with the rest of the staff package.
APPLIERS["staff"] = apply_staff
