"""The environment the project's Airflow runs with: home, DAG folder, metadata DB, logs.

By default a SQLite metadata DB under $DAYCLEAR_STATE/airflow (``airflow dags test`` in the demo and
tests). The production topology (dayclear/airflow_services.py) passes its own home under
$DAYCLEAR_STATE/cluster/airflow and the URL of its PostgreSQL database.
"""

from __future__ import annotations

import os
from pathlib import Path

from .paths import ROOT, state_dir


def airflow_env(
    home: Path | None = None, database: str | None = None, state: Path | None = None
) -> dict[str, str]:
    """The variables an Airflow process of dayclear starts with: ``home`` is AIRFLOW_HOME (default
    ``$DAYCLEAR_STATE/airflow``), ``database`` the SQLAlchemy URL of the metadata DB (default SQLite
    in ``home``), ``state`` the DAYCLEAR_STATE the DAGs read and write (default the current one)."""
    state = state or state_dir()
    home = home or state / "airflow"
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
        "PYTHONPATH": str(ROOT),
        "NO_PROXY": "*",
    }
