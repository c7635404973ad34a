"""dayclear_audit: the data-audit prong for a published day.

recompute (DuckDB SQL over the raw events, independent of the stream path) -> reconcile the published
version against it row by row and to the cent, check the invariants of SETTLEMENT_RULES §12 and run
the Great Expectations suites over the inputs and the published files ->
write the reconciliation report (HTML for staff, JSON) beside the version -> fail the run when anything
breaks, so that the day is not marked final. Runs after settlement (triggered with the same conf).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pendulum
from airflow.exceptions import AirflowFailException
from airflow.sdk import dag, get_current_context, task

from dayclear.dag_support import PUBLISHED, run_paths
from dayclear.status import mark
from dayclear.trading_calendar import EXCHANGE_TZ


def _paths() -> tuple[date, Path, Path]:
    paths = run_paths(get_current_context())
    return paths.day, paths.bundle, paths.out


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
        from audit.run import audit_day

        day, bundle, out = _paths()
        if not (out / day.isoformat() / "LATEST").exists():
            raise AirflowFailException(f"{day} has not been published under {out}")
        report, html_path = audit_day(bundle, day, out)
        print(f"reconciliation report: {html_path}")
        mark(
            out,
            day.isoformat(),
            audit={
                "version": report["version"],
                "passed": report["passed"],
                "report": str(html_path),
                "summary": report["summary"],
            },
        )
        if not report["passed"]:
            raise AirflowFailException(
                f"audit of {day} v{report['version']} found breaks: {report['summary']}; see {html_path}"
            )
        return {"report": str(html_path), "passed": True}

    reconcile_day()


dayclear_audit()
