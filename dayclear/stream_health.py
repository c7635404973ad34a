"""Stream health for the ops-control prong and the portal: lag, dead letters, events/s, checkpoint age.

Readings come from Kafka itself (end offsets, the pre-aggregation consumer group's committed offsets,
the dead-letter topic) and from the job's checkpoint folder. :func:`evaluate` turns a reading and the
configured thresholds into alert records (pure); :func:`publish_alerts` sends them to the ``alerts``
topic and appends them to ``$DAYCLEAR_STATE/ops/alerts.jsonl``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from schemas.registry import ALERTS_TOPIC, DEAD_LETTER_TOPIC, EVENT_TOPICS
from settlement.durable import replace_file

from .paths import ROOT, state_dir

THRESHOLDS = ROOT / "deploy" / "ops_thresholds.json"


def load_thresholds(path: Path | None = None) -> dict[str, Any]:
    return dict(json.loads((path or THRESHOLDS).read_text()))


def read_health(
    bootstrap: str, group: str, checkpoints: Path | None = None, now: float | None = None
) -> dict[str, Any]:
    from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

    now = time.time() if now is None else now
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        committed = committed_offsets(admin, group)
        topics: dict[str, Any] = {}
        for topic in (*EVENT_TOPICS, DEAD_LETTER_TOPIC):
            parts = [
                TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])
            ]
            ends, starts = consumer.end_offsets(parts), consumer.beginning_offsets(parts)
            consumed = any((topic, tp.partition) in committed for tp in parts)
            # None: the group does not read this topic (no committed offsets), so no lag to speak of
            lag = (
                sum(ends[tp] - committed.get((topic, tp.partition), starts[tp]) for tp in parts)
                if consumed
                else None
            )
            topics[topic] = {
                "records": sum(ends[tp] - starts[tp] for tp in parts),
                "end_offset_total": sum(ends.values()),
                "consumer_lag": lag,
            }
    finally:
        consumer.close()
        admin.close()
    previous = _previous_reading()
    events = sum(topics[t]["end_offset_total"] for t in EVENT_TOPICS)
    rate = None
    if previous and now > previous["at"]:
        rate = round((events - previous["events"]) / (now - previous["at"]), 1)
    _remember({"at": now, "events": events})
    age = None
    if checkpoints and checkpoints.exists():
        stamps = [p.stat().st_mtime for p in checkpoints.rglob("chk-*")]
        age = round(now - max(stamps), 1) if stamps else None
    return {
        "at": now,
        "group": group,
        "topics": topics,
        "dead_letters": topics[DEAD_LETTER_TOPIC]["records"],
        "events_per_second": rate,
        "checkpoint_age_seconds": age,
    }


def committed_offsets(admin: Any, group: str, attempts: int = 3) -> dict[tuple[str, int], int]:
    """The group's committed offsets; none while the group has never committed (a fresh broker has
    no offsets topic yet and answers CoordinatorNotAvailable for a while)."""
    from kafka.errors import CoordinatorNotAvailableError

    for attempt in range(attempts):
        try:
            offsets = admin.list_group_offsets(group).get(group, {})
        except CoordinatorNotAvailableError:
            time.sleep(1 + attempt)
            continue
        return {(tp.topic, tp.partition): m.offset for tp, m in offsets.items() if m.offset >= 0}
    return {}


def evaluate(health: dict[str, Any], thresholds: dict[str, Any]) -> list[dict[str, Any]]:
    """Alert records for every threshold the reading crosses (pure)."""
    alerts = []
    for topic in EVENT_TOPICS:
        lag = health["topics"][topic]["consumer_lag"]
        if lag is not None and lag > thresholds["max_consumer_lag"]:
            alerts.append(
                {
                    "kind": "CONSUMER_LAG",
                    "topic": topic,
                    "value": lag,
                    "threshold": thresholds["max_consumer_lag"],
                }
            )
    if health["dead_letters"] > thresholds["max_dead_letters"]:
        alerts.append(
            {
                "kind": "DEAD_LETTERS",
                "topic": DEAD_LETTER_TOPIC,
                "value": health["dead_letters"],
                "threshold": thresholds["max_dead_letters"],
            }
        )
    age = health.get("checkpoint_age_seconds")
    if age is not None and age > thresholds["max_checkpoint_age_seconds"]:
        alerts.append(
            {
                "kind": "CHECKPOINT_AGE",
                "topic": None,
                "value": age,
                "threshold": thresholds["max_checkpoint_age_seconds"],
            }
        )
    return [{**a, "at": health["at"], "source": "ops_control"} for a in alerts]


def publish_alerts(alerts: list[dict[str, Any]], bootstrap: str | None) -> Path:
    log = state_dir() / "ops" / "alerts.jsonl"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as f:
        for alert in alerts:
            f.write(json.dumps(alert, sort_keys=True) + "\n")
    if alerts and bootstrap:
        from kafka import KafkaProducer

        producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
        try:
            for alert in alerts:
                producer.send(
                    "alerts",
                    key=alert["kind"].encode(),
                    value=json.dumps(alert, sort_keys=True).encode(),
                )
            producer.flush()
        finally:
            producer.close()
    return log


def committed_alerts(bootstrap: str, idle_ms: int = 3000) -> list[dict[str, Any]]:
    """Every alert on the ``alerts`` topic a read_committed reader sees, oldest first (records that
    are not JSON objects are skipped)."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        ALERTS_TOPIC,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        enable_auto_commit=False,
        consumer_timeout_ms=idle_ms,
    )
    found = []
    try:
        for message in consumer:
            try:
                alert = json.loads(message.value)
            except (TypeError, ValueError):
                continue
            if isinstance(alert, dict):
                found.append(alert)
    finally:
        consumer.close()
    return found


def collect_stream_alerts(bootstrap: str) -> Path:
    """The jobs' alerts (surveillance, risk) from the ``alerts`` topic, read_committed, into
    ``ops/stream_alerts.jsonl`` (rewritten whole) where the portal reads them beside the ops alerts."""
    found = [a for a in committed_alerts(bootstrap) if a.get("source") != "ops_control"]
    target = state_dir() / "ops" / "stream_alerts.jsonl"
    replace_file(target, "".join(json.dumps(a, sort_keys=True) + "\n" for a in found).encode())
    return target


def _reading_file() -> Path:
    return state_dir() / "ops" / "last_reading.json"


def _previous_reading() -> dict[str, Any] | None:
    path = _reading_file()
    return dict(json.loads(path.read_text())) if path.exists() else None


def _remember(reading: dict[str, Any]) -> None:
    path = _reading_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(reading))
