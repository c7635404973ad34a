"""The environment the project's Airflow runs with: home, DAG folder, metadata DB, logs, and the
exchange calendar.

By default a SQLite metadata DB under $DAYCLEAR_STATE/airflow (``airflow dags test`` in the demo and
tests). The production topology (devtools/airflow_services.py) passes its own home under
$DAYCLEAR_STATE/cluster/airflow and the URL of its PostgreSQL database. The calendar is
``$DAYCLEAR_HOLIDAYS`` when set, else the simulated exchange's holidays, written under the Airflow
home and named explicitly (the timetable itself has no default).
"""

from __future__ import annotations

import os
from pathlib import Path

from dayclear.config import HOLIDAYS_ENV, ROOT, StateLayout, state_dir
from devtools.simulator import write_holidays


def airflow_env(
    home: Path | None = None, database: str | None = None, state: Path | None = None
) -> dict[str, str]:
    """The variables an Airflow process of dayclear starts with: ``home`` is AIRFLOW_HOME (default
    the state layout's Airflow home), ``database`` the SQLAlchemy URL of the metadata DB (default
    SQLite in ``home``), ``state`` the DAYCLEAR_STATE the DAGs read and write (default the current
    one)."""
    state = state or state_dir()
    home = home or StateLayout(state).airflow
    home.mkdir(parents=True, exist_ok=True)
    return {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": database or f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "DAYCLEAR_STATE": str(state),
        HOLIDAYS_ENV: os.environ.get(HOLIDAYS_ENV) or str(write_holidays(home / "holidays.csv")),
        "PYTHONPATH": str(ROOT),
        "NO_PROXY": "*",
    }
