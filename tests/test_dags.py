"""The DAG folder imports cleanly with the expected DAGs, schedules and tags."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_dag_folder_imports(tmp_path: Path) -> None:
    os.environ.setdefault("AIRFLOW_HOME", str(tmp_path))
    from airflow.models.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"), include_examples=False)
    assert bag.import_errors == {}
    assert set(bag.dags) == {
        "dayclear_settlement",
        "dayclear_audit",
        "dayclear_smoke",
        "dayclear_reissue",
    }
    assert set(bag.dags["dayclear_smoke"].tags) == {"dayclear", "smoke"}
    assert set(bag.dags["dayclear_audit"].tags) == {"dayclear", "audit"}
    dag = bag.dags["dayclear_settlement"]
    assert set(dag.tags) == {"dayclear", "settlement"}
    assert {t.task_id for t in dag.tasks} == {
        "check_inputs",
        "check_completeness",
        "settle_and_publish",
    }
    assert dag.max_active_runs == 1
    from dayclear.trading_calendar import TradingDayTimetable

    assert isinstance(dag.timetable, TradingDayTimetable) and dag.catchup
