"""Numbered schema migrations of the agent's SQLite database.

Each migration runs atomically together with its record in
``_sqlite_migrations`` (sqlite-utils). Never edit an applied migration: add
the next number.
"""

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

migrations = Migrations("edge_agent")


def _run(db: Database, *statements: str) -> None:
    for statement in statements:
        db.execute(statement)


@migrations()
def m001_outbox_and_inbox(db: Database) -> None:
    _run(
        db,
        # AUTOINCREMENT: a sequence number is never reused, even after the
        # table empties, so "everything after seq N" stays correct forever.
        """CREATE TABLE outbox (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL,
            topic TEXT NOT NULL,
            payload BLOB NOT NULL,
            critical INTEGER NOT NULL,
            created REAL NOT NULL)""",
        "CREATE INDEX outbox_telemetry ON outbox (critical, seq)",
        """CREATE TABLE inbox_seen (
            id TEXT PRIMARY KEY,
            received REAL NOT NULL) WITHOUT ROWID""",
        "CREATE INDEX inbox_seen_received ON inbox_seen (received)",
    )


@migrations()
def m002_customers_orders_erasures(db: Database) -> None:
    _run(
        db,
        """CREATE TABLE customers (
            customer TEXT PRIMARY KEY,
            version INTEGER NOT NULL,
            profile TEXT NOT NULL,
            updated REAL NOT NULL)""",
        """CREATE TABLE consents (
            customer TEXT NOT NULL,
            purpose TEXT NOT NULL,
            until TEXT NOT NULL,
            PRIMARY KEY (customer, purpose))""",
        """CREATE TABLE orders (
            order_id TEXT PRIMARY KEY,
            customer TEXT NOT NULL,
            version INTEGER NOT NULL,
            status TEXT NOT NULL,
            data TEXT NOT NULL,
            updated REAL NOT NULL)""",
        "CREATE INDEX orders_customer ON orders (customer)",
        # Which erasure requests were applied, so a repeated request is
        # acknowledged again. The customer id is deliberately not kept.
        """CREATE TABLE erasures (
            request_id TEXT PRIMARY KEY,
            applied REAL NOT NULL,
            erased_records INTEGER NOT NULL)""",
    )


@migrations()
def m003_cards_counters_data_use(db: Database) -> None:
    _run(
        db,
        # Cards are known by their token only (HMAC of the UID), never the UID.
        """CREATE TABLE card_links (
            card TEXT PRIMARY KEY,
            version INTEGER NOT NULL,
            kind TEXT NOT NULL,
            subject TEXT NOT NULL,
            active INTEGER NOT NULL,
            updated REAL NOT NULL)""",
        "CREATE INDEX card_links_subject ON card_links (subject)",
        # Highest SUN read counter seen per card: a message whose counter is
        # not above it is a replay.
        """CREATE TABLE sun_counters (
            card TEXT PRIMARY KEY,
            counter INTEGER NOT NULL) WITHOUT ROWID""",
        # When a customer's data was used, for the customer to see; erased with them.
        """CREATE TABLE data_use (
            id INTEGER PRIMARY KEY,
            customer TEXT NOT NULL,
            at TEXT NOT NULL,
            device TEXT NOT NULL,
            use TEXT NOT NULL,
            categories TEXT NOT NULL)""",
        "CREATE INDEX data_use_customer ON data_use (customer, id)",
    )
