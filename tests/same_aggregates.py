"""The check both Kafka-fed tests end with: the snapshot equals the file-fed job's over the bundle."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from driver.pipeline import run_preaggregation, stage_bundle
from edge.aggregates import read_aggregates
from edge.bundle import load_inputs

TABLES = ("legs", "instrument_minutes", "instrument_day", "declarations", "funds", "control")


def assert_same_as_file_fed(bundle: Path, day: date, snapshot: Path, work: Path) -> None:
    staging, batch = work / "batch-staging", work / "batch-snapshot"
    stage_bundle(bundle, day, staging, load_inputs(bundle, day))
    run_preaggregation(staging, batch)
    assert_same_snapshots(snapshot, batch)


def assert_same_snapshots(first: Path, second: Path) -> None:
    streamed, batched = read_aggregates(first), read_aggregates(second)
    assert streamed.legs.height > 0
    for name in TABLES:
        a, b = getattr(streamed, name).drop("_line"), getattr(batched, name).drop("_line")
        assert a.sort(a.columns).equals(b.sort(b.columns)), name
