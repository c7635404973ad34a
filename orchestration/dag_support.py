"""What every dayclear DAG resolves the same way: the trading day of the run and its paths.

The day is the run conf's ``day`` when given, else the start of the run's data interval in exchange
time (the trading-day timetable makes that D 00:00 Asia/Shanghai). Paths default under $DAYCLEAR_STATE;
the broker of a run without ``bootstrap`` in its conf (a scheduled run) is $DAYCLEAR_KAFKA_BOOTSTRAP.

The settlement DAG's first and last trading day (its catch-up window) are 2026-11-02 and open-ended,
unless $DAYCLEAR_SETTLEMENT_START and $DAYCLEAR_SETTLEMENT_END (ISO dates) say otherwise: the
scheduler test puts a stretch of the calendar in the past that way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pendulum

from audit.run import audit_day
from dayclear import logs
from dayclear.config import KAFKA_BOOTSTRAP, SETTLEMENT_END, SETTLEMENT_START, state_layout
from edge.bundle import load_reference
from orchestration.trading_calendar import EXCHANGE_TZ
from publication.status import mark
from smoke_tests.checks import publication_problems

if TYPE_CHECKING:
    from audit.reconcile import Reconciliation


def _published_asset() -> Any:
    # Airflow is imported here, not at the top: importing it takes seconds, and the CLI and the tests
    # import this module without needing Airflow.
    from airflow.sdk import Asset

    return Asset(name="dayclear_published_day", uri="file:///dayclear/published")


#: Emitted by the settlement DAG when a version is published; the audit and smoke DAGs consume it.
PUBLISHED = _published_asset()

logs.install()  # the DAG files import this module: their records name the day and version


def _exchange_midnight(day: date) -> pendulum.DateTime:
    return pendulum.datetime(day.year, day.month, day.day, tz=EXCHANGE_TZ)


def settlement_window() -> tuple[pendulum.DateTime, pendulum.DateTime | None]:
    """(start_date, end_date) of the settlement DAG: its first trading day and, when set, its last
    ($DAYCLEAR_SETTLEMENT_START, $DAYCLEAR_SETTLEMENT_END; production: 2026-11-02, open-ended)."""
    start = str(SETTLEMENT_START.get())
    end = SETTLEMENT_END.get()
    return (
        _exchange_midnight(date.fromisoformat(start)),
        _exchange_midnight(date.fromisoformat(end)) if end else None,
    )


@dataclass(frozen=True)
class RunPaths:
    day: date
    bundle: Path
    snapshot: Path
    out: Path
    bootstrap: str | None


def run_paths(context: Any) -> RunPaths:
    run = context.get("dag_run")
    conf = dict(run.conf or {}) if run is not None else {}
    if "day" not in conf:  # a run triggered by the PUBLISHED asset carries the day in the event
        for events in (context.get("triggering_asset_events") or {}).values():
            for event in events:
                conf = {**(event.extra or {}), **conf}
    if "day" in conf:
        day = date.fromisoformat(conf["day"])
    else:
        start = context.get("data_interval_start") or context["logical_date"]
        day = start.in_timezone(EXCHANGE_TZ).date()
    logs.set_day(day)  # every later record of the task names the day (dayclear/logs.py)
    state = state_layout()
    return RunPaths(
        day=day,
        bundle=Path(conf.get("bundle", state.bundle(day))),
        snapshot=Path(conf.get("snapshot", state.snapshot(day))),
        out=Path(conf.get("out", state.published)),
        # a scheduled run has no conf: the cluster's brokers (dayclear cluster, docker-compose.yml)
        bootstrap=conf.get("bootstrap") or KAFKA_BOOTSTRAP.get(),
    )


def audit_latest(paths: RunPaths) -> tuple[Reconciliation, Path]:
    """Audit the day's latest version and record the result in the day's status."""

    report, html_path = audit_day(paths.bundle, paths.day, paths.out)
    audit = {
        "version": report["version"],
        "passed": report["passed"],
        "report": str(html_path),
        "summary": report["summary"],
    }
    mark(paths.out, paths.day.isoformat(), audit=audit)
    return report, html_path


def smoke_latest(paths: RunPaths) -> list[str]:
    """Post-publication smoke checks of the day's latest version, recorded in the day's status."""

    members = load_reference(paths.bundle, paths.day).members["member_id"].to_list()
    problems = publication_problems(paths.out, paths.day, members)
    latest = paths.out / paths.day.isoformat() / "LATEST"
    if latest.exists():
        version = int(latest.read_text().strip().removeprefix("v"))
        mark(
            paths.out,
            paths.day.isoformat(),
            smoke={"version": version, "passed": not problems, "problems": problems},
        )
    return problems
