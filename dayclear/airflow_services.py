"""PostgreSQL and Airflow (scheduler, API server, DAG processor) of ``dayclear cluster``.

A placeholder with the interface ``dayclear cluster`` calls: the real module is built on the branch
``airflowsvc`` and replaces this one when it is merged.
"""

from __future__ import annotations

from pathlib import Path

_MISSING = "built on branch airflowsvc"


def up(state: Path) -> None:
    """Start PostgreSQL and Airflow with their data under ``state``; wait until they are healthy."""
    raise NotImplementedError(_MISSING)


def status(state: Path) -> list[tuple[str, bool, str]]:
    """One (name, healthy, detail) per process."""
    raise NotImplementedError(_MISSING)


def down(state: Path) -> None:
    """Stop what :func:`up` started."""
    raise NotImplementedError(_MISSING)
