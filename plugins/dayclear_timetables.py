"""Registers dayclear's trading-day timetable with Airflow (needed to serialize DAGs that use it)."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin
from airflow.timetables.base import Timetable

from orchestration.trading_calendar import TradingDayTimetable


class DayclearTimetablesPlugin(AirflowPlugin):
    name = "dayclear_timetables"
    # declared as AirflowPlugin declares it (a plain attribute, not a ClassVar), which mypy requires
    # of an override; Airflow reads it from the class and never mutates it
    timetables: list[type[Timetable]] = [TradingDayTimetable]  # noqa: RUF012
