"""How the end of day grows with accounts and with events, on the production path.

For each configuration: simulate a day, stage it, run the Flink pre-aggregation job in batch mode over
the files (intraday work, reported separately), then time the end of day from the frozen aggregates
(driver.pipeline.settle_snapshot: read the snapshot and its trade journal, settle shard by shard,
render all files; the journal is built intraday, untimed; the median of 3 runs in this process).

    .venv/bin/python bench/eod_scaling.py [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from prepared_day import prepare_day, time_stream_eod


def measure(accounts: int, trades: int, work: Path) -> dict[str, float]:
    day = prepare_day(accounts, trades, work)
    eod = statistics.median(time_stream_eod(day) for _ in range(3))
    return {
        "accounts": accounts,
        "orders": day.counts["orders"],
        "trades": day.counts["trades"],
        "flink_s": day.flink_seconds,
        "eod_s": eod,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    configs = (
        [(2000, 4000), (2000, 16000), (8000, 4000)]
        if not args.quick
        else [(500, 1000), (500, 4000), (2000, 1000)]
    )
    rows = []
    for accounts, trades in configs:
        with tempfile.TemporaryDirectory() as tmp:
            rows.append(measure(accounts, trades, Path(tmp)))
    base = rows[0]
    print(
        "| accounts | orders | trades | Flink pre-aggregation (s) | EOD from aggregates (s) | EOD vs first row |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['accounts']:,} | {r['orders']:,} | {r['trades']:,} | {r['flink_s']:.1f} | {r['eod_s']:.2f} | {r['eod_s'] / base['eod_s']:.2f}x |"
        )


if __name__ == "__main__":
    main()
