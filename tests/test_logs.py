"""Every record of dayclear's DAGs, jobs and monitors names the trading day and the code version
(issue 16; dayclear/logs.py)."""

from __future__ import annotations

import logging
import subprocess
import sys
from datetime import date
from pathlib import Path

from dayclear import logs
from dayclear.config import code_version

ROOT = Path(__file__).resolve().parent.parent


class _Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _logged(name: str, day: date | None) -> str:
    logs.install()
    logs.set_day(day)
    keep = _Keep()
    logger = logging.getLogger(name)
    logger.addHandler(keep)
    logger.setLevel(logging.INFO)
    try:
        logger.info("frozen at %s", "offsets.json")
    finally:
        logger.removeHandler(keep)
        logs.set_day(None)
    return keep.messages[0]


def test_a_job_record_names_the_day_and_version() -> None:
    message = _logged("jobs.risk_monitor", date(2026, 12, 18))
    assert message == f"[day=2026-12-18 version={code_version()}] frozen at offsets.json"


def test_a_dag_file_record_and_an_entry_point_record_too() -> None:
    airflow_name = "unusual_prefix_0123abcd_dayclear_settlement"
    assert _logged(airflow_name, date(2026, 12, 18)).startswith("[day=2026-12-18 version=")
    assert _logged("__main__", date(2026, 12, 18)).startswith("[day=2026-12-18 version=")


def test_before_the_day_is_known_the_record_says_so() -> None:
    assert _logged("driver.session", None).startswith("[day=- version=")


def test_a_record_copied_by_a_formatter_keeps_one_prefix() -> None:
    """structlog's formatter (Airflow's task logs) rebuilds a record with logging.makeLogRecord,
    which calls the factory with no logger name before copying the fields over."""
    logs.install()
    logs.set_day(date(2026, 12, 18))
    try:
        original = logging.getLogger("driver.close").makeRecord(
            "driver.close", logging.INFO, __file__, 1, "frozen", (), None
        )
        copy = logging.makeLogRecord(original.__dict__)
    finally:
        logs.set_day(None)
    assert copy.getMessage() == original.getMessage()
    assert copy.getMessage().count("[day=2026-12-18 ") == 1


def test_other_libraries_records_are_left_alone() -> None:
    assert _logged("confluent_kafka", date(2026, 12, 18)) == "frozen at offsets.json"


def test_a_monitor_process_logs_with_its_day() -> None:
    """The journal follower's entry point, run as production runs it (``python -m``): its refusal
    to follow a day without a session is a record that names the day."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert f"[day=2026-12-18 version={code_version()}] monitor up" in done.stderr


PROBE = """
import logging
from dayclear import logs
logs.setup("2026-12-18")
logging.getLogger("jobs.risk_monitor").info("monitor up")
"""
