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


@migrations()
def m004_catalogue_prices_offers_history(db: Database) -> None:
    _run(
        db,
        # Records removed by central (active = 0) stay, with their version, so
        # a late older copy cannot bring them back.
        """CREATE TABLE products (
            gtin TEXT PRIMARY KEY,
            version INTEGER NOT NULL,
            active INTEGER NOT NULL,
            price_cents INTEGER NOT NULL,
            category TEXT NOT NULL,
            data TEXT NOT NULL,
            updated REAL NOT NULL)""",
        # Covering: the catalogue match reads whole categories from it alone.
        "CREATE INDEX products_category ON products (category, active, gtin, price_cents)",
        """CREATE TABLE price_groups (
            price_group TEXT PRIMARY KEY,
            version INTEGER NOT NULL,
            name TEXT NOT NULL,
            updated REAL NOT NULL)""",
        """CREATE TABLE group_prices (
            price_group TEXT NOT NULL,
            gtin TEXT NOT NULL,
            version INTEGER NOT NULL,
            active INTEGER NOT NULL,
            price_cents INTEGER NOT NULL,
            updated REAL NOT NULL,
            PRIMARY KEY (price_group, gtin)) WITHOUT ROWID""",
        # seq: the change counter of the last push that touched the offer, so
        # the in-memory index reloads only what changed (see sync_state).
        """CREATE TABLE offers (
            offer TEXT PRIMARY KEY,
            version INTEGER NOT NULL,
            active INTEGER NOT NULL,
            seq INTEGER NOT NULL,
            data TEXT NOT NULL,
            updated REAL NOT NULL)""",
        "CREATE INDEX offers_seq ON offers (seq)",
        # Customers named by an offer's targeting live here, not in the offer's
        # data, so erasing a customer removes them from every offer.
        """CREATE TABLE offer_customers (
            offer TEXT NOT NULL,
            customer TEXT NOT NULL,
            PRIMARY KEY (offer, customer)) WITHOUT ROWID""",
        "CREATE INDEX offer_customers_customer ON offer_customers (customer)",
        # Offers activated at this store's kiosks, until central's profile says so too.
        """CREATE TABLE offer_activations (
            customer TEXT NOT NULL,
            offer TEXT NOT NULL,
            at TEXT NOT NULL,
            PRIMARY KEY (customer, offer)) WITHOUT ROWID""",
        """CREATE TABLE purchases (
            line TEXT PRIMARY KEY,
            version INTEGER NOT NULL,
            active INTEGER NOT NULL,
            customer TEXT NOT NULL,
            gtin TEXT NOT NULL,
            at TEXT NOT NULL,
            data TEXT NOT NULL,
            updated REAL NOT NULL)""",
        "CREATE INDEX purchases_customer ON purchases (customer, at)",
        """CREATE TABLE sync_state (
            name TEXT PRIMARY KEY,
            seq INTEGER NOT NULL)""",
        "INSERT INTO sync_state (name, seq) VALUES ('offers', 0)",
    )


@migrations()
def m005_staff(db: Database) -> None:
    _run(
        db,
        # Central's staff records (edge_agent.staff.records). A removed member (active = 0) keeps only the
        # id and version, so a late older copy cannot bring them back; name and verifier are gone.
        """CREATE TABLE staff (
            staff TEXT PRIMARY KEY,
            version INTEGER NOT NULL,
            active INTEGER NOT NULL,
            display_name TEXT,
            role TEXT,
            pin_verifier TEXT,
            updated REAL NOT NULL)""",
        # Wrong PINs per staff badge (by card token) and its lock (edge_agent.staff.lockout): survives a restart.
        """CREATE TABLE staff_lockouts (
            card TEXT PRIMARY KEY,
            failures INTEGER NOT NULL,
            locks INTEGER NOT NULL,
            locked_at REAL,
            locked_s REAL) WITHOUT ROWID""",
        # The last staff actions at this device, for managers at the kiosk (edge_agent.staff.audit); upstream
        # they go through the outbox, which forgets them once sent.
        """CREATE TABLE staff_audit (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            event TEXT NOT NULL,
            staff TEXT,
            action TEXT NOT NULL,
            target TEXT,
            result TEXT NOT NULL,
            at TEXT NOT NULL)""",
        # Staff-assist calls made at this device, until handled (edge_agent.staff.calls).
        """CREATE TABLE staff_calls (
            call TEXT PRIMARY KEY,
            at TEXT NOT NULL,
            phase TEXT,
            topic TEXT,
            handled_at TEXT,
            handled_by TEXT)""",
        "CREATE INDEX staff_calls_open ON staff_calls (handled_at, at)",
    )


@migrations()
def m006_content_overlay(db: Database) -> None:
    # The store's changes to its content packs, by pack and item id (edge_agent.content_control.overlay).
    _run(
        db,
        """CREATE TABLE content_overlay (
            pack TEXT NOT NULL,
            section TEXT NOT NULL,
            item TEXT NOT NULL,
            enabled INTEGER NOT NULL,
            until TEXT,
            schedule TEXT,
            PRIMARY KEY (pack, section, item)) WITHOUT ROWID""",
        """CREATE TABLE content_order (
            pack TEXT NOT NULL,
            section TEXT NOT NULL,
            items TEXT NOT NULL,
            PRIMARY KEY (pack, section)) WITHOUT ROWID""",
        """CREATE TABLE content_undo (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            pack TEXT NOT NULL,
            action TEXT NOT NULL,
            snapshot TEXT NOT NULL,
            at REAL NOT NULL)""",
        "CREATE INDEX content_undo_pack ON content_undo (pack, seq)",
        """CREATE TABLE content_dropped (
            pack TEXT NOT NULL,
            section TEXT NOT NULL,
            item TEXT NOT NULL,
            version TEXT NOT NULL,
            at REAL NOT NULL,
            PRIMARY KEY (pack, section, item)) WITHOUT ROWID""",
        """CREATE TABLE content_revision (
            pack TEXT PRIMARY KEY,
            version TEXT,
            revision INTEGER NOT NULL)""",
    )


@migrations()
def m008_content_delivery(db: Database) -> None:
    # Packs central delivers (edge_agent.content_delivery.records): each manifest as received, recorded in the
    # transaction that accepts the push, so a restart resumes its download; its state and the packs' switches.
    _run(
        db,
        """CREATE TABLE content_packs (
            version INTEGER PRIMARY KEY,
            pack TEXT NOT NULL,
            manifest TEXT NOT NULL,
            state TEXT NOT NULL,
            reason TEXT,
            received REAL NOT NULL,
            approved_by TEXT,
            activated REAL,
            updated REAL NOT NULL)""",
        "CREATE INDEX content_packs_state ON content_packs (state, version)",
    )
