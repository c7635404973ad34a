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

from dayclear.config import OPS_THRESHOLDS, deploy_file, state_layout
from edge.durable import replace_file
from jobs.kafka_io import beginning_offsets, end_offsets, group_offsets, producer, read_values
from schemas.registry import ALERTS_TOPIC, DEAD_LETTER_TOPIC, EVENT_TOPICS

THRESHOLDS = deploy_file(OPS_THRESHOLDS)


def load_thresholds(path: Path | None = None) -> dict[str, Any]:
    return dict(json.loads((path or THRESHOLDS).read_text()))


def read_health(
    bootstrap: str, group: str, checkpoints: Path | None = None, now: float | None = None
) -> dict[str, Any]:

    now = time.time() if now is None else now
    read = (*EVENT_TOPICS, DEAD_LETTER_TOPIC)
    committed = group_offsets(bootstrap, group)
    ends = end_offsets(bootstrap, read, read_committed=False)  # the high watermarks
    starts = beginning_offsets(bootstrap, read)
    topics: dict[str, Any] = {}
    for topic in read:
        parts = sorted(ends[topic])
        consumed = any((topic, p) in committed for p in parts)
        # None: the group does not read this topic (no committed offsets), so no lag to speak of
        lag = (
            sum(ends[topic][p] - committed.get((topic, p), starts[topic][p]) for p in parts)
            if consumed
            else None
        )
        topics[topic] = {
            "records": sum(ends[topic][p] - starts[topic][p] for p in parts),
            "end_offset_total": sum(ends[topic].values()),
            "consumer_lag": lag,
        }
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
    log = state_layout().ops / "alerts.jsonl"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as f:
        for alert in alerts:
            f.write(json.dumps(alert, sort_keys=True) + "\n")
    if alerts and bootstrap:
        sender = producer(bootstrap)
        for alert in alerts:
            sender.send(ALERTS_TOPIC, key=alert["kind"], value=json.dumps(alert, sort_keys=True))
        sender.close()
    return log


def committed_alerts(bootstrap: str, idle_ms: int = 3000) -> list[dict[str, Any]]:
    """Every alert on the ``alerts`` topic a read_committed reader sees, oldest first (records that
    are not JSON objects are skipped); ``idle_ms``: how long to wait for the rest when it stalls."""

    found = []
    for value in read_values(bootstrap, ALERTS_TOPIC, idle_s=idle_ms / 1000):
        try:
            alert = json.loads(value)
        except ValueError:
            continue
        if isinstance(alert, dict):
            found.append(alert)
    return found


def collect_stream_alerts(bootstrap: str) -> Path:
    """The jobs' alerts (surveillance, risk) from the ``alerts`` topic, read_committed, into
    ``ops/stream_alerts.jsonl`` (rewritten whole) where the portal reads them beside the ops alerts."""
    found = [a for a in committed_alerts(bootstrap) if a.get("source") != "ops_control"]
    target = state_layout().ops / "stream_alerts.jsonl"
    replace_file(target, "".join(json.dumps(a, sort_keys=True) + "\n" for a in found).encode())
    return target


def _reading_file() -> Path:
    return state_layout().ops / "last_reading.json"


def _previous_reading() -> dict[str, Any] | None:
    path = _reading_file()
    return dict(json.loads(path.read_text())) if path.exists() else None


def _remember(reading: dict[str, Any]) -> None:
    path = _reading_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(reading))
