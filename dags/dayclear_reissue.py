"""dayclear_reissue: re-issue a settled day after a correction.

conf: ``day``, ``bundle`` (the corrected day bundle: events and/or reference data), ``out`` and a
required ``reason``. Re-runs the production path (Flink pre-aggregation over the corrected events, the
end of day) and publishes the next version beside the previous one with ``changes.json``, the reason in
the manifest's lineage and in the day's status (``settled_by``: the batch path, "re-issue": a
correction never comes from the stream); then audits the new version and smoke-tests what was
published. The new version becomes final only if both pass.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import pendulum
from airflow.exceptions import AirflowFailException
from airflow.sdk import dag, get_current_context, task

from orchestration.dag_support import PUBLISHED, audit_latest, run_paths, smoke_latest
from orchestration.trading_calendar import EXCHANGE_TZ
from publication.status import mark, read_status

# The tasks import the settlement code inside their bodies on purpose: Airflow parses this file
# every few seconds, and its top-level code must stay light (Airflow's best practices, "Top level
# Python code"); polars, Flink and Kafka are imported only when a task runs.
log = logging.getLogger(__name__)


@dag(
    dag_id="dayclear_reissue",
    schedule=None,
    start_date=pendulum.datetime(2026, 11, 2, tz=EXCHANGE_TZ),
    catchup=False,
    max_active_runs=1,
    tags=["dayclear", "settlement", "reissue"],
    doc_md=__doc__,
)
def dayclear_reissue() -> None:
    @task(outlets=[PUBLISHED])
    def republish() -> int:
        from driver.pipeline import replay
        from settlement.errors import DayclearError

        context = get_current_context()
        reason = (context["dag_run"].conf or {}).get("reason", "").strip()
        if not reason:
            raise AirflowFailException("a re-issue needs a reason (conf 'reason')")
        paths = run_paths(context)
        with tempfile.TemporaryDirectory(prefix="dayclear-reissue-") as work:
            try:
                publication = replay(
                    paths.bundle,
                    paths.day,
                    paths.out,
                    Path(work),
                    reason=reason,
                    settled_by="re-issue",
                )
            except DayclearError as exc:
                raise AirflowFailException(
                    f"the correction of {paths.day} cannot be settled: {exc}"
                ) from exc
        if publication.unchanged:
            raise AirflowFailException(
                f"the correction changes nothing: {paths.day} stays at v{publication.version}"
            )
        day = paths.day.isoformat()
        history = [
            *read_status(paths.out, day).get("reissues", []),
            {"version": publication.version, "reason": reason},
        ]
        mark(
            paths.out,
            day,
            settled_version=publication.version,
            settled_folder=str(publication.folder),
            settled_by={"path": "batch", "reason": "re-issue"},
            reissues=history,
        )
        context["outlet_events"][PUBLISHED].extra = {
            "day": day,
            "version": publication.version,
            "bundle": str(paths.bundle),
            "out": str(paths.out),
        }
        log.info("re-issued %s as v%s: %s", day, publication.version, reason)
        return publication.version

    @task
    def audit(version: int) -> None:
        report, html_path = audit_latest(run_paths(get_current_context()))
        if not report["passed"]:
            raise AirflowFailException(
                f"audit of the re-issued v{version} found breaks; see {html_path}"
            )

    @task
    def smoke(version: int) -> None:
        problems = smoke_latest(run_paths(get_current_context()))
        if problems:
            raise AirflowFailException(f"re-issued v{version}: " + "; ".join(problems))

    version = republish()
    audit(version) >> smoke(version)  # type: ignore[arg-type]  # Airflow: an XComArg between @task calls, its value at run time


dayclear_reissue()
