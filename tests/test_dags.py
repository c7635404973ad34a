"""The DAG folder imports cleanly with the expected DAGs, schedules, tags and tasks."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from devtools.simulator import write_holidays

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


@pytest.fixture(scope="module")
def bag(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The DAG folder, parsed once for the module (parsing it takes seconds)."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DAYCLEAR_STATE", str(tmp_path_factory.mktemp("state")))
        holidays = tmp_path_factory.mktemp("reference") / "holidays.csv"
        env.setenv("DAYCLEAR_HOLIDAYS", str(write_holidays(holidays)))
        os.environ.setdefault("AIRFLOW_HOME", str(tmp_path_factory.mktemp("airflow")))
        from airflow.models.dagbag import DagBag

        yield DagBag(dag_folder=str(ROOT / "dags"), include_examples=False)


def test_dag_folder_imports(bag: Any) -> None:
    from airflow.timetables.simple import AssetTriggeredTimetable

    from orchestration.trading_calendar import TradingDayTimetable

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


def _run_task(bag: Any, dag_id: str, task_id: str, conf: dict[str, str], monkeypatch: Any) -> Any:
    """The task's own function, run with a context holding only the run's conf."""
    function = bag.dags[dag_id].get_task(task_id).python_callable
    context = {"dag_run": SimpleNamespace(conf=conf)}
    monkeypatch.setitem(function.__globals__, "get_current_context", lambda: context)
    return function()


@pytest.mark.parametrize(
    ("dag_id", "task_id"),
    [("dayclear_settlement", "freeze_snapshot"), ("dayclear_ops", "completeness_after_close")],
)
def test_both_dags_refuse_the_completeness_proof_of_another_day(
    bag: Any, dag_id: str, task_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 16: the ops DAG's copy of the check confirmed a complete proof of any day."""
    from airflow.exceptions import AirflowFailException

    proof = {"trading_day": "2026-11-20", "complete": True, "topics": {}, "end_offsets": {}}
    (tmp_path / "completeness.json").write_text(json.dumps(proof))
    conf = {"day": "2026-11-23", "snapshot": str(tmp_path), "phase": "close"}
    with pytest.raises(AirflowFailException, match="of trading day 2026-11-20, not of 2026-11-23"):
        _run_task(bag, dag_id, task_id, conf, monkeypatch)
    _run_task(bag, dag_id, task_id, {**conf, "day": "2026-11-20"}, monkeypatch)  # its own day
    (tmp_path / "completeness.json").write_text(json.dumps({**proof, "complete": False}))
    with pytest.raises(AirflowFailException, match="not complete"):
        _run_task(bag, dag_id, task_id, {**conf, "day": "2026-11-20"}, monkeypatch)
