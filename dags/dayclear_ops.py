"""dayclear_ops: the ops-control prong.

Every five minutes during the session: read the stream's health (consumer lag per topic, dead letters,
events/s, checkpoint age), write it where the portal reads it (``$DAYCLEAR_STATE/ops/health.json``, and the day's history in
``ops/health-<D>.jsonl``),
and raise an alert record (``alerts`` topic + ``ops/alerts.jsonl``) for every threshold of
``deploy/ops_thresholds.json`` it crosses. After the close (conf ``phase: close``): confirm that the
day's snapshot carries a complete completeness proof.
"""

from __future__ import annotations

import json
import logging

import pendulum
from airflow.exceptions import AirflowFailException, AirflowSkipException
from airflow.sdk import dag, get_current_context, task

from dayclear import logs
from orchestration.dag_support import run_paths
from orchestration.trading_calendar import EXCHANGE_TZ

# The tasks import the settlement code inside their bodies on purpose: Airflow parses this file
# every few seconds, and its top-level code must stay light (Airflow's best practices, "Top level
# Python code"); polars, Flink and Kafka are imported only when a task runs.
log = logging.getLogger(__name__)


@dag(
    dag_id="dayclear_ops",
    schedule="*/5 9-15 * * 1-5",
    start_date=pendulum.datetime(2026, 11, 2, tz=EXCHANGE_TZ),
    catchup=False,
    max_active_runs=1,
    tags=["dayclear", "ops"],
    doc_md=__doc__,
)
def dayclear_ops() -> None:
    @task
    def stream_health() -> dict[str, object]:
        from dayclear.config import kafka_bootstrap, state_layout
        from edge.durable import replace_file
        from edge.formats import json_bytes
        from jobs.stream_health import (
            collect_stream_alerts,
            evaluate,
            load_thresholds,
            publish_alerts,
            read_health,
        )

        context = get_current_context()
        conf = context["dag_run"].conf or {}
        bootstrap = conf.get("bootstrap") or kafka_bootstrap()
        thresholds = {**load_thresholds(), **conf.get("thresholds", {})}
        state = state_layout()
        health = read_health(bootstrap, thresholds["consumer_group"], state.checkpoints)
        replace_file(state.ops / "health.json", json_bytes(health))  # the portal reads it
        day = (
            conf.get("day")
            or pendulum.from_timestamp(health["at"], tz=EXCHANGE_TZ).date().isoformat()
        )
        logs.set_day(day)
        with (state.ops / f"health-{day}.jsonl").open("a") as history:
            history.write(json.dumps(health, sort_keys=True) + "\n")  # the portal's chart
        alerts = evaluate(health, thresholds)
        alert_log = publish_alerts(alerts, bootstrap)
        collect_stream_alerts(bootstrap)
        log.info(
            "stream health: %s; %d alert(s) -> %s",
            json.dumps(health, sort_keys=True),
            len(alerts),
            alert_log,
        )
        return {"alerts": len(alerts)}

    @task
    def completeness_after_close() -> None:
        from driver.close import ProofRefused, confirmed_proof

        context = get_current_context()
        if (context["dag_run"].conf or {}).get("phase") != "close":
            raise AirflowSkipException("the completeness proof is checked after the close")
        paths = run_paths(context)
        try:
            record = confirmed_proof(paths.snapshot, paths.day)
        except ProofRefused as exc:
            raise AirflowFailException(str(exc)) from exc
        log.info("completeness of %s confirmed: %s", paths.day, json.dumps(record["end_offsets"]))

    stream_health() >> completeness_after_close()


dayclear_ops()
