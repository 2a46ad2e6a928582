"""Privacy: erasure covers every table that holds a customer or a card, read from the migrated schema.

The list of customer tables in :mod:`edge_agent.privacy` is kept by hand; these
tests hold it to the schema the migrations build. A table with a customer or
card column must be erased (``CUSTOMER_TABLES``) or kept with a reason
(``KEPT_ON_ERASURE``), and erasure must empty exactly the erased customer's rows.
"""

from __future__ import annotations

import itertools
import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlite_utils import Database

from edge_agent import privacy
from edge_agent.contract import Purpose
from edge_agent.migrations import migrations

# A column names a customer when it is called (or ends in) customer, customers, customer_id or subject
# (card_links.subject: whom a card stands for); a card when it is called (or ends in) card, cards,
# card_token, token or uid (a UID must never be stored: a column for one fails here too).
CUSTOMER_COLUMN = re.compile(r"(?:^|_)(?:customers?|customer_id|subject)$")
CARD_COLUMN = re.compile(r"(?:^|_)(?:cards?|card_token|token|uid)$")

SANNE = "c-0000000000000000000000000000a001"
PIETER = "c-0000000000000000000000000000b002"
NOW = datetime(2026, 4, 1, 9, 30, tzinfo=UTC)


def personal(column: str) -> bool:
    return bool(CUSTOMER_COLUMN.search(column) or CARD_COLUMN.search(column))


@pytest.fixture
def conn():
    connection = sqlite3.connect(":memory:", isolation_level=None)
    migrations.apply(Database(connection))
    yield connection
    connection.close()


def schema(conn: sqlite3.Connection) -> dict[str, list[tuple[str, str]]]:
    """Every table of the migrated database: its columns as (name, declared type)."""
    tables = [name for (name,) in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "AND name != '_sqlite_migrations' ORDER BY name")]
    return {table: [(row[1], row[2].upper()) for row in conn.execute(f"PRAGMA table_info({table})")]
            for table in tables}


def personal_tables(conn: sqlite3.Connection) -> dict[str, list[str]]:
    """The tables with a customer or card column, and those columns."""
    found = {table: [name for name, _ in columns if personal(name)] for table, columns in schema(conn).items()}
    return {table: columns for table, columns in found.items() if columns}


def test_every_table_with_a_customer_or_card_column_is_erased_or_kept_with_a_reason(conn):
    erased = {table for table, _ in privacy.CUSTOMER_TABLES}
    uncovered = {table: columns for table, columns in personal_tables(conn).items()
                 if table not in erased and table not in privacy.KEPT_ON_ERASURE}
    assert uncovered == {}, ("these tables hold a customer or a card: add them to privacy.CUSTOMER_TABLES, "
                             "or to privacy.KEPT_ON_ERASURE with the reason")
    assert all(reason.strip() for reason in privacy.KEPT_ON_ERASURE.values()), "every kept table says why"


def test_the_scan_sees_the_tables_erasure_names_so_the_rule_is_not_too_narrow(conn):
    tables = schema(conn)
    found = personal_tables(conn)
    for table, column in privacy.CUSTOMER_TABLES:
        assert column in dict(tables.get(table, [])), f"erasure names {table}.{column}, which the schema lacks"
        assert column in found.get(table, []), f"the rule does not see {table}.{column} as a customer column"
    for table in privacy.KEPT_ON_ERASURE:
        assert table in found, f"{table} is declared kept but has no customer or card column (stale entry)"
        assert table not in {name for name, _ in privacy.CUSTOMER_TABLES}, f"{table} is both erased and kept"
    assert {"customers", "consents", "card_links", "data_use", "purchases", "sun_counters"} <= set(found)
    assert "erasures" not in found, "the erasure record keeps no customer id"


def test_the_rule_does_not_mistake_other_columns_for_customers_or_cards(conn):
    others = {name for columns in schema(conn).values() for name, _ in columns if not personal(name)}
    assert {"order_id", "offer", "gtin", "kind", "purpose", "categories", "request_id"} <= others
    assert personal("customer_id") and personal("card_token") and personal("named_customers")
    assert not personal("discount") and not personal("customer_note") and not personal("tokens_used")


def fill(conn: sqlite3.Connection, customer: str, counter: Iterator[int]) -> dict[str, int]:
    """One row per table with a customer or card column, naming ``customer`` (its card as ``k-<customer>``);
    every other column gets a value unique in the database. Returns the rows written per table."""
    written = {}
    for table, columns in schema(conn).items():
        if not any(personal(name) for name, _ in columns):
            continue
        values = []
        for name, kind in columns:
            unique = next(counter)
            if CUSTOMER_COLUMN.search(name):
                values.append(customer)
            elif CARD_COLUMN.search(name):
                values.append(f"k-{customer}")
            elif "INT" in kind:
                values.append(unique)
            elif "REAL" in kind:
                values.append(float(unique))
            elif "BLOB" in kind:
                values.append(unique.to_bytes(4, 'big'))
            else:
                values.append(f"{table}.{name}.{unique}")
        marks = ", ".join("?" * len(values))
        conn.execute(f"INSERT INTO {table} ({', '.join(name for name, _ in columns)}) VALUES ({marks})", values)
        written[table] = 1
    return written


def rows_naming(conn: sqlite3.Connection, customer: str) -> dict[str, int]:
    """How many rows of each personal table name ``customer`` or their card in any customer or card column."""
    counts = {}
    for table, columns in personal_tables(conn).items():
        where = " OR ".join(f"{column} IN (?, ?)" for column in columns)
        counts[table] = conn.execute(f"SELECT count(*) FROM {table} WHERE {where}",
                                     [value for _ in columns for value in (customer, f"k-{customer}")]).fetchone()[0]
    return counts


def test_erasure_empties_every_row_of_the_erased_customer_and_leaves_other_customers_alone(conn):
    counter = itertools.count(1)
    sanne_rows = fill(conn, SANNE, counter)
    fill(conn, PIETER, counter)
    # An offer that names Sanne: erasure must re-stamp it so the matcher's index forgets her.
    (offer,) = conn.execute("SELECT offer FROM offer_customers WHERE customer = ?", (SANNE,)).fetchone()
    conn.execute("INSERT INTO offers (offer, version, active, seq, data, updated) VALUES (?, 1, 1, 0, '{}', 0)",
                 (offer,))
    before = rows_naming(conn, PIETER)

    erased = privacy.erase_customer(conn, SANNE)

    left = rows_naming(conn, SANNE)
    assert {table: count for table, count in left.items() if count and table not in privacy.KEPT_ON_ERASURE} == {}
    assert all(left[table] == sanne_rows[table] for table in privacy.KEPT_ON_ERASURE), "kept tables are kept"
    assert erased == sum(count for table, count in sanne_rows.items() if table not in privacy.KEPT_ON_ERASURE)
    assert rows_naming(conn, PIETER) == before, "another customer's rows are untouched"
    seq = conn.execute("SELECT seq FROM sync_state WHERE name = 'offers'").fetchone()[0]
    assert seq > 0 and conn.execute("SELECT seq FROM offers WHERE offer = ?", (offer,)).fetchone()[0] == seq
    assert privacy.erase_customer(conn, SANNE) == 0, "erasing again finds nothing"


def test_withdrawal_erases_the_customer_and_withdraws_recognition_even_when_not_stored(conn):
    class Outbox:
        def __init__(self):
            self.events = []

        def enqueue(self, name, data):
            self.events.append((name, data))
            return "id"

    privacy.replace_consents(conn, SANNE, [(privacy.PERSONAL_OFFERS, NOW + timedelta(days=1))])
    privacy.log_use(conn, SANNE, NOW, "kiosk-1", "recognised", ["first_name"])
    outbox = Outbox()
    purposes, erased = privacy.withdraw_consents(conn, SANNE, outbox, source="kiosk")
    assert purposes == [privacy.PERSONAL_OFFERS, privacy.RECOGNITION] and erased == 2
    assert [(name, data.purpose, data.granted, data.source) for name, data in outbox.events] == [
        ("consent", Purpose.PERSONAL_OFFERS, False, "kiosk"), ("consent", Purpose.RECOGNITION, False, "kiosk")]
    assert privacy.stored_consents(conn, SANNE) == {} and privacy.data_use(conn, SANNE) == []


def test_a_consent_holds_until_its_end_and_not_at_it():
    consents = {privacy.RECOGNITION: NOW}
    assert privacy.consent_valid(consents, privacy.RECOGNITION, NOW - timedelta(microseconds=1))
    assert not privacy.consent_valid(consents, privacy.RECOGNITION, NOW)
    assert not privacy.consent_valid(consents, privacy.PERSONAL_OFFERS, NOW - timedelta(days=1))
    assert {privacy.RECOGNITION, privacy.PERSONAL_OFFERS} <= {purpose.value for purpose in Purpose}


def test_central_profile_replaces_consents_whole_and_the_data_use_log_reads_newest_first(conn):
    privacy.replace_consents(conn, SANNE, [(privacy.RECOGNITION, NOW), (privacy.PERSONAL_OFFERS, NOW)])
    privacy.replace_consents(conn, SANNE, [(privacy.RECOGNITION, NOW + timedelta(days=30))])
    assert privacy.stored_consents(conn, SANNE) == {privacy.RECOGNITION: NOW + timedelta(days=30)}
    assert [view.purpose for view in privacy.consent_views(conn, SANNE)] == [Purpose.RECOGNITION]
    for minute in range(3):
        privacy.log_use(conn, SANNE, NOW + timedelta(minutes=minute), "kiosk-1", f"use {minute}", ["tier"])
    privacy.log_use(conn, PIETER, NOW, "kiosk-1", "his", ["tier"])
    assert [entry.use for entry in privacy.data_use(conn, SANNE, limit=2)] == ["use 2", "use 1"]
    assert privacy.data_use(conn, SANNE)[0].at == NOW + timedelta(minutes=2)
