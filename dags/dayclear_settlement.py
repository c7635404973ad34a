"""dayclear_settlement: the day's end-of-day settlement from the frozen pre-aggregates.

check inputs -> freeze the snapshot at the close, stream first: the day's running streaming job
(``dayclear session open``) is frozen at the end offsets and its topics folded, and when the stream
is unavailable (no session, job dead, offsets not reached within ``stream_timeout`` seconds, proof
not complete) the bounded batch Flink job runs instead, logging why (driver/stream_close.py) ->
settle (pure EOD) and publish atomically, recording which path settled the day and why
(``settled_by`` in the manifest's lineage and the status) -> mark the day's status and emit the
published-day Asset for the audit and smoke DAGs.
A data problem (bad input, a break) fails at once with the list of problems; only infrastructure
errors are retried, with exponential backoff. Paths come from the run's conf (``bundle``,
``snapshot``, ``out``) or default under $DAYCLEAR_STATE; the broker from ``bootstrap`` or
$DAYCLEAR_KAFKA_BOOTSTRAP (a scheduled run has no conf). The first trading day is 2026-11-02 unless
$DAYCLEAR_SETTLEMENT_START / _END set a window (orchestration.dag_support.settlement_window).
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from pathlib import Path

from airflow.exceptions import AirflowFailException
from airflow.sdk import dag, get_current_context, task

from orchestration.dag_support import PUBLISHED, run_paths, settlement_window
from orchestration.trading_calendar import TradingDayTimetable
from publication.status import mark

# The tasks import the settlement code inside their bodies on purpose: Airflow parses this file
# every few seconds, and its top-level code must stay light (Airflow's best practices, "Top level
# Python code"); polars, Flink and Kafka are imported only when a task runs.
log = logging.getLogger(__name__)

#: A snapshot frozen before this run without a record of how: only the bounded close did that.
UNRECORDED = {"path": "batch", "reason": "snapshot frozen before this run by the bounded close"}


def _run_paths() -> tuple[date, Path, Path, Path]:
    paths = run_paths(get_current_context())
    return paths.day, paths.bundle, paths.snapshot, paths.out


@dag(
    dag_id="dayclear_settlement",
    schedule=TradingDayTimetable(),
    start_date=settlement_window()[0],
    end_date=settlement_window()[1],
    catchup=True,  # missed days are settled in order: D+1 opens from D's closing state
    max_active_runs=1,
    tags=["dayclear", "settlement"],
    default_args={
        "retries": 2,
        "retry_delay": timedelta(seconds=30),
        "retry_exponential_backoff": True,
        "depends_on_past": True,
    },
    doc_md=__doc__,
)
def dayclear_settlement() -> None:
    @task
    def check_inputs() -> dict[str, str]:
        from edge.bundle import load_inputs
        from publication.publish import write_breaks_report
        from settlement.errors import DayclearError

        day, bundle, _, out = _run_paths()
        try:
            inputs = load_inputs(bundle, day)
        except DayclearError as exc:  # every problem of the reference and opening files at once
            report = write_breaks_report(out, day.isoformat(), exc.kind, exc.problems)
            raise AirflowFailException(f"bad input for {day} ({report}): {exc}") from exc
        return {"day": day.isoformat(), "accounts": str(inputs.reference.accounts.height)}

    @task
    def freeze_snapshot() -> dict[str, object]:
        """At the close: freeze the pre-aggregates from the stream, else with the bounded batch job
        (unless a snapshot of D is frozen already), then require its completeness proof."""
        from driver.close import COMPLETENESS, ProofRefused, confirmed_proof

        context = get_current_context()
        paths = run_paths(context)
        day, snapshot = paths.day, paths.snapshot
        if not (snapshot / COMPLETENESS).exists() and paths.bootstrap:
            from driver.stream_close import DEFAULT_TIMEOUT_S, close_stream_first

            conf = context["dag_run"].conf or {}
            timeout = float(conf.get("stream_timeout", DEFAULT_TIMEOUT_S))
            close_stream_first(day, paths.bundle, paths.bootstrap, snapshot, timeout)
        try:
            record = confirmed_proof(snapshot, day)
        except ProofRefused as exc:
            raise AirflowFailException(str(exc)) from exc
        settled_by = record.get("frozen_by") or UNRECORDED
        log.info("%s frozen by the %s path: %s", day, settled_by["path"], settled_by["reason"])
        return {
            "trading_day": record["trading_day"],
            "end_offsets": record["end_offsets"],
            "settled_by": settled_by,
        }

    @task(outlets=[PUBLISHED])
    def settle_and_publish(proof: dict[str, object]) -> dict[str, object]:
        from driver.pipeline import lineage, publish_result, settle_snapshot, summary
        from edge.bundle import load_inputs
        from settlement.errors import BreaksError

        day, bundle, snapshot, out = _run_paths()
        inputs = load_inputs(bundle, day)
        try:
            rendered = settle_snapshot(bundle, day, snapshot, inputs)
        except BreaksError as exc:
            from publication.publish import write_breaks_report

            report = write_breaks_report(out, day.isoformat(), exc.kind, exc.problems)
            raise AirflowFailException(f"{day} cannot be settled ({report}): {exc}") from exc
        settled = lineage(bundle, proof["settled_by"], end_offsets=proof["end_offsets"])
        publication = publish_result(rendered, snapshot, out, settled)
        log.info("%s", summary(publication))
        mark(
            out,
            day.isoformat(),
            stream_complete=True,
            settled_version=publication.version,
            settled_folder=str(publication.folder),
            settled_by=proof["settled_by"],
        )
        get_current_context()["outlet_events"][PUBLISHED].extra = {
            "day": day.isoformat(),
            "version": publication.version,
            "bundle": str(bundle),
            "out": str(out),
        }
        return {
            "folder": str(publication.folder),
            "version": publication.version,
            "unchanged": publication.unchanged,
        }

    check_inputs() >> settle_and_publish(freeze_snapshot())  # type: ignore[arg-type]  # Airflow: an XComArg between @task calls, its value at run time


dayclear_settlement()
