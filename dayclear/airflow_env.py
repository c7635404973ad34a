"""The environment the project's Airflow runs with: home, DAG folder, SQLite metadata DB under
$DAYCLEAR_STATE (fine for the demo and tests; docker-compose.yml describes Postgres for production),
and the exchange calendar: ``$DAYCLEAR_HOLIDAYS`` when set, else the simulated exchange's holidays,
written under the Airflow home and named explicitly (the timetable itself has no default)."""

from __future__ import annotations

import os

from .paths import HOLIDAYS_ENV, ROOT, state_dir, state_layout
from .simulator import write_holidays


def airflow_env() -> dict[str, str]:
    home = state_layout().airflow
    home.mkdir(parents=True, exist_ok=True)
    return {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "DAYCLEAR_STATE": str(state_dir()),
        HOLIDAYS_ENV: os.environ.get(HOLIDAYS_ENV) or str(write_holidays(home / "holidays.csv")),
        "PYTHONPATH": str(ROOT),
        "NO_PROXY": "*",
    }
