"""dayclear_audit: the data-audit prong for a published day.

recompute (DuckDB SQL over the raw events, independent of the stream path) -> reconcile the published
version against it row by row and to the cent, check the invariants of SETTLEMENT_RULES §12 and run
the Great Expectations suites over the inputs and the published files ->
write the reconciliation report (HTML for staff, JSON) beside the version -> fail the run when anything
breaks, so that the day is not marked final. Runs after settlement (triggered with the same conf).
"""

from __future__ import annotations

import logging

import pendulum
from airflow.exceptions import AirflowFailException
from airflow.sdk import dag, get_current_context, task

from orchestration.dag_support import PUBLISHED, audit_latest, run_paths
from orchestration.trading_calendar import EXCHANGE_TZ

log = logging.getLogger(__name__)


@dag(
    dag_id="dayclear_audit",
    schedule=[PUBLISHED],
    start_date=pendulum.datetime(2026, 11, 2, tz=EXCHANGE_TZ),
    catchup=False,
    tags=["dayclear", "audit"],
    doc_md=__doc__,
)
def dayclear_audit() -> None:
    @task
    def reconcile_day() -> dict[str, object]:
        paths = run_paths(get_current_context())
        if not (paths.out / paths.day.isoformat() / "LATEST").exists():
            raise AirflowFailException(f"{paths.day} has not been published under {paths.out}")
        report, html_path = audit_latest(paths)
        log.info("reconciliation report: %s", html_path)
        if not report["passed"]:
            raise AirflowFailException(
                f"audit of {paths.day} v{report['version']} found breaks: {report['summary']}; see {html_path}"
            )
        return {"report": str(html_path), "passed": True}

    reconcile_day()


dayclear_audit()
