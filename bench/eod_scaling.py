"""How the end of day grows with accounts and with events, on the production path.

For each configuration: simulate a day, stage it, run the Flink pre-aggregation job in batch mode over
the files (intraday work, reported separately), then time the end of day from the frozen aggregates
(read snapshot + settle_day + render all files; the median of 3 runs in this process).

    .venv/bin/python bench/eod_scaling.py [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dayclear.pipeline import load_inputs, run_preaggregation, stage_bundle
from dayclear.simulator import SimulationConfig, simulate
from settlement.aggregates import read_aggregates
from settlement.eod import settle_day
from settlement.publish import render

DAY = date(2026, 11, 23)


def measure(accounts: int, trades: int, work: Path) -> dict[str, float]:
    bundle, staging, snapshot = work / "bundle", work / "staging", work / "snapshot"
    counts = simulate(SimulationConfig(day=DAY, accounts=accounts, trades=trades), bundle)
    inputs = load_inputs(bundle, DAY)
    stage_bundle(bundle, DAY, staging, inputs)
    started = time.perf_counter()
    run_preaggregation(staging, snapshot)
    flink = time.perf_counter() - started
    members = inputs.reference.members["member_id"].to_list()
    runs = []
    for _ in range(3):
        started = time.perf_counter()
        result, breaks = settle_day(
            DAY, inputs.reference, inputs.opening, read_aggregates(snapshot)
        )
        assert result is not None and not breaks, breaks
        render(result, members)
        runs.append(time.perf_counter() - started)
    return {
        "accounts": accounts,
        "orders": counts["orders"],
        "trades": counts["trades"],
        "flink_s": flink,
        "eod_s": statistics.median(runs),
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
