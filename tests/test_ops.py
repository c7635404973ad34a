"""Ops control: thresholds turn readings into alerts (pure), and the DAG raises them on the real broker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jobs.stream_health import evaluate

THRESHOLDS = {"max_consumer_lag": 100, "max_dead_letters": 0, "max_checkpoint_age_seconds": 60}


def _reading(lag: int = 0, dead: int = 0, age: float | None = None) -> dict[str, object]:
    topics = {
        t: {"consumer_lag": lag if t == "trades" else 0}
        for t in ("orders", "trades", "fund_movements")
    }
    return {"at": 1.0, "topics": topics, "dead_letters": dead, "checkpoint_age_seconds": age}


def test_quiet_stream_raises_nothing() -> None:
    assert evaluate(_reading(lag=100, dead=0, age=60), THRESHOLDS) == []


def test_each_crossed_threshold_is_one_alert() -> None:
    alerts = evaluate(_reading(lag=101, dead=2, age=61.5), THRESHOLDS)
    assert [(a["kind"], a["topic"], a["value"]) for a in alerts] == [
        ("CONSUMER_LAG", "trades", 101),
        ("DEAD_LETTERS", "dead_letters", 2),
        ("CHECKPOINT_AGE", None, 61.5),
    ]


@pytest.mark.slow
def test_ops_dag_raises_an_alert_for_dead_letters(kafka, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from devtools.demo import prepare_airflow, run_airflow
    from jobs.kafka_io import producer, read_values

    sender = producer(kafka.bootstrap)
    sender.send("dead_letters", {"source_topic": "trades", "reason": "malformed"})
    sender.close()
    prepare_airflow(tmp_path / "ops.log")
    conf = json.dumps({"bootstrap": kafka.bootstrap, "thresholds": {"max_dead_letters": 0}})
    run_airflow("dags", "test", "dayclear_ops", "2026-11-23", "-c", conf, log=tmp_path / "ops.log")
    alerts = [json.loads(v) for v in read_values(kafka.bootstrap, "alerts")]
    assert any(a["kind"] == "DEAD_LETTERS" and a["value"] >= 1 for a in alerts)
    from dayclear.config import state_dir

    health = json.loads((state_dir() / "ops" / "health.json").read_text())
    assert health["dead_letters"] >= 1 and set(health["topics"]) >= {
        "orders",
        "trades",
        "fund_movements",
    }
