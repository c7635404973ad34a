"""The close: freeze the day's pre-aggregates at recorded Kafka offsets and prove completeness.

At the close the end offset of every partition of the day's topics is recorded; the pre-aggregation
job reads exactly up to them (a bounded, read_committed read) and the completeness record reconciles
what the aggregates cover (records, distinct seq, seq range) with what Kafka holds. The record is
stored in the snapshot as ``completeness.json``; the end of day refuses a snapshot without a
complete one.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from settlement.aggregates import read_aggregate

from .kafka_io import offsets
from .pipeline import load_inputs, run_preaggregation, stage_bundle

COMPLETENESS = "completeness.json"


def completeness(
    day: date, start: dict[str, dict[int, int]], end: dict[str, dict[int, int]], snapshot: Path
) -> dict[str, object]:
    control = {
        row["topic"]: row for row in read_aggregate(snapshot, "agg_control").iter_rows(named=True)
    }
    topics: dict[str, object] = {}
    complete = True
    for topic, ends in end.items():
        held = sum(o - start.get(topic, {}).get(p, 0) for p, o in ends.items())
        row = control.get(
            topic, {"records": 0, "distinct_seq": 0, "min_seq": None, "max_seq": None}
        )
        checks = {
            "records_match_offsets": row["records"] == held,
            "seq_unique": row["distinct_seq"] == row["records"],
            "seq_contiguous": held == 0
            or (row["min_seq"] == 1 and row["max_seq"] == row["records"]),
        }
        complete = complete and all(checks.values())
        topics[topic] = {
            "start_offsets": {str(p): o for p, o in sorted(start.get(topic, {}).items())},
            "end_offsets": {str(p): o for p, o in sorted(ends.items())},
            "records_in_kafka": held,
            "records_aggregated": row["records"],
            "distinct_seq": row["distinct_seq"],
            "min_seq": row["min_seq"],
            "max_seq": row["max_seq"],
            "checks": checks,
        }
    return {
        "trading_day": day.isoformat(),
        "complete": complete,
        "topics": topics,
        "end_offsets": {t: {str(p): o for p, o in e.items()} for t, e in end.items()},
    }


def close_day(bundle: Path, day: date, bootstrap: str, snapshot: Path) -> dict[str, object]:
    inputs = load_inputs(bundle, day)
    staging = snapshot.with_name(snapshot.name + ".staging")
    stage_bundle(bundle, day, staging, inputs, with_events=False)
    start = offsets(bootstrap, "beginning")
    end = offsets(bootstrap, "end")
    end_file = staging / "end_offsets.json"
    end_file.write_text(
        json.dumps({t: {str(p): o for p, o in parts.items()} for t, parts in end.items()})
    )
    run_preaggregation(staging, snapshot, bootstrap=bootstrap, end_offsets=end_file)
    record = completeness(day, start, end, snapshot)
    (snapshot / COMPLETENESS).write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    return record
