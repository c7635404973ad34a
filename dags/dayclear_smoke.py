"""dayclear_smoke: the smoke-test prong.

Before settlement: the day's reference data and opening state are present and consistent, the broker
answers and the Flink job can start, and the known-answer scenarios give their hand-checked results
through the production path. After publication: LATEST, every member folder, checksums and control
totals. Each failure names the file, member or service.

The known-answer scenarios check the code, not the day: each runs the Flink pre-aggregation (a
minute on a busy machine). ``DAYCLEAR_SMOKE_KNOWN_ANSWERS=off`` in the scheduler's environment
leaves them to the tests (tests/test_stream_day.py runs them through this DAG); the scheduler test
sets it to keep CI's budget. Unset in production.
"""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

import pendulum
from airflow.exceptions import AirflowFailException
from airflow.sdk import dag, get_current_context, task

from dayclear.config import SMOKE_KNOWN_ANSWERS
from orchestration.dag_support import PUBLISHED, run_paths, smoke_latest
from orchestration.trading_calendar import EXCHANGE_TZ

# The tasks import the settlement code inside their bodies on purpose: Airflow parses this file
# every few seconds, and its top-level code must stay light (Airflow's best practices, "Top level
# Python code"); polars, Flink and Kafka are imported only when a task runs.
log = logging.getLogger(__name__)


def _conf() -> tuple[date, Path, Path, str | None]:
    paths = run_paths(get_current_context())
    return paths.day, paths.bundle, paths.out, paths.bootstrap


def _fail_on(problems: list[str], what: str) -> None:
    if problems:
        raise AirflowFailException(f"{what}: " + "; ".join(problems))


@dag(
    dag_id="dayclear_smoke",
    schedule=[PUBLISHED],
    start_date=pendulum.datetime(2026, 11, 2, tz=EXCHANGE_TZ),
    catchup=False,
    tags=["dayclear", "smoke"],
    doc_md=__doc__,
)
def dayclear_smoke() -> None:
    @task
    def reference_data() -> None:
        from smoke_tests.checks import reference_problems

        day, bundle, _, _ = _conf()
        _fail_on(reference_problems(bundle, day), f"reference data for {day}")

    @task
    def services() -> None:
        from smoke_tests.checks import service_problems

        _fail_on(service_problems(_conf()[3]), "services")

    @task
    def known_answers() -> None:
        from smoke_tests.known_answers import run_scenario, scenario_names

        if SMOKE_KNOWN_ANSWERS.get() == "off":
            log.warning("known-answer scenarios off (DAYCLEAR_SMOKE_KNOWN_ANSWERS=off)")
            return
        problems = [p for name in scenario_names() for p in run_scenario(name)]
        _fail_on(problems, "known-answer scenarios")

    @task
    def published_files() -> None:
        paths = run_paths(get_current_context())
        _fail_on(smoke_latest(paths), f"published files of {paths.day}")

    [reference_data(), services()] >> known_answers() >> published_files()


dayclear_smoke()
