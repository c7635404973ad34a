"""The embedded broker: a taken port is a clear error; topics follow schemas/ (real broker)."""

from __future__ import annotations

import socket

import pytest

from dayclear import kafka_broker


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
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(bootstrap_servers=kafka.bootstrap)
    try:
        for topic, partitions in kafka_broker.topic_partitions().items():
            assert len(consumer.partitions_for_topic(topic) or ()) == partitions, topic
        assert {"orders", "trades", "fund_movements", "dead_letters", "alerts"} <= consumer.topics()
    finally:
        consumer.close()
    assert kafka_broker.status() is not None
