"""What the agent's database keeps, for how long, and the pruning that keeps it bounded for months.

Every table either grows with time and has a :class:`Rule` here (what goes,
after how long, which ``[retention]`` or ``[inbox]`` setting says so), or is
bounded by something else, said in :data:`BOUNDED`. ``tests/test_retention.py``
migrates a database and fails when a table is in neither: a new table must
say how it stays small.

The rules (defaults in brackets, docs/operations.md has the table):

* ``inbox_seen``: ids of applied pushes, after ``[inbox] dedupe_days`` [7].
* ``erasures``: ids of applied erasure requests, after ``erasure_ids_days``
  [30]; a repeat after that erases again and acknowledges what it found.
* ``data_use``: the customers' data-use log, entries older than
  ``data_use_days`` [90]. DESIGN.md sets no retention for it: it is personal
  data kept so a customer can see when theirs was used, and 90 days covers a
  season of visits. Withdrawal and erasure delete a customer's whole log at
  once (:mod:`edge_agent.privacy`).
* ``orders``: collected, cancelled or expired orders, ``final_orders_days``
  [30] after their last update (the kiosk shows them for 14 days).
* ``purchases``: lines bought more than ``purchase_days`` [365] ago.
* ``content_packs``: delivered packs whose files are gone (retired, failed,
  superseded, ended), ``tombstone_days`` [90] after their last change; the
  active, previous, staged and pending ones stay (:mod:`edge_agent.content_delivery.records`).
* ``staff_calls``: staff-assist calls made at this device, handled or not,
  after ``staff_calls_days`` [7] (a call nobody answered in a week is not
  waiting any more; handled ones go after 7 days in any case).
* ``analytics_buckets``, ``analytics_sent``, ``analytics_withheld``: the
  anonymous hourly analytics (:mod:`edge_agent.analytics`), after
  ``[analytics] retention_days`` [90], by the hour or day they describe.
* Tombstones (records central removed, ``active = 0``, kept so a late older
  copy cannot bring them back) of ``products``, ``group_prices``, ``offers``,
  ``card_links``, ``purchases`` and ``staff``, and ``offer_activations`` of offers no
  longer active: ``tombstone_days`` [90] after their last update, far beyond
  the broker's redelivery of a push.

Pruning runs on the agent's housekeeping thread every ``interval_s`` [3600]
(the first a minute after start), each rule in a transaction of its own
(short: the tap path waits for the write lock at most that long). It judges
age by the agent's wall clock (:mod:`edge_agent.clock`) and only while that
clock is trusted: with a clock months behind nothing would be pruned and with
one ahead too much. A row stamped more than :data:`FUTURE_SLACK_S` after the
trusted time was stamped by a wrong clock (one that was ahead, then corrected
by NTP): its age is unknown, so it is pruned as expired rather than kept for
an unknown time (for the data-use log the privacy-safe side). Freed pages are
reused by SQLite, so the file stays at the size of its largest content; the
write-ahead log is checkpointed and truncated when the database is idle
(:meth:`edge_agent.store.Store.checkpoint`).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

from .clock import WallClock
from .config import AgentConfig
from .store import Store

logger = logging.getLogger(__name__)

DAY_S = 86400.0
FUTURE_SLACK_S = DAY_S  # a stamp this far after the trusted time comes from a clock that was wrong

# A text time of SQLite's date functions (the ISO 8601 times the agent writes) in seconds since the epoch.
_ISO_EPOCH = "((julianday({column}) - 2440587.5) * 86400.0)"


@dataclass(frozen=True)
class Rule:
    """One kind of row that expires.

    :param table: the table.
    :param stamp: the column that dates a row: seconds since the epoch (``REAL``), or ISO 8601 text
        when ``iso`` is set.
    :param days: the retention in days, from the configuration.
    :param setting: the setting that gives it, for the documentation and the logs.
    :param where: which rows the rule is about (SQL), besides their age; empty for all.
    :param what: what the rows are, in words.
    """

    table: str
    stamp: str
    days: Callable[[AgentConfig], float]
    setting: str
    what: str
    where: str = ""
    iso: bool = False

    def delete_sql(self) -> str:
        """``DELETE`` of this rule's rows older than ``:cutoff`` or stamped after ``:future``."""
        age = _ISO_EPOCH.format(column=self.stamp) if self.iso else self.stamp
        condition = f"({age} < :cutoff OR {age} > :future)"
        return f"DELETE FROM {self.table} WHERE {self.where + ' AND ' if self.where else ''}{condition}"


_ACTIVE_OFFERS = "SELECT offer FROM offers WHERE active = 1"

RULES: tuple[Rule, ...] = (
    Rule("inbox_seen", "received", lambda c: c.inbox.dedupe_days, "inbox.dedupe_days", "ids of applied pushes"),
    Rule("erasures", "applied", lambda c: c.retention.erasure_ids_days, "retention.erasure_ids_days",
         "ids of applied erasure requests"),
    Rule("data_use", "at", lambda c: c.retention.data_use_days, "retention.data_use_days",
         "entries of customers' data-use logs", iso=True),
    Rule("orders", "updated", lambda c: c.retention.final_orders_days, "retention.final_orders_days",
         "collected, cancelled or expired orders", where="status IN ('collected', 'cancelled', 'expired')"),
    Rule("purchases", "at", lambda c: c.retention.purchase_days, "retention.purchase_days",
         "purchase lines, by the time of the purchase", iso=True),
    *(Rule(table, "updated", lambda c: c.retention.tombstone_days, "retention.tombstone_days",
           f"{table} removed by central", where="active = 0")
      for table in ("products", "group_prices", "offers", "card_links", "purchases", "staff")),
    Rule("content_packs", "updated", lambda c: c.retention.tombstone_days, "retention.tombstone_days",
         "delivered packs no longer kept (retired, failed, superseded, ended)",
         where="state IN ('retired', 'failed', 'superseded', 'ended')"),
    Rule("offer_activations", "at", lambda c: c.retention.tombstone_days, "retention.tombstone_days",
         "activations of offers no longer active", where=f"offer NOT IN ({_ACTIVE_OFFERS})", iso=True),
    Rule("staff_calls", "at", lambda c: c.retention.staff_calls_days, "retention.staff_calls_days",
         "staff-assist calls made at this device, handled or not", iso=True),
    # The anonymous hourly analytics (edge_agent.analytics), by the hour or day they describe.
    Rule("analytics_buckets", "hour", lambda c: c.analytics.retention_days, "analytics.retention_days",
         "hourly analytics buckets", iso=True),
    Rule("analytics_sent", "start", lambda c: c.analytics.retention_days, "analytics.retention_days",
         "the record of the analytics hours and days sent", iso=True),
    Rule("analytics_withheld", "day", lambda c: c.analytics.retention_days, "analytics.retention_days",
         "analytics rows withheld from their hours (below k), for their day", iso=True),
)

#: Tables that do not grow with time, and what bounds them.
BOUNDED: dict[str, str] = {
    "outbox": "events are deleted once the broker acknowledged them; while offline, telemetry beyond "
              "[outbox] max_rows is dropped oldest-first (critical events wait, never dropped)",
    "customers": "central's customers of this store: replaced by version, erased on withdrawal or request",
    "consents": "a customer's current consents: replaced with their profile, erased with them; an expired "
                "consent is not pruned (with a wrong clock that would end it early), it only stops counting",
    "price_groups": "central's price groups (a handful), replaced by version",
    "offer_customers": "customers named by active offers only: an offer's list is replaced with the offer, "
                       "and emptied when it is removed",
    "sun_counters": "one per SUN card ever tapped here, kept as the card's replay guard "
                    "(privacy.KEPT_ON_ERASURE says why erasure keeps it too)",
    "sync_state": "one change counter per kind of push",
    "staff_audit": "the last staff.audit.KEEP (500) actions for managers at the kiosk; each goes upstream "
                   "through the outbox as a critical event",
    "staff_lockouts": "one row per staff badge with wrong PINs, deleted by the right PIN",
    "content_overlay": "the store's changes per item of the packs in use (edge_agent.content_control): one row "
                       "per changed item; reset to the pack deletes them, a new pack version drops gone items",
    "content_order": "the store's order of each section of a pack in use: one row per section",
    "content_revision": "one change counter per pack",
    "content_undo": "the last 50 changes per pack (content_control.overlay), older ones deleted",
    "content_dropped": "items a new pack version dropped, until staff tap Gezien",
    "_sqlite_migrations": "one row per schema migration",
    "sqlite_sequence": "one row per AUTOINCREMENT table",
}


class Retention:
    """Prunes the tables of :data:`RULES` by the trusted wall clock.

    :param store: the agent's database.
    :param config: the agent's configuration (the retentions).
    :param clock: the wall clock; nothing is pruned while it is not trusted.
    """

    def __init__(self, store: Store, config: AgentConfig, clock: WallClock):
        self._store = store
        self._config = config
        self._clock = clock
        #: Rows deleted per table since start.
        self.pruned: dict[str, int] = {}

    def prune(self) -> dict[str, int] | None:
        """Delete what is past its retention; returns the rows deleted per table (tables with none left out),
        or None when the clock is not trusted (nothing was pruned).

        :raises sqlite3.Error: when a rule's transaction fails (the rules before it are committed).
        """
        now = self._clock.trusted_now()
        if now is None:
            logger.info("pruning postponed: the wall clock is not trusted")
            return None
        deleted: dict[str, int] = {}
        stamp = now.timestamp()
        for rule in RULES:
            params = {"cutoff": stamp - rule.days(self._config) * DAY_S, "future": stamp + FUTURE_SLACK_S}
            with self._store.transaction() as conn:
                count = conn.execute(rule.delete_sql(), params).rowcount
            if count:
                deleted[rule.table] = deleted.get(rule.table, 0) + count
        for table, count in deleted.items():
            self.pruned[table] = self.pruned.get(table, 0) + count
        if deleted:
            logger.info("pruned %s", ", ".join(f"{count} from {table}" for table, count in sorted(deleted.items())))
        return deleted


class DatabaseUpkeep:
    """The retention and the WAL checkpoint on the agent's schedule (called by its housekeeping thread).

    :param retention: what prunes.
    :param store: the database to checkpoint.
    :param interval_s: seconds between prunings; the first :data:`FIRST_PRUNE_S` after start.
    :param idle_s: checkpoint once the database has had no write for this long (once per quiet spell).
    :param clock: a monotonic clock (seconds); replaceable in tests.
    """

    FIRST_PRUNE_S = 60.0

    def __init__(self, retention: Retention, store: Store, interval_s: float, idle_s: float,
                 clock: Callable[[], float]):
        self._retention = retention
        self._store = store
        self._interval_s = interval_s
        self._idle_s = idle_s
        self._clock = clock
        now = clock()
        self._next_prune = now + min(self.FIRST_PRUNE_S, interval_s)
        self._changes = store.changes
        self._quiet_since = now
        self._checkpointed = False
        self.checkpoints = 0

    def tick(self) -> None:
        """Prune when due; checkpoint when the database has been idle long enough. Never raises for
        the database: a failure is logged and tried again at the next occasion."""
        now = self._clock()
        if now >= self._next_prune:
            self._next_prune = now + self._interval_s
            try:
                self._retention.prune()
            except sqlite3.Error as exc:
                logger.error("pruning the database failed: %s", exc)
        changes = self._store.changes
        if changes != self._changes:
            self._changes, self._quiet_since, self._checkpointed = changes, now, False
            return
        if self._checkpointed or now - self._quiet_since < self._idle_s:
            return
        try:
            self._checkpointed = self._store.checkpoint()
        except sqlite3.Error as exc:
            logger.error("checkpointing the database failed: %s", exc)
            self._checkpointed = True  # not again in this quiet spell
            return
        if self._checkpointed:
            self.checkpoints += 1
            logger.debug("database idle for %.0f s: WAL checkpointed and truncated", now - self._quiet_since)
