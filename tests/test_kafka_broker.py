"""The embedded broker: a taken port is a clear error; topics follow schemas/ (real broker); the
client pieces of jobs/kafka_io.py on it: the feed, offsets, transactions, consumer groups."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from devtools import kafka_broker


def test_port_taken_is_a_clear_error(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DAYCLEAR_STATE", str(tmp_path))
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        monkeypatch.setenv("DAYCLEAR_KAFKA_PORT", str(blocker.getsockname()[1]))
        with pytest.raises(RuntimeError, match="is taken by another process"):
            kafka_broker.start()


@pytest.mark.slow
def test_topics_have_the_partition_counts_of_the_schemas(kafka) -> None:  # type: ignore[no-untyped-def]
    from jobs.kafka_io import partition_counts

    found = partition_counts(kafka.bootstrap)
    for topic, partitions in kafka_broker.topic_partitions().items():
        assert found.get(topic) == partitions, topic
    assert {"orders", "trades", "fund_movements", "dead_letters", "alerts"} <= set(found)
    assert kafka_broker.status() is not None


@pytest.mark.slow
def test_a_day_fed_in_pieces_is_on_its_topics_once_in_ts_order(kafka, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json
    from datetime import date

    from devtools.simulator import SimulationConfig, simulate
    from jobs.kafka_io import TopicReader, end_offsets, produce_bundle
    from schemas.registry import EVENT_TOPICS

    day = date(2026, 11, 17)
    counts = simulate(SimulationConfig(day=day, accounts=40, members=4, trades=30), tmp_path)
    reader = TopicReader(kafka.bootstrap, EVENT_TOPICS)
    try:
        reader.read()  # what other tests left there
        before = end_offsets(kafka.bootstrap, EVENT_TOPICS)
        sent = [produce_bundle(tmp_path, kafka.bootstrap, day, (k, 2)) for k in range(2)]
        paced = produce_bundle(tmp_path, kafka.bootstrap, day, rate=5_000)
        assert {t: sent[0][t] + sent[1][t] for t in EVENT_TOPICS} == paced == counts
        after = end_offsets(kafka.bootstrap, EVENT_TOPICS)
        for topic in EVENT_TOPICS:
            grew = sum(after[topic].values()) - sum(before[topic].values())
            assert grew == 2 * counts[topic], topic
        records = reader.read()
        assert reader.behind() == []
    finally:
        reader.close()
    assert len(records) == 2 * sum(counts.values())
    by_partition: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for m in records:
        raw, source, partition = m.value(), m.topic(), m.partition()
        assert raw is not None and source is not None and partition is not None
        value = json.loads(raw)
        assert value["trading_day"] == day.isoformat()
        by_partition.setdefault((source, partition), []).append(value)
    for values in by_partition.values():  # each run of the day in ts order within a partition
        half = len(values) // 2
        for run in (values[:half], values[half:]):
            assert [v["ts"] for v in run] == sorted(v["ts"] for v in run)


@pytest.mark.slow
def test_a_day_fed_in_chunks_is_the_day_fed_whole(kafka, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A day larger than jobs.kafka_io.FEED_IN_MEMORY_BYTES (here any day) is checked and sent a
    chunk at a time (here 37 lines): every partition holds the same records in the same order as
    for the whole-file feed, and a part of it is the same part."""
    from datetime import date

    from devtools.simulator import SimulationConfig, simulate
    from edge import event_chunks
    from jobs import kafka_io
    from jobs.kafka_io import TopicReader, produce_bundle
    from schemas.registry import EVENT_TOPICS

    day = date(2026, 11, 17)
    counts = simulate(SimulationConfig(day=day, accounts=40, members=4, trades=30), tmp_path)
    reader = TopicReader(kafka.bootstrap, EVENT_TOPICS)

    def sent() -> dict[tuple[str, int], list[tuple[bytes | None, bytes | None]]]:
        found: dict[tuple[str, int], list[tuple[bytes | None, bytes | None]]] = {}
        for m in reader.read():
            found.setdefault((str(m.topic()), int(m.partition() or 0)), []).append(
                (m.key(), m.value())
            )
        return found

    try:
        reader.read()  # what other tests left there
        assert produce_bundle(tmp_path, kafka.bootstrap, day) == counts
        whole = sent()
        monkeypatch.setattr(kafka_io, "FEED_IN_MEMORY_BYTES", 0)
        monkeypatch.setattr(event_chunks, "CHUNK_ROWS", 37)
        assert produce_bundle(tmp_path, kafka.bootstrap, day) == counts
        assert sent() == whole
        chunked_counts = produce_bundle(tmp_path, kafka.bootstrap, day, (1, 3))
        chunked_part = sent()
        monkeypatch.setattr(kafka_io, "FEED_IN_MEMORY_BYTES", 1 << 40)
        assert produce_bundle(tmp_path, kafka.bootstrap, day, (1, 3)) == chunked_counts
        assert sent() == chunked_part
    finally:
        reader.close()
    assert sum(len(v) for v in whole.values()) == sum(counts.values())
    assert sum(chunked_counts.values()) == -(-sum(counts.values()) // 3)


@pytest.mark.slow
def test_readers_stop_at_the_last_stable_offset(kafka) -> None:  # type: ignore[no-untyped-def]
    import time
    import uuid

    from confluent_kafka import Producer, TopicPartition

    from jobs.kafka_io import (
        TopicReader,
        create_topics,
        end_offsets,
        group_offsets,
        new_consumer,
        read_values,
    )

    topic = f"reader-test-{uuid.uuid4().hex[:8]}"
    assert create_topics(kafka.bootstrap, {topic: 1}) == [topic]
    assert create_topics(kafka.bootstrap, {topic: 1}) == []
    writer = Producer({"bootstrap.servers": kafka.bootstrap, "transactional.id": topic})
    writer.init_transactions(30)
    writer.begin_transaction()
    for n in range(3):
        writer.produce(topic, f"committed {n}".encode())
    writer.commit_transaction(30)
    writer.begin_transaction()
    writer.produce(topic, b"open")
    writer.flush(30)
    try:
        assert end_offsets(kafka.bootstrap, [topic]) == {topic: {0: 4}}  # 3 records + the marker
        assert end_offsets(kafka.bootstrap, [topic], read_committed=False) == {topic: {0: 5}}
        reader = TopicReader(kafka.bootstrap, [topic])
        assert [m.value() for m in reader.read(idle_s=5)] == [
            b"committed 0",
            b"committed 1",
            b"committed 2",
        ]
        assert reader.behind() == []
        writer.commit_transaction(30)
        deadline = time.monotonic() + 10  # the commit marker is written just after the commit
        while end_offsets(kafka.bootstrap, [topic])[topic][0] < 6 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [m.value() for m in reader.read(idle_s=5)] == [b"open"]
        reader.close()
        assert read_values(kafka.bootstrap, topic)[-1] == b"open"
    finally:
        writer.flush(5)

    group = f"group-{topic}"
    assert group_offsets(kafka.bootstrap, group) == {}
    consumer = new_consumer(kafka.bootstrap, group)
    consumer.commit(offsets=[TopicPartition(topic, 0, 2)], asynchronous=False)
    consumer.close()
    assert group_offsets(kafka.bootstrap, group) == {(topic, 0): 2}
