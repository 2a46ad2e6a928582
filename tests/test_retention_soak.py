"""A short soak (the code of bench/soak.py, two minutes): an agent process under a steady load keeps its
tables within their retention window and its memory flat after the warm-up.

The bounds are not about speed: the rows a table may hold are what the retention window can hold at the
target rate (a slower machine writes fewer), and the memory bound is generous (the 30-minute figures are in
bench/README.md).
"""

from __future__ import annotations

import sys
from pathlib import Path

from edge_agent.store import WAL_SIZE_LIMIT_BYTES

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from soak import RSS_GROWTH_MB, report, run_soak  # bench/ is not a package: its path is added above


def test_agent_under_steady_load_keeps_its_tables_pruned_to_their_window_and_its_memory_flat(tmp_path):
    result = run_soak(minutes=2.0, rate=10.0, keep_s=30.0, prune_s=10.0, warmup_s=45.0, sample_s=5.0,
                      workdir=tmp_path, say=lambda line: None)
    print(report(result))
    assert result.pruned_log_lines >= 1, "pruning never deleted anything"
    for table in ("data_use", "inbox_seen"):
        peak = max(sample.rows[table] for sample in result.samples if sample.at_s >= 45.0)
        assert peak <= result.row_bound(table), f"{table}: {peak} rows, beyond the retention window"
        assert result.end.rows[table] < result.written[table], f"{table}: nothing was pruned"
    assert result.end.rows["outbox"] <= 50, "acknowledged events are deleted"
    assert result.warmup is not None
    assert result.end.rss_kb - result.warmup.rss_kb < RSS_GROWTH_MB * 1024, report(result)
    assert max(sample.wal_bytes for sample in result.samples) <= 2 * WAL_SIZE_LIMIT_BYTES
