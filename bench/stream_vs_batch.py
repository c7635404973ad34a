"""(a) the stream-assisted end of day from the frozen aggregates vs (b) a batch-only end of day from the
raw events, side by side in one run, on simulated days of growing size.

(a) the production end of day (driver.pipeline.settle_snapshot): read the snapshot and its trade
    journal (built intraday, untimed), settle shard by shard of members, render every file (Polars);
(b) audit/recompute.py: every rule from the raw events in DuckDB SQL (it computes the same results;
    rendering excluded, which favours (b)).
The Flink job that makes the aggregates is intraday work and is reported separately. Each figure is the
median of 3 alternating runs.

    .venv/bin/python bench/stream_vs_batch.py [--sizes 2000:4000,8000:16000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from prepared_day import DAY, prepare_day, time_stream_eod

from audit.recompute import recompute


def one_size(accounts: int, trades: int, work: Path) -> dict[str, float]:
    day = prepare_day(accounts, trades, work)
    stream, batch = [], []
    for n in range(3):
        stream.append(time_stream_eod(day))
        started = time.perf_counter()
        recompute(day.bundle, DAY, work / f"batch{n}.duckdb").close()
        batch.append(time.perf_counter() - started)
    return {
        "accounts": accounts,
        "orders": day.counts["orders"],
        "trades": day.counts["trades"],
        "flink": day.flink_seconds,
        "a": statistics.median(stream),
        "b": statistics.median(batch),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="2000:4000,8000:16000,20000:40000")
    args = parser.parse_args()
    print(
        "| accounts | orders | trades | Flink job (intraday, s) | (a) EOD from aggregates (s) | (b) batch-only from events (s) | (b)/(a) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for size in args.sizes.split(","):
        accounts, trades = (int(x) for x in size.split(":"))
        with tempfile.TemporaryDirectory() as tmp:
            r = one_size(accounts, trades, Path(tmp))
        print(
            f"| {r['accounts']:,} | {r['orders']:,} | {r['trades']:,} | {r['flink']:.1f} | {r['a']:.2f} | {r['b']:.2f} | {r['b'] / r['a']:.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
