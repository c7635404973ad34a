"""The close folds the job's upsert topics to the last value per key (jobs/stream_snapshot.py) with
memory in proportion to the keys: the broker compacts those topics during the session, and the fold
reads them a chunk at a time (issue 14, item 2: nothing at the close grows with the day's events).
Real broker."""

from __future__ import annotations

import json

import pytest
from confluent_kafka import Message
from confluent_kafka.admin import ConfigResource  # type: ignore[attr-defined]

from devtools.kafka_broker import Broker
from jobs import stream_snapshot
from jobs.kafka_io import new_admin, new_producer
from jobs.stream_preaggregate import COMPACTED, aggregate_topic, create_topics
from jobs.stream_snapshot import AggregateTopics
from schemas.registry import group_specs

DAY = "2026-11-23"


def _configs(bootstrap: str, topic: str) -> dict[str, str]:
    admin, resource = new_admin(bootstrap), ConfigResource(ConfigResource.Type.TOPIC, topic)
    entries = admin.describe_configs([resource])[resource].result()
    return {name: entry.value for name, entry in entries.items()}


def test_the_upsert_topics_are_compacted_and_the_legs_are_not(kafka: Broker) -> None:
    group = "test-compacted"
    create_topics(kafka.bootstrap, group, DAY)
    for spec in group_specs("aggregates"):
        configs = _configs(kafka.bootstrap, aggregate_topic(group, DAY, spec.name))
        if spec.name == "agg_legs":
            assert configs["cleanup.policy"] == "delete"
        else:
            assert {k: configs[k] for k in COMPACTED} == COMPACTED, spec.name


def test_the_fold_a_chunk_at_a_time_keeps_the_last_value_of_each_key(
    kafka: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ten updates of three accounts' funds and a deletion, folded three records at a time."""
    group = "test-fold-chunks"
    create_topics(kafka.bootstrap, group, DAY)
    topic = aggregate_topic(group, DAY, "agg_funds")
    producer = new_producer(kafka.bootstrap)
    updates = [
        ("A1", "100.00", "1"), ("A2", "5.00", "1"), ("A1", "150.00", "2"), ("A3", "7.00", "1"),
        ("A2", "9.00", "2"), ("A1", "175.00", "3"), ("A3", "8.00", "2"), ("A2", "12.00", "3"),
        ("A1", "180.00", "4"), ("A2", "20.00", "4"),
    ]  # fmt: skip
    for account, deposits, movements in updates:
        value = {"account_id": account, "deposits": deposits, "withdrawals": "0.00",
                 "movements": int(movements)}  # fmt: skip
        producer.produce(topic, key=json.dumps({"account_id": account}), value=json.dumps(value))
    producer.produce(topic, key=json.dumps({"account_id": "A3"}), value=None)  # A3 deleted
    producer.flush(30)

    monkeypatch.setattr(stream_snapshot, "FOLD_EVERY", 3)
    topics = AggregateTopics(kafka.bootstrap, group, DAY, ["agg_funds"])
    chunks: list[int] = []
    read = topics.reader.read

    def counted(idle_s: float = 30.0, limit: int | None = None) -> list[Message]:
        found = read(idle_s, limit)
        chunks.append(len(found))
        return found

    monkeypatch.setattr(topics.reader, "read", counted)
    try:
        assert topics.catch_up(idle_s=10) == 11
        folded = topics.text(topic).sort("account_id").rows()
    finally:
        topics.close()
    assert chunks == [3, 3, 3, 2]
    assert folded == [("A1", "180.00", "0.00", "4"), ("A2", "20.00", "0.00", "4")]
