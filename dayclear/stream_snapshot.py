"""The frozen snapshot of a streaming pre-aggregation run (jobs/stream_preaggregate.py): each
aggregate table's upsert topic read ``read_committed`` from the beginning to its end, folded to the
last value per key (a null value deletes the key), and written in the snapshot's layout (one folder
of header-less CSV per table, as the batch job writes it), sorted by the key so a rerun of the
fold gives the same bytes."""

from __future__ import annotations

import json
import time
from pathlib import Path

import polars as pl

from jobs.stream_preaggregate import aggregate_topic
from schemas.registry import FileSpec, group_specs


def _fold(bootstrap: str, topic: str, idle_s: float = 30) -> dict[bytes, dict[str, object]]:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        isolation_level="read_committed",
        enable_auto_commit=False,
        group_id=None,
    )
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        end = consumer.end_offsets([tp])[tp]  # the last stable offset under read_committed
        rows: dict[bytes, dict[str, object]] = {}
        deadline = time.monotonic() + idle_s
        while consumer.position(tp) < end:
            batch = consumer.poll(timeout_ms=500)
            for record in batch.get(tp, []):
                if record.value is None:
                    rows.pop(record.key, None)
                else:
                    rows[record.key] = json.loads(record.value)
            if batch:
                deadline = time.monotonic() + idle_s
            elif time.monotonic() > deadline:
                raise TimeoutError(f"topic {topic}: stuck at {consumer.position(tp)} of {end}")
        return rows
    finally:
        consumer.close()


def _write(spec: FileSpec, rows: list[dict[str, object]], snapshot: Path) -> None:
    names = spec.column_names
    frame = pl.DataFrame(
        {n: [None if r.get(n) is None else str(r[n]) for r in rows] for n in names},
        schema={n: pl.String for n in names},
    )
    int_keys = [k for k in spec.key if next(c for c in spec.columns if c.name == k).type == "int"]
    frame = frame.sort([pl.col(k).cast(pl.Int64) if k in int_keys else pl.col(k) for k in spec.key])
    folder = snapshot / spec.path.removesuffix(".csv")
    folder.mkdir(parents=True, exist_ok=True)
    frame.write_csv(folder / "part-0", include_header=False, null_value="")


def freeze_snapshot(bootstrap: str, group: str, day: str, snapshot: Path) -> dict[str, int]:
    """Fold every aggregate topic of the run into ``snapshot``; returns rows per table."""
    counts = {}
    for spec in group_specs("aggregates"):
        rows = list(_fold(bootstrap, aggregate_topic(group, day, spec.name)).values())
        _write(spec, rows, snapshot)
        counts[spec.name] = len(rows)
    return counts
