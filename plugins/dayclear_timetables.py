"""Registers dayclear's trading-day timetable with Airflow (needed to serialize DAGs that use it)."""

from __future__ import annotations

from typing import ClassVar

from airflow.plugins_manager import AirflowPlugin

from dayclear.trading_calendar import TradingDayTimetable


class DayclearTimetablesPlugin(AirflowPlugin):
    name = "dayclear_timetables"
    timetables: ClassVar[list[type]] = [TradingDayTimetable]
