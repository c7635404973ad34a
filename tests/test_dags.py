"""The DAG folder imports cleanly with the expected DAGs, schedules, tags and tasks."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

EXPECTED = {
    "dayclear_settlement": (
        {"dayclear", "settlement"},
        {"check_inputs", "freeze_snapshot", "settle_and_publish"},
    ),
    "dayclear_audit": ({"dayclear", "audit"}, {"reconcile_day"}),
    "dayclear_smoke": (
        {"dayclear", "smoke"},
        {"reference_data", "services", "known_answers", "published_files"},
    ),
    "dayclear_ops": ({"dayclear", "ops"}, {"stream_health", "completeness_after_close"}),
    "dayclear_reissue": ({"dayclear", "settlement", "reissue"}, {"republish", "audit", "smoke"}),
}


def test_dag_folder_imports(tmp_path: Path) -> None:
    os.environ.setdefault("AIRFLOW_HOME", str(tmp_path))
    from airflow.models.dagbag import DagBag
    from airflow.timetables.assets import AssetTriggeredTimetable

    from dayclear.trading_calendar import TradingDayTimetable

    bag = DagBag(dag_folder=str(ROOT / "dags"), include_examples=False)
    assert bag.import_errors == {}
    assert set(bag.dags) == set(EXPECTED)
    for dag_id, (tags, tasks) in EXPECTED.items():
        dag = bag.dags[dag_id]
        assert set(dag.tags) == tags, dag_id
        assert {t.task_id for t in dag.tasks} == tasks, dag_id
    settlement = bag.dags["dayclear_settlement"]
    assert isinstance(settlement.timetable, TradingDayTimetable) and settlement.catchup
    assert settlement.max_active_runs == 1
    for dag_id in ("dayclear_audit", "dayclear_smoke"):
        assert isinstance(bag.dags[dag_id].timetable, AssetTriggeredTimetable), dag_id
    ops = bag.dags["dayclear_ops"].timetable
    assert ops.summary == "*/5 9-15 * * 1-5" and str(ops._timezone) == "Asia/Shanghai"
    assert bag.dags["dayclear_reissue"].timetable.summary == "None"
