"""Kafka at the edge: producing a bundle's events, reading offsets.

Wire encoding (``schemas/topics/*.json``): JSON objects whose decimals are strings (never floats),
keyed by the schema's key field (instrument_id for orders and trades, so one instrument's events keep
their order in one partition). The producer is idempotent with acks=all.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from jobs.staging import text_columns
from schemas.registry import EVENT_TOPICS, topic_spec
from settlement.bundle import load_reference
from settlement.events import read_events, topic_file_spec


def producer(bootstrap: str):  # type: ignore[no-untyped-def]
    from kafka import KafkaProducer

    return KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=20,
        batch_size=256 * 1024,
        key_serializer=str.encode,
        value_serializer=lambda v: json.dumps(v, separators=(",", ":")).encode(),
    )


def wire_records(frame, topic: str):  # type: ignore[no-untyped-def]
    """Rows of a checked topic table as wire dicts (text decimals, ints for seq/qty)."""
    spec = topic_spec(topic)
    ints = {c.name for c in spec.columns if c.type == "int"}
    for row in text_columns(frame, topic_file_spec(topic)).iter_rows(named=True):
        yield {k: (int(v) if k in ints and v is not None else v) for k, v in row.items()}


def produce_bundle(
    bundle: Path, bootstrap: str, day: date, part: tuple[int, int] = (0, 1)
) -> dict[str, int]:
    """Send a bundle's events to their topics in seq order; returns the counts sent. ``part``
    ``(k, n)`` sends only the k-th of n consecutive seq slices of each topic (a day in pieces)."""
    reference = load_reference(bundle, day)
    events = read_events(bundle, reference, day)
    counts: dict[str, int] = {}
    sender = producer(bootstrap)
    k, n_parts = part
    try:
        for topic in EVENT_TOPICS:
            key = topic_spec(topic).key
            frame = events[topic].sort("seq")
            size = -(-frame.height // n_parts)
            n = 0
            for record in wire_records(frame.slice(k * size, size), topic):
                sender.send(topic, key=record[key], value=record)
                n += 1
            counts[topic] = n
        sender.flush()
    finally:
        sender.close()
    return counts


def offsets(bootstrap: str, which: str = "end") -> dict[str, dict[int, int]]:
    """Committed end (last stable) or beginning offsets of every partition of the event topics."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, isolation_level="read_committed", enable_auto_commit=False
    )
    try:
        result: dict[str, dict[int, int]] = {}
        for topic in EVENT_TOPICS:
            parts = [
                TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])
            ]
            found = (
                consumer.end_offsets(parts) if which == "end" else consumer.beginning_offsets(parts)
            )
            result[topic] = {
                tp.partition: int(o)
                for tp, o in sorted(found.items(), key=lambda kv: kv[0].partition)
            }
        return result
    finally:
        consumer.close()
