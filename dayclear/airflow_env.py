"""The environment the project's Airflow runs with: home, DAG folder, SQLite metadata DB under
$DAYCLEAR_STATE (fine for the demo and tests; docker-compose.yml describes Postgres for production)."""

from __future__ import annotations

import os

from .paths import ROOT, state_dir


def airflow_env() -> dict[str, str]:
    home = state_dir() / "airflow"
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
        "PYTHONPATH": str(ROOT),
        "NO_PROXY": "*",
    }
