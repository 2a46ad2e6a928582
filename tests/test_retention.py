"""The database stays bounded: every table that grows is pruned by its retention, by the trusted clock only,
and the write-ahead log is checkpointed and truncated when the database is idle (real SQLite files)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from edge_agent.clock import WallClock
from edge_agent.config import parse_config
from edge_agent.retention import BOUNDED, RULES, DatabaseUpkeep, Retention
from edge_agent.store import WAL_SIZE_LIMIT_BYTES, Store

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
CONFIG = parse_config('[store]\nid = "s"\n[device]\nid = "d"\n')

# One row per rule's table, satisfying the rule's condition; {stamp} is the row's date.
ROWS: dict[str, str] = {
    "inbox_seen": "INSERT INTO inbox_seen (id, received) VALUES (:key, :epoch)",
    "erasures": "INSERT INTO erasures (request_id, applied, erased_records) VALUES (:key, :epoch, 1)",
    "data_use": "INSERT INTO data_use (customer, at, device, use, categories) VALUES ('c-1', :iso, 'k', 'u', '[]')",
    "orders": "INSERT INTO orders (order_id, customer, version, status, data, updated) "
              "VALUES (:key, 'c-1', 1, 'collected', '{}', :epoch)",
    "purchases": "INSERT INTO purchases (line, version, active, customer, gtin, at, data, updated) "
                 "VALUES (:key, 1, :active, 'c-1', '1', :iso, '{}', :epoch)",
    "products": "INSERT INTO products (gtin, version, active, price_cents, category, data, updated) "
                "VALUES (:key, 1, 0, 1, 'x', '{}', :epoch)",
    "group_prices": "INSERT INTO group_prices (price_group, gtin, version, active, price_cents, updated) "
                    "VALUES ('g', :key, 1, 0, 1, :epoch)",
    "offers": "INSERT INTO offers (offer, version, active, seq, data, updated) VALUES (:key, 1, 0, 0, '{}', :epoch)",
    "card_links": "INSERT INTO card_links (card, version, kind, subject, active, updated) "
                  "VALUES (:key, 1, 'customer', 'c-1', 0, :epoch)",
    "offer_activations": "INSERT INTO offer_activations (customer, offer, at) VALUES ('c-1', :key, :iso)",
    "staff": "INSERT INTO staff (staff, version, active, updated) VALUES (:key, 1, 0, :epoch)",
    "staff_calls": "INSERT INTO staff_calls (call, at) VALUES (:key, :iso)",
    "content_packs": "INSERT INTO content_packs (version, pack, manifest, state, received, updated) "
                     "VALUES (NULL, :key, '{}', 'retired', :epoch, :epoch)",
    # The anonymous hourly analytics (edge_agent.analytics), by the hour or day they describe.
    "analytics_buckets": "INSERT INTO analytics_buckets (hour, metric, dim, count, sessions, total) "
                         "VALUES (:iso, 'footfall', :key, 1, NULL, 0)",
    "analytics_sent": "INSERT INTO analytics_sent (period, start, event, rows) VALUES (:key, :iso, '', 0)",
    "analytics_withheld": "INSERT INTO analytics_withheld (day, metric, dim, count, sessions, total) "
                          "VALUES (:iso, 'sessions', :key, 1, 1, 0)",
}


class Clock:
    def __init__(self, now: datetime, trusted: bool = True):
        self.now = now
        self.synchronised = trusted

    def time(self) -> float:
        return self.now.timestamp()

    def wall(self, tmp_path) -> WallClock:
        return WallClock("synchronized", tmp_path / "no-marker", system_time=self.time,
                         kernel=lambda: self.synchronised)


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "agent.db")
    yield store
    store.close()


def count(store: Store, table: str) -> int:
    with store.reading() as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def insert(store: Store, table: str, key: str, at: datetime, active: int = 1) -> None:
    with store.transaction() as conn:
        conn.execute(ROWS[table], {"key": key, "epoch": at.timestamp(), "iso": at.isoformat(), "active": active})


def test_every_table_is_pruned_by_a_rule_or_says_what_bounds_it(store):
    with store.reading() as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    ruled = {rule.table for rule in RULES}
    unexplained = tables - ruled - set(BOUNDED)
    assert not unexplained, (f"tables that may grow without a retention: {sorted(unexplained)}; add a Rule to "
                             "edge_agent/retention.py (and docs/operations.md) or say in BOUNDED what bounds them")
    assert not ruled & set(BOUNDED), "a table is either pruned or bounded otherwise"
    assert set(BOUNDED) - tables == set(), "BOUNDED names a table that does not exist"
    assert ruled <= set(ROWS), "this test has a row for every rule's table"


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: f"{rule.table}-{rule.where or 'all'}"[:60])
def test_a_row_past_its_retention_is_pruned_a_younger_one_kept_one_from_a_wrong_future_clock_pruned(
        store, tmp_path, rule):
    days = rule.days(CONFIG)
    active = 0 if "active = 0" in rule.where else 1
    insert(store, rule.table, "old", NOW - timedelta(days=days, seconds=60), active)
    insert(store, rule.table, "young", NOW - timedelta(days=days) + timedelta(seconds=60), active)
    insert(store, rule.table, "future", NOW + timedelta(days=2), active)
    deleted = Retention(store, CONFIG, Clock(NOW).wall(tmp_path)).prune()
    assert deleted is not None and deleted.get(rule.table) == 2
    assert count(store, rule.table) == 1


def test_rows_outside_a_rules_condition_are_kept_however_old(store, tmp_path):
    old = NOW - timedelta(days=3650)
    with store.transaction() as conn:
        conn.execute("INSERT INTO orders (order_id, customer, version, status, data, updated) "
                     "VALUES ('o-open', 'c-1', 1, 'ready', '{}', ?)", (old.timestamp(),))
        conn.execute("INSERT INTO products (gtin, version, active, price_cents, category, data, updated) "
                     "VALUES ('p-listed', 1, 1, 1, 'x', '{}', ?)", (old.timestamp(),))
        conn.execute("INSERT INTO offers (offer, version, active, seq, data, updated) "
                     "VALUES ('o-live', 1, 1, 0, '{}', ?)", (old.timestamp(),))
        conn.execute("INSERT INTO offer_activations (customer, offer, at) VALUES ('c-1', 'o-live', ?)",
                     (old.isoformat(),))
        conn.execute("INSERT INTO consents (customer, purpose, until) VALUES ('c-1', 'recognition', ?)",
                     (old.isoformat(),))
        conn.execute("INSERT INTO content_packs (version, pack, manifest, state, received, updated) "
                     "VALUES (7, 'p-shown', '{}', 'active', ?, ?)", (old.timestamp(), old.timestamp()))
    Retention(store, CONFIG, Clock(NOW).wall(tmp_path)).prune()
    for table in ("orders", "products", "offers", "offer_activations", "consents", "content_packs"):
        assert count(store, table) == 1, f"{table}: a row the rules do not name went"


def test_an_untrusted_clock_prunes_nothing(store, tmp_path):
    for table in ROWS:
        insert(store, table, "ancient", NOW - timedelta(days=3650))
    assert Retention(store, CONFIG, Clock(NOW, trusted=False).wall(tmp_path)).prune() is None
    assert all(count(store, table) == 1 for table in ROWS)


def test_the_retentions_come_from_the_configuration(store, tmp_path):
    config = parse_config('[store]\nid = "s"\n[device]\nid = "d"\n[retention]\ndata_use_days = 2\n')
    insert(store, "data_use", "x", NOW - timedelta(days=3))
    insert(store, "data_use", "y", NOW - timedelta(days=1))
    assert Retention(store, config, Clock(NOW).wall(tmp_path)).prune() == {"data_use": 1}


def test_a_failing_prune_is_logged_and_the_next_tick_tries_again(store, tmp_path, caplog, monkeypatch):
    mono = [0.0]
    pruner = Retention(store, CONFIG, Clock(NOW).wall(tmp_path))
    calls = []

    def failing():
        calls.append(1)
        if len(calls) == 1:
            raise sqlite3.OperationalError("database or disk is full")
        return {}

    monkeypatch.setattr(pruner, "prune", failing)
    upkeep = DatabaseUpkeep(pruner, store, interval_s=10, idle_s=5, clock=lambda: mono[0])
    mono[0] = 10
    upkeep.tick()
    assert "pruning the database failed: database or disk is full" in caplog.text
    mono[0] = 20
    upkeep.tick()
    assert len(calls) == 2


def test_the_wal_is_truncated_once_the_database_is_idle_and_not_while_it_is_written(store, tmp_path):
    mono = [0.0]
    upkeep = DatabaseUpkeep(Retention(store, CONFIG, Clock(NOW).wall(tmp_path)), store, interval_s=3600,
                                idle_s=5, clock=lambda: mono[0])
    for second in range(20):  # a write every second: never idle for 5 s
        insert(store, "inbox_seen", f"busy-{second}", NOW)
        mono[0] = float(second)
        upkeep.tick()
    assert upkeep.checkpoints == 0 and store.wal_bytes() > 0
    mono[0] += 5
    upkeep.tick()
    assert upkeep.checkpoints == 1 and store.wal_bytes() == 0
    mono[0] += 60
    upkeep.tick()
    assert upkeep.checkpoints == 1, "once per quiet spell"
    assert count(store, "inbox_seen") == 20, "a checkpoint loses nothing"


def test_the_wal_file_is_truncated_to_its_limit_after_a_burst(tmp_path):
    store = Store(tmp_path / "agent.db")
    try:
        with store.transaction() as conn:  # a burst much larger than the limit, in one transaction
            conn.executemany("INSERT INTO inbox_seen (id, received) VALUES (?, ?)",
                             [(f"id-{n:07d}" + "x" * 200, 0.0) for n in range(60_000)])
        assert store.wal_bytes() > WAL_SIZE_LIMIT_BYTES
        with store.transaction() as conn:  # the next commits checkpoint automatically and reset the log
            for n in range(3):
                conn.execute("INSERT INTO inbox_seen (id, received) VALUES (?, 0)", (f"after-{n}",))
        store.checkpoint()
        assert store.wal_bytes() <= WAL_SIZE_LIMIT_BYTES
    finally:
        store.close()


def test_docs_operations_names_every_retention_rule_and_every_otherwise_bounded_table():
    text = (Path(__file__).resolve().parents[1] / "docs" / "operations.md").read_text()
    for rule in RULES:
        assert f"`{rule.table}`" in text and f"`{rule.setting}`" in text, rule
    for table in BOUNDED:
        assert f"`{table}`" in text, table
