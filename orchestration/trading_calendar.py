"""The exchange's trading calendar as an Airflow timetable (SETTLEMENT_RULES §2).

One run per trading day D (a weekday that is not an exchange holiday), after the close: the data
interval is D 00:00 to D+1 00:00 in exchange time (Asia/Shanghai), and the run may start at D 15:30,
a quarter hour after the bond futures close. The logical date is therefore D itself.

The holidays come from the exchange's own reference data (``holidays.csv`` of DATA_CONTRACT): the file
named by ``$DAYCLEAR_HOLIDAYS``. There is no default: a scheduler without the exchange's calendar
refuses to load the settlement DAG (:class:`HolidaysMissing`) rather than run on another calendar;
the demo and the tests name the simulator's (devtools.airflow_env). We did not take
exchange_calendars' XSHG calendar: the clearing house settles on the calendar its reference data
publishes, and one source of truth keeps the DAGs and the rules in step (docs/decisions.md).
"""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pendulum
from airflow.timetables.base import DagRunInfo, DataInterval, TimeRestriction, Timetable

from dayclear.config import HOLIDAYS, HOLIDAYS_ENV
from settlement.calendar import EXCHANGE_TZ_NAME, is_trading_day, on_or_after_trading_day

EXCHANGE_TZ = pendulum.timezone(EXCHANGE_TZ_NAME)
RUN_AFTER = (15, 30)


class HolidaysMissing(RuntimeError):
    """``$DAYCLEAR_HOLIDAYS`` is unset or names no file: the trading days are unknown."""


def load_holidays() -> list[date]:
    """The exchange's holidays, from the ``holidays.csv`` that ``$DAYCLEAR_HOLIDAYS`` names."""
    named = HOLIDAYS.get()
    if not named:
        raise HolidaysMissing(
            f"${HOLIDAYS_ENV} is not set: the trading-day timetable needs the exchange's"
            " holidays.csv (DATA_CONTRACT) and has no default calendar"
        )
    path = Path(named)
    if not path.is_file():
        raise HolidaysMissing(
            f"${HOLIDAYS_ENV} names {path}, which is not a file: the trading-day timetable needs"
            " the exchange's holidays.csv (DATA_CONTRACT)"
        )
    with path.open() as f:
        return sorted(date.fromisoformat(r["date"]) for r in csv.DictReader(f))


class TradingDayTimetable(Timetable):
    """Runs once per trading day of the exchange, after the close."""

    description = "After the close of every exchange trading day (weekdays minus exchange holidays)"

    def __init__(self, holidays: list[date] | None = None) -> None:
        self.holidays = sorted(set(holidays if holidays is not None else load_holidays()))
        self._closed = set(self.holidays)

    @property
    def summary(self) -> str:
        return "trading days"

    def serialize(self) -> dict[str, Any]:
        return {"holidays": [d.isoformat() for d in self.holidays]}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> Timetable:
        return cls([date.fromisoformat(d) for d in data["holidays"]])

    def is_trading_day(self, day: date) -> bool:
        """§2, the rules' own test (settlement.calendar)."""
        return is_trading_day(day, self._closed)

    def next_trading_day(self, day: date) -> date:
        """``day`` if it is a trading day, else the next one."""
        return on_or_after_trading_day(day, self._closed)

    def _info(self, day: date) -> DagRunInfo:
        start = pendulum.datetime(day.year, day.month, day.day, tz=EXCHANGE_TZ)
        run_after = start.replace(hour=RUN_AFTER[0], minute=RUN_AFTER[1])
        return DagRunInfo(run_after=run_after, data_interval=DataInterval(start, start.add(days=1)))

    def infer_manual_data_interval(self, *, run_after: pendulum.DateTime) -> DataInterval:
        """A manual run settles the latest trading day whose close has passed."""
        local = run_after.in_timezone(EXCHANGE_TZ)
        day = (
            local.date()
            if (local.hour, local.minute) >= RUN_AFTER
            else local.date() - timedelta(days=1)
        )
        while not self.is_trading_day(day):
            day -= timedelta(days=1)
        return self._info(day).data_interval

    def next_dagrun_info(
        self, *, last_automated_data_interval: DataInterval | None, restriction: TimeRestriction
    ) -> DagRunInfo | None:
        if last_automated_data_interval is not None:
            last = last_automated_data_interval.start.in_timezone(EXCHANGE_TZ).date()
            day = self.next_trading_day(last + timedelta(days=1))
        elif restriction.earliest is None:
            return None
        else:
            earliest = restriction.earliest.in_timezone(EXCHANGE_TZ)
            day = (
                earliest.date()
                if (earliest.hour, earliest.minute) == (0, 0)
                else earliest.date() + timedelta(days=1)
            )
            if not restriction.catchup:
                now = pendulum.now(EXCHANGE_TZ)
                day = max(day, now.date() - timedelta(days=1))
            day = self.next_trading_day(day)
        info = self._info(day)
        if restriction.latest is not None and info.data_interval.start > restriction.latest:
            return None
        return info
