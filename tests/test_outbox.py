"""The outbox on a real SQLite file: ordered, durable, bounded with classes."""

import json
import sqlite3

import pytest

from edge_agent.contract import Topics
from edge_agent.errors import ContractError
from edge_agent.outbox import Outbox
from edge_agent.store import Store

FOOTFALL = {"interval_start": "2026-04-01T09:00:00Z", "interval_s": 60, "count": 3}
CONSENT = {"customer": "c-0123456789abcdef", "purpose": "recognition", "granted": False, "until": None,
           "source": "kiosk"}
TOPICS = Topics("store-1", "kiosk-1")


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "agent.db"


def test_events_come_out_in_the_order_they_went_in_and_survive_reopening(db_path):
    store = Store(db_path)
    outbox = Outbox(store, TOPICS, max_rows=1000)
    ids = [outbox.enqueue("footfall", FOOTFALL) for _ in range(50)]
    store.close()
    outbox = Outbox(Store(db_path), TOPICS, max_rows=1000)
    pending = outbox.after(0, 100)
    assert [p.topic for p in pending] == [TOPICS.event("footfall")] * 50
    assert [p.payload.decode().split('"id":"')[1][:36] for p in pending] == ids
    assert outbox.after(pending[24].seq, 100) == pending[25:]


def test_acknowledged_events_are_deleted_and_sequence_numbers_never_reused(db_path):
    outbox = Outbox(Store(db_path), TOPICS, max_rows=1000)
    outbox.enqueue("footfall", FOOTFALL)
    first = outbox.after(0, 10)
    assert outbox.delete([p.seq for p in first]) == 1
    assert outbox.depth().total == 0
    outbox.enqueue("footfall", FOOTFALL)
    assert outbox.after(0, 10)[0].seq > first[-1].seq


def test_full_outbox_drops_oldest_telemetry_and_never_critical(db_path):
    outbox = Outbox(Store(db_path), TOPICS, max_rows=100)
    for _ in range(60):
        outbox.enqueue("consent", CONSENT)
    for _ in range(60):
        outbox.enqueue("footfall", FOOTFALL)
    depth = outbox.depth()
    assert depth.total == 100 and depth.critical == 60
    assert outbox.dropped_telemetry == 20
    # Only critical events left: telemetry makes no room, critical grows past the bound.
    for _ in range(50):
        outbox.enqueue("consent", CONSENT)
    assert outbox.depth().critical == 110
    outbox.enqueue("footfall", FOOTFALL)
    assert outbox.depth().critical == 110 and outbox.depth().total == 110
    assert outbox.dropped_telemetry == 61


def test_invalid_event_is_refused_before_it_is_stored(db_path):
    outbox = Outbox(Store(db_path), TOPICS, max_rows=100)
    with pytest.raises(ContractError, match="count"):
        outbox.enqueue("footfall", {**FOOTFALL, "count": -1})
    with pytest.raises(KeyError):
        outbox.enqueue("no-such-event", {})
    assert outbox.depth().total == 0


def test_store_uses_wal_and_full_sync_only_for_durable_transactions(db_path):
    store = Store(db_path)
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    seen = []
    store.conn.set_trace_callback(seen.append)
    with store.transaction(durable=True):
        pass
    with store.transaction():
        pass
    store.conn.set_trace_callback(None)
    assert seen[0] == "PRAGMA synchronous=FULL" and "PRAGMA synchronous=NORMAL" in seen
    assert seen.count("PRAGMA synchronous=FULL") == 1
    assert store.conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL between transactions


def test_failed_transaction_rolls_back_and_nesting_cannot_raise_durability(db_path):
    store = Store(db_path)
    with pytest.raises(RuntimeError, match="boom"), store.transaction() as conn:
        conn.execute("INSERT INTO inbox_seen (id, received) VALUES ('x', 1)")
        raise RuntimeError("boom")
    assert store.conn.execute("SELECT count(*) FROM inbox_seen").fetchone()[0] == 0
    with pytest.raises(RuntimeError, match="nested"), store.transaction(), store.transaction(durable=True):
        pass


def test_migrations_are_recorded_and_applied_once(db_path):
    Store(db_path).close()
    Store(db_path).close()
    conn = sqlite3.connect(db_path)
    names = [row[0] for row in conn.execute("SELECT name FROM _sqlite_migrations ORDER BY rowid")]
    assert names == sorted(names) and names[0].startswith("m001_") and len(names) == len(set(names))


def test_listeners_hear_of_an_event_only_after_the_outer_transaction_commits(db_path):
    store = Store(db_path)
    outbox = Outbox(store, TOPICS, max_rows=100)
    seen_by_other_reader = []
    outbox.add_listener(lambda: seen_by_other_reader.append(len(_read_in_thread(outbox))))
    with store.transaction(durable=True):
        outbox.enqueue("footfall", FOOTFALL)
        assert seen_by_other_reader == []
    assert seen_by_other_reader == [1]
    with pytest.raises(RuntimeError), store.transaction(durable=True):
        outbox.enqueue("footfall", FOOTFALL)
        raise RuntimeError("rolled back")
    assert seen_by_other_reader == [1]


def _read_in_thread(outbox):
    import threading

    result = []
    thread = threading.Thread(target=lambda: result.extend(outbox.after(0, 100)))
    thread.start()
    thread.join()
    return result


class CommitSpy:
    """The store's real connection, noting the ``synchronous`` level in force at every ``COMMIT`` and what the
    transaction wrote (SQLite itself is asked, right before the commit: not the statements that set it)."""

    def __init__(self, conn: sqlite3.Connection):
        self._conn = conn
        self.commits: list[tuple[int, list[str]]] = []
        self._writes: list[str] = []

    def execute(self, sql: str, *args):
        if sql.strip().upper() == "COMMIT":
            level = self._conn.execute("PRAGMA synchronous").fetchone()[0]
            self.commits.append((level, self._writes))
            self._writes = []
        elif sql.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
            self._writes.append(sql.split("(")[0].strip())
        return self._conn.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self._conn, name)


FULL = 2  # PRAGMA synchronous: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA


def test_enqueue_commits_at_synchronous_full_so_a_queued_event_survives_power_loss(db_path):
    # A process kill cannot tell: SQLite's WAL survives a killed process at any level, and only an fsync lost
    # with the power loses a commit. What the promise rests on is the level in force when the event's
    # transaction commits, so that is what is checked, asked of SQLite at each COMMIT.
    store = Store(db_path)
    outbox = Outbox(store, TOPICS, max_rows=1000)
    spy = CommitSpy(store.conn)
    store.conn = spy  # type: ignore[assignment]
    outbox.enqueue("footfall", FOOTFALL)  # telemetry
    outbox.enqueue("consent", CONSENT)  # critical
    with store.transaction(durable=True) as conn:  # inside a state change, as the tap path does
        conn.execute("INSERT INTO inbox_seen (id, received) VALUES ('x', 1)")
        outbox.enqueue("consent", CONSENT)
    outbox.delete([p.seq for p in outbox.after(0, 10)])  # deletion after PUBACK may be lazy: re-sent at worst
    store.conn = spy._conn
    event_commits = [(level, writes) for level, writes in spy.commits if "INSERT INTO outbox" in writes]
    assert len(event_commits) == 3
    assert all(level == FULL for level, _ in event_commits), f"an event committed below FULL: {event_commits}"
    assert store.conn.execute("PRAGMA synchronous").fetchone()[0] == 1, "NORMAL again for everything else"


def test_wake_later_wakes_the_listeners_once_after_the_block_and_not_for_a_rolled_back_event(db_path):
    store = Store(db_path)
    outbox = Outbox(store, TOPICS, max_rows=1000)
    woken: list[int] = []
    outbox.add_listener(lambda: woken.append(outbox.depth().total))
    with outbox.wake_later():
        with store.transaction(durable=True):
            outbox.enqueue("consent", CONSENT)
            outbox.enqueue("footfall", FOOTFALL)
        assert woken == [], "held until the block ends"
    assert woken == [2], "once, with both events committed"
    with pytest.raises(RuntimeError), outbox.wake_later(), store.transaction(durable=True):
        outbox.enqueue("consent", CONSENT)
        raise RuntimeError("the state change failed")
    assert woken == [2] and outbox.depth().total == 2, "nothing committed, nothing to wake for"
    outbox.enqueue("footfall", FOOTFALL)
    assert woken == [2, 3], "outside the block: woken at the commit, as always"


def test_full_outbox_drops_the_oldest_telemetry_first_and_keeps_the_newest(db_path):
    outbox = Outbox(Store(db_path), TOPICS, max_rows=100)
    outbox.enqueue("consent", CONSENT)
    for count in range(130):
        outbox.enqueue("footfall", {**FOOTFALL, "count": count})
    kept = [json.loads(p.payload)["data"] for p in outbox.after(0, 200)]
    assert kept[0]["purpose"] == "recognition", "the critical event stays, however old"
    assert [event["count"] for event in kept[1:]] == list(range(31, 130)), "the 31 oldest telemetry events went"
    assert outbox.dropped_telemetry == 31
