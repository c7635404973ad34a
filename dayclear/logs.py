"""Every log record of dayclear's DAGs, jobs and monitors names the trading day and the code version.

A record factory (:func:`install`) prefixes the message of every record logged by one of dayclear's
packages (and by the DAG files, whatever name Airflow loads them under) with
``[day=YYYY-MM-DD version=X.Y.Z+commit]``. The prefix is part of the message, so it reaches every
handler unchanged: the console, a Flink job's log, Airflow's task log. The day is set once per
process or task by :func:`set_day` (``-`` until then).
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from datetime import date
from typing import Any

from dayclear.config import code_version

#: The packages whose records carry the day and version (docs/architecture.md, "Layers").
PACKAGES = frozenset(
    {
        "dayclear", "devtools", "orchestration", "portal", "smoke_tests", "audit", "driver", "jobs",
        "publication", "edge", "settlement", "schemas", "dags", "plugins",
    }
)  # fmt: skip
FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"

_day: ContextVar[str] = ContextVar("dayclear_day", default="-")
_installed: list[bool] = []


def set_day(day: date | str | None) -> None:
    """The trading day every later record of this process (or task, or thread) names."""
    _day.set(day.isoformat() if isinstance(day, date) else (day or "-"))


def current_day() -> str:
    return _day.get()


def ours(logger_name: str | None) -> bool:
    """True for dayclear's own loggers: its packages', and the DAG files' (Airflow loads a DAG
    file under a generated module name ending in the file's name, e.g. ``..._dayclear_settlement``),
    and an entry point run with ``python -m`` (``__main__``). A record made from another record's
    fields (``logging.makeLogRecord``, as structlog's formatter does) has no name yet: not ours, so
    the message it copies keeps the one prefix it already has."""
    if not logger_name:
        return False
    root = logger_name.split(".")[0]
    return root in PACKAGES or root == "__main__" or "dayclear_" in logger_name


def prefix() -> str:
    return f"[day={_day.get()} version={code_version()}]"


def install() -> None:
    """Install the record factory once per process (idempotent)."""
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if ours(record.name):
            record.day = _day.get()
            record.version = code_version()
            record.msg = f"{prefix()} {record.msg}"
        return record

    logging.setLogRecordFactory(factory)
    _installed.append(True)


def setup(day: date | str | None = None, level: int = logging.INFO) -> None:
    """A process's logging: the factory, the day, and a console handler when none is configured
    (the job and monitor entry points)."""
    install()
    set_day(day)
    logging.basicConfig(level=level, format=FORMAT)
    logging.getLogger().setLevel(level)
