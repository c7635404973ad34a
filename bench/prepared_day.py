"""What every benchmark here starts from: a simulated day, staged, pre-aggregated by the Flink job
(timed separately: intraday work), and the timed stream-assisted end of day from its aggregates."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dayclear.pipeline import Inputs, load_inputs, run_preaggregation, stage_bundle
from dayclear.simulator import SimulationConfig, simulate
from settlement.aggregates import read_aggregates
from settlement.eod import settle_day
from settlement.publish import render

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
    """Seconds for the end of day from the aggregates: read snapshot, settle_day, render every file."""
    started = time.perf_counter()
    result, breaks = settle_day(
        DAY, day.inputs.reference, day.inputs.opening, read_aggregates(day.snapshot)
    )
    assert result is not None and not breaks, breaks
    render(result, day.inputs.reference.members["member_id"].to_list())
    return time.perf_counter() - started
