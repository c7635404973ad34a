"""The close: freeze the day's pre-aggregates at recorded Kafka offsets and prove completeness.

At the close the end offset of every partition of the day's topics is recorded. The day's range of
each partition starts where the previous close ended (the latest earlier snapshot's proof), or at the
beginning of the topic for the first day. The pre-aggregation job reads exactly that range (a bounded,
read_committed read) through the gate (:mod:`jobs.gate`): every record is either aggregated or refused
to the dead letters with its reason (malformed, invalid field, another trading day, unknown account or
instrument, duplicate seq). The refused records are sent to the ``dead_letters`` topic.

The completeness record reconciles, per topic, what Kafka holds in the range with what the aggregates
cover plus what was refused (``offsets_accounted``), that admitted ``seq`` are unique, and that every
gap in the admitted ``seq`` range is explained by a refused record. It is stored in the snapshot as
``completeness.json``; the end of day refuses a snapshot without a complete one. Its ``frozen_by``
says which close froze the snapshot (this bounded one, or the stream's: :mod:`driver.stream_close`)
and why.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from driver.pipeline import build_snapshot_journal, run_preaggregation, stage_bundle
from edge.aggregates import read_aggregate
from edge.bundle import load_inputs
from edge.durable import replace_file
from edge.formats import json_bytes
from jobs.kafka_io import offsets, producer
from schemas.registry import DEAD_LETTER_TOPIC
from settlement.model import Inputs

COMPLETENESS = "completeness.json"


class ProofRefused(Exception):
    """A snapshot's completeness proof is missing, not complete, or of another trading day."""


def confirmed_proof(snapshot: Path, day: date) -> dict[str, Any]:
    """The completeness proof of ``snapshot`` if it is there, of ``day`` and complete;
    :class:`ProofRefused` saying which is not otherwise. The one check of a proof: the settlement
    DAG's before it settles, the ops DAG's after the close."""
    path = snapshot / COMPLETENESS
    if not path.exists():
        raise ProofRefused(f"no completeness proof in {snapshot}: the stream has not closed {day}")
    record: dict[str, Any] = json.loads(path.read_text())
    if record.get("trading_day") != day.isoformat():
        raise ProofRefused(
            f"the completeness proof in {snapshot} is of trading day"
            f" {record.get('trading_day')}, not of {day}"
        )
    if not record.get("complete"):
        raise ProofRefused(
            f"the snapshot of {day} is not complete: {json.dumps(record.get('topics'))}"
        )
    return record


def completeness(
    day: date, start: dict[str, dict[int, int]], end: dict[str, dict[int, int]], snapshot: Path
) -> dict[str, object]:
    control = {
        row["topic"]: row for row in read_aggregate(snapshot, "agg_control").iter_rows(named=True)
    }
    dead = read_aggregate(snapshot, "agg_dead_letters")
    topics: dict[str, object] = {}
    complete = True
    for topic, ends in end.items():
        held = sum(o - start.get(topic, {}).get(p, 0) for p, o in ends.items())
        row = control.get(
            topic, {"records": 0, "distinct_seq": 0, "min_seq": None, "max_seq": None}
        )
        refused = dead.filter(pl.col("source_topic") == topic)
        reasons = dict(sorted(refused.group_by("reason").len().iter_rows()))
        not_duplicates = refused.height - reasons.get("duplicate seq", 0)
        admitted = row["records"]
        gaps = row["max_seq"] - admitted if admitted else 0  # seq 1..max not admitted
        checks = {
            "offsets_accounted": admitted + refused.height == held,
            "seq_unique": row["distinct_seq"] == admitted,
            "seq_gaps_explained": gaps <= not_duplicates,
        }
        complete = complete and all(checks.values())
        topics[topic] = {
            "start_offsets": {str(p): o for p, o in sorted(start.get(topic, {}).items())},
            "end_offsets": {str(p): o for p, o in sorted(ends.items())},
            "records_in_kafka": held,
            "records_aggregated": admitted,
            "dead_letters": refused.height,
            "dead_letter_reasons": reasons,
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


def previous_close(snapshot: Path, day: date) -> dict[str, dict[int, int]] | None:
    """End offsets of the latest close before ``day`` among the snapshots beside ``snapshot``."""
    earlier = sorted(
        p
        for p in snapshot.parent.glob("????-??-??")
        if p.name < day.isoformat() and (p / COMPLETENESS).exists()
    )
    if not earlier:
        return None
    record = json.loads((earlier[-1] / COMPLETENESS).read_text())
    return {t: {int(p): int(o) for p, o in e.items()} for t, e in record["end_offsets"].items()}


def _write_offsets(path: Path, found: dict[str, dict[int, int]]) -> Path:
    path.write_text(json.dumps({t: {str(p): o for p, o in e.items()} for t, e in found.items()}))
    return path


def stage_for_gate(bundle: Path, day: date, staging: Path, inputs: Inputs) -> None:
    """What the Kafka-fed jobs read besides the topics: the opening positions and the reference
    account and instrument ids the gate checks against."""
    stage_bundle(bundle, day, staging, inputs, with_events=False)
    for name, frame in (
        ("gate_accounts", inputs.reference.accounts.select("account_id")),
        ("gate_instruments", inputs.reference.instruments.select("instrument_id")),
    ):
        frame.write_csv(staging / f"{name}.csv", include_header=False)


#: Why the bounded job froze a snapshot when nothing more is said (``dayclear close``).
BATCH_REASON = "bounded batch close (dayclear close)"


def close_day(
    bundle: Path, day: date, bootstrap: str, snapshot: Path, *, reason: str = BATCH_REASON
) -> dict[str, object]:
    """The bounded batch close: record the end offsets, run the Flink job over the day's range,
    build the journal, write the proof (with ``frozen_by``: the batch path and ``reason``) and send
    the dead letters. Returns the completeness record."""
    inputs = load_inputs(bundle, day)
    staging = snapshot.with_name(snapshot.name + ".staging")
    stage_for_gate(bundle, day, staging, inputs)
    start = previous_close(snapshot, day) or offsets(bootstrap, "beginning")
    end = offsets(bootstrap, "end")
    run_preaggregation(
        staging,
        snapshot,
        bootstrap=bootstrap,
        end_offsets=_write_offsets(staging / "end_offsets.json", end),
        start_offsets=_write_offsets(staging / "start_offsets.json", start),
        day=day,
    )
    build_snapshot_journal(snapshot, inputs, day)
    record = completeness(day, start, end, snapshot)
    record["frozen_by"] = {"path": "batch", "reason": reason}
    replace_file(snapshot / COMPLETENESS, json_bytes(record))
    send_dead_letters(read_aggregate(snapshot, "agg_dead_letters"), bootstrap)
    return record


def send_dead_letters(dead: pl.DataFrame, bootstrap: str) -> int:
    """The refused records to the ``dead_letters`` topic (schemas/topics/dead_letters.json), keyed by
    source topic. A rerun of the close sends them again: consumers key on (topic, partition, offset)."""
    if dead.is_empty():
        return 0

    fields = ["source_topic", "source_partition", "source_offset", "reason", "field", "raw"]
    sender = producer(bootstrap)
    try:
        for row in dead.select(fields).iter_rows(named=True):
            row["raw"] = row["raw"] or ""  # an empty record reads back as no text: it was ""
            sender.send(DEAD_LETTER_TOPIC, key=row["source_topic"], value=row)
        sender.flush()
    finally:
        sender.close()
    return dead.height
