"""Analytics, anonymous by construction: hourly buckets of what a device observed, sent upstream without anyone in them.

- :mod:`.buckets`: the pure aggregation (no I/O): observations in, sums per (hour, metric, dimension) out;
- :mod:`.kanon`: the pure k-anonymity rule: no published row counts fewer than k sessions;
- :mod:`.service`: the device's service: the kiosk's usage reports and the agent's own events in, SQLite
  (``analytics_buckets``) and ``event/analytics-hourly`` through the outbox out;
- :mod:`.config`: the ``[analytics]`` section.

The metrics and the payloads are in :mod:`edge_agent.contract.payloads_analytics`. No session id, visit id,
card token or customer id is written to any of the analytics tables or sent in any of their events. The
package imports nothing itself: the configuration (:mod:`edge_agent.config`) loads :mod:`.config` alone.
"""
