"""The real scheduler runs the project's DAGs over a stretch of the trading calendar.

Airflow's scheduler, API server and DAG processor run as production runs them (LocalExecutor,
metadata in a real PostgreSQL: devtools/airflow_services.py). Time is under control through the
settlement DAG's window: it starts on Friday 3 April 2026 and ends on Tuesday 7 April, days long
past, so the scheduler's catch-up creates the runs itself from the trading-day timetable. Saturday,
Sunday and Monday 6 April (Qingming, in the reference holidays) are no trading days; the settlement
DAG must run for Friday and Tuesday only, in that order, each publication must trigger the audit and
smoke DAGs through the published-day Asset, and each day must end ``final``.

Kafka is the production one too: three KRaft brokers, replication factor 3, ``min.insync.replicas``
2 (``devtools.cluster``, ports DAYCLEAR_TEST_SCHEDULER_KAFKA_PORT, default 27092-27094 and
27192-27194). Each day is tiny (20 accounts, 30 trades). Its events go to that Kafka and the bounded
close freezes them (the Flink batch job over the day's offsets, ``driver.close.close_day``) before
the scheduler runs: the settlement DAG then finds the day frozen, as after a close run by hand, and
settles and publishes it. The smoke DAG's known-answer scenarios are off
(``DAYCLEAR_SMOKE_KNOWN_ANSWERS=off``): each is another Flink run, and tests/test_stream_day.py runs
them through the same DAG. The state (bundles, snapshots, published days, the cluster) is a
folder of its own under /tmp.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from devtools import airflow_services, cluster
from devtools.simulator import SimulationConfig, simulate
from driver.close import close_day
from jobs.kafka_io import produce_bundle
from orchestration.trading_calendar import EXCHANGE_TZ
from publication.status import read_status

pytestmark = pytest.mark.slow  # in make test (issue 15): about 4 minutes on a quiet machine
log = logging.getLogger(__name__)

FIRST, LAST = date(2026, 4, 3), date(2026, 4, 7)  # Friday ... Tuesday
TRADING_DAYS = [date(2026, 4, 3), date(2026, 4, 7)]
CLOSED = [date(2026, 4, 4), date(2026, 4, 5), date(2026, 4, 6)]  # Sat, Sun, Qingming
DAGS = ["dayclear_audit", "dayclear_smoke", "dayclear_settlement"]  # consumers first
TIMEOUT_S = 1800.0  # an upper bound on a crowded machine; a failed run fails at once


def _freeze_days(state: Path, bootstrap: str) -> None:
    """Each day as the exchange and the close make it: the bundle, its events in Kafka, the
    bounded close's snapshot with its completeness proof (days in order: a close starts where the
    previous one ended)."""
    for n, day in enumerate(TRADING_DAYS):
        bundle = state / "bundles" / day.isoformat()
        config = SimulationConfig(day=day, accounts=20, members=4, trades=30, seed=11 + n)
        simulate(config, bundle)
        produce_bundle(bundle, bootstrap, day)
        close_day(bundle, day, bootstrap, state / "snapshots" / day.isoformat())
        log.info("%s frozen", day)


def _rows(state: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    connection = airflow_services.metadata_db(state)
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, args)
            return list(cursor.fetchall())
    finally:
        connection.close()


def _runs(state: Path, dag_id: str) -> list[tuple[Any, ...]]:
    """(id, run_id, data_interval_start, run_type, state, start_date, end_date), oldest first."""
    return _rows(
        state,
        "SELECT id, run_id, data_interval_start, run_type, state, start_date, end_date"
        " FROM dag_run WHERE dag_id = %s ORDER BY id",
        dag_id,
    )


def _settled(state: Path) -> bool:
    """True once every day is final and no run of the three DAGs is queued or running (a DAG run
    ends after its last task has marked the day); raises as soon as one of them failed."""
    failed = _rows(
        state,
        "SELECT dag_id, run_id FROM dag_run WHERE state = 'failed' AND dag_id = ANY(%s)",
        DAGS,
    )
    if failed:
        raise AssertionError(f"failed runs: {failed}; logs under {state}/cluster/airflow/logs")
    out = state / "published"
    if not all(read_status(out, d.isoformat()).get("final") for d in TRADING_DAYS):
        return False
    unfinished = _rows(
        state,
        "SELECT count(*) FROM dag_run WHERE state IN ('queued', 'running') AND dag_id = ANY(%s)",
        DAGS,
    )
    count: int = unfinished[0][0]
    return count == 0


@pytest.fixture(scope="module")
def scheduled() -> Iterator[Path]:
    # not under pytest's basetemp: every pytest session on the machine sets /tmp/pytest-of-<user>
    # back to 0700, and the PostgreSQL server (the postgres user) then loses its data directory
    state = Path(tempfile.mkdtemp(prefix="dayclear-scheduler-"))
    # the production Kafka: three brokers, replication factor 3 (devtools/cluster.py)
    brokers = cluster.Settings(
        state=state,
        kafka_port=int(os.environ.get("DAYCLEAR_TEST_SCHEDULER_KAFKA_PORT", "27092")),
        rest_host="127.0.0.1",
        rest_port=0,
        portal_port=0,
    )
    settings = {
        "DAYCLEAR_SETTLEMENT_START": FIRST.isoformat(),
        "DAYCLEAR_SETTLEMENT_END": LAST.isoformat(),
        "DAYCLEAR_SMOKE_KNOWN_ANSWERS": "off",
        "DAYCLEAR_KAFKA_BOOTSTRAP": brokers.bootstrap,
    }
    saved = {k: os.environ.get(k) for k in settings}
    os.environ.update(settings)  # the Airflow processes start with them
    try:
        with ThreadPoolExecutor(1) as pool:  # Airflow starts while the days are frozen
            started = pool.submit(airflow_services.up, state)
            cluster.up(brokers, ["kafka"], timeout=600)
            _freeze_days(state, brokers.bootstrap)
            started.result()
        healthy = airflow_services.status(state) + [
            (h.name, h.healthy, h.detail) for h in cluster.kafka_health(brokers)
        ]
        assert all(ok for _, ok, _ in healthy), healthy
        airflow_services.unpause(state, DAGS)
        deadline = time.monotonic() + TIMEOUT_S
        while not _settled(state):
            assert time.monotonic() < deadline, f"days not final within {TIMEOUT_S:g} s"
            time.sleep(2)
        yield state
    finally:
        airflow_services.down(state)
        cluster.down(brokers)
        shutil.rmtree(state, ignore_errors=True)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _day(interval_start: Any) -> date:
    return interval_start.astimezone(EXCHANGE_TZ).date()  # type: ignore[no-any-return]


def test_one_settlement_run_per_trading_day_in_order(scheduled: Path) -> None:
    runs = _runs(scheduled, "dayclear_settlement")
    assert [_day(r[2]) for r in runs] == TRADING_DAYS  # none on the weekend or on Qingming
    assert not {_day(r[2]) for r in runs} & set(CLOSED)
    assert {r[3] for r in runs} == {"scheduled"}, "the scheduler created the runs (catch-up)"
    assert {r[4] for r in runs} == {"success"}
    for before, after in itertools.pairwise(runs):
        assert before[6] <= after[5], "D+1 starts after D has finished"
    published = _rows(
        scheduled,
        "SELECT r.data_interval_start, t.end_date FROM task_instance t JOIN dag_run r"
        " ON r.dag_id = t.dag_id AND r.run_id = t.run_id WHERE t.dag_id = 'dayclear_settlement'"
        " AND t.task_id = 'settle_and_publish' ORDER BY t.end_date",
    )
    assert [_day(start) for start, _ in published] == TRADING_DAYS, "days settled in order"


def test_each_publication_triggers_audit_and_smoke_through_the_asset(scheduled: Path) -> None:
    events = _rows(
        scheduled,
        "SELECT e.id, e.extra, e.source_dag_id FROM asset_event e JOIN asset a"
        " ON a.id = e.asset_id WHERE a.name = 'dayclear_published_day' ORDER BY e.id",
    )
    assert [json.loads(e[1])["day"] if isinstance(e[1], str) else e[1]["day"] for e in events] == [
        d.isoformat() for d in TRADING_DAYS
    ]
    assert {e[2] for e in events} == {"dayclear_settlement"}
    for dag_id in ("dayclear_audit", "dayclear_smoke"):
        runs = _runs(scheduled, dag_id)
        assert {r[3] for r in runs} == {"asset_triggered"}, dag_id
        assert {r[4] for r in runs} == {"success"}, dag_id
        consumed = _rows(
            scheduled,
            "SELECT l.event_id FROM dagrun_asset_event l JOIN dag_run r ON r.id = l.dag_run_id"
            " WHERE r.dag_id = %s ORDER BY l.event_id",
            dag_id,
        )
        assert [c[0] for c in consumed] == [e[0] for e in events], dag_id


def test_each_day_ends_final(scheduled: Path) -> None:
    out = scheduled / "published"
    for day in TRADING_DAYS:
        status = read_status(out, day.isoformat())
        assert status["final"] and status["settled_version"] == 1, status
        assert status["audit"]["passed"] and status["smoke"]["passed"], status
        assert (out / day.isoformat() / "LATEST").read_text().strip() == "v1"
    for day in CLOSED:
        assert not (out / day.isoformat()).exists()
