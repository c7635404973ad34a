"""What every benchmark here starts from: a simulated day, staged, pre-aggregated by the Flink job
(timed separately: intraday work), and the timed stream-assisted end of day from its aggregates."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devtools.simulator import SimulationConfig, simulate
from driver.pipeline import (
    build_snapshot_journal,
    run_preaggregation,
    settle_snapshot,
    stage_bundle,
)
from edge.bundle import load_inputs
from edge.journal_files import read_journal
from settlement.model import Inputs

DAY = date(2026, 11, 23)


@dataclass(frozen=True)
class PreparedDay:
    bundle: Path
    snapshot: Path
    inputs: Inputs
    counts: dict[str, int]
    flink_seconds: float


def prepare_day(accounts: int, trades: int, work: Path) -> PreparedDay:
    bundle, staging, snapshot = work / "bundle", work / "staging", work / "snapshot"
    counts = simulate(SimulationConfig(day=DAY, accounts=accounts, trades=trades), bundle)
    inputs = load_inputs(bundle, DAY)
    stage_bundle(bundle, DAY, staging, inputs)
    started = time.perf_counter()
    run_preaggregation(staging, snapshot)
    return PreparedDay(bundle, snapshot, inputs, counts, time.perf_counter() - started)


def time_stream_eod(day: PreparedDay) -> float:
    """Seconds for the end of day from the aggregates, the production code: read the snapshot and its
    trade journal (built intraday, before the timer), settle shard by shard, render every file."""
    if read_journal(day.snapshot) is None:
        build_snapshot_journal(day.snapshot, day.inputs, DAY)
    started = time.perf_counter()
    settle_snapshot(day.bundle, DAY, day.snapshot, day.inputs)
    return time.perf_counter() - started
