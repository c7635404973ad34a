"""dayclear_audit: the data-audit prong for a published day.

recompute (DuckDB SQL over the raw events, independent of the stream path) -> reconcile the published
version against it row by row and to the cent, and check the invariants of SETTLEMENT_RULES §12 ->
write the reconciliation report (HTML for staff, JSON) beside the version -> fail the run when anything
breaks, so that the day is not marked final. Runs after settlement (triggered with the same conf).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pendulum
from airflow.exceptions import AirflowFailException
from airflow.sdk import dag, get_current_context, task

from dayclear.dag_support import run_paths
from dayclear.trading_calendar import EXCHANGE_TZ


def _paths() -> tuple[date, Path, Path]:
    paths = run_paths(get_current_context())
    return paths.day, paths.bundle, paths.out


@dag(
    dag_id="dayclear_audit",
    schedule=None,
    start_date=pendulum.datetime(2026, 11, 2, tz=EXCHANGE_TZ),
    catchup=False,
    tags=["dayclear", "audit"],
    doc_md=__doc__,
)
def dayclear_audit() -> None:
    @task
    def reconcile_day() -> dict[str, object]:
        from audit.recompute import recompute
        from audit.reconcile import reconcile, write_report

        day, bundle, out = _paths()
        day_dir = out / day.isoformat()
        if not (day_dir / "LATEST").exists():
            raise AirflowFailException(f"{day} has not been published under {out}")
        version = (day_dir / "LATEST").read_text().strip()
        target = day_dir / "audit" / version
        target.mkdir(parents=True, exist_ok=True)
        con = recompute(bundle, day, target / "recompute.duckdb")
        report = reconcile(con, day_dir / version)
        json_path, html_path = write_report(report, target)
        print(f"reconciliation report: {html_path} ({json_path})")
        if not report["passed"]:
            raise AirflowFailException(
                f"audit of {day} {version} found breaks: {report['summary']}; see {html_path}"
            )
        return {"report": str(html_path), "passed": True}

    reconcile_day()


dayclear_audit()
