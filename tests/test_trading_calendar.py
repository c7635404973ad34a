"""The settlement DAG's timetable runs on exchange trading days only (SETTLEMENT_RULES §2)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pendulum
import pytest
from airflow.timetables.base import TimeRestriction

from orchestration.trading_calendar import EXCHANGE_TZ, HolidaysMissing, TradingDayTimetable

# 2026 holidays of the simulator's reference data, including the Spring Festival week (16-20 Feb)
# and the National Day holiday (1-7 Oct), written out here as the independent expectation.
HOLIDAYS_2026 = [
    date(2026, 1, 1),
    date(2026, 1, 2),
    *(date(2026, 2, d) for d in range(16, 21)),
    date(2026, 4, 6),
    date(2026, 5, 1),
    date(2026, 5, 4),
    date(2026, 5, 5),
    date(2026, 6, 19),
    date(2026, 9, 25),
    date(2026, 10, 1),
    date(2026, 10, 2),
    date(2026, 10, 5),
    date(2026, 10, 6),
    date(2026, 10, 7),
]


def test_a_year_of_runs_skips_weekends_and_holidays() -> None:
    timetable = TradingDayTimetable(HOLIDAYS_2026)
    restriction = TimeRestriction(
        earliest=pendulum.datetime(2026, 1, 1, tz=EXCHANGE_TZ), latest=None, catchup=True
    )
    runs, last = [], None
    while True:
        info = timetable.next_dagrun_info(
            last_automated_data_interval=last, restriction=restriction
        )
        assert info is not None
        day = info.data_interval.start.in_timezone(EXCHANGE_TZ).date()
        if day.year > 2026:
            break
        assert info.run_after == pendulum.datetime(
            day.year, day.month, day.day, 15, 30, tz=EXCHANGE_TZ
        )
        assert info.data_interval.end - info.data_interval.start == timedelta(days=1)
        runs.append(day)
        last = info.data_interval
    expected = [date(2026, 1, 1) + timedelta(days=n) for n in range(365)]
    expected = [d for d in expected if d.weekday() < 5 and d not in HOLIDAYS_2026]
    assert runs == expected
    assert len(runs) == 261 - len(HOLIDAYS_2026)
    assert date(2026, 2, 13) in runs and date(2026, 2, 23) in runs
    assert not any(date(2026, 2, 14) <= d <= date(2026, 2, 22) for d in runs)


def test_manual_runs_settle_the_latest_closed_trading_day() -> None:
    timetable = TradingDayTimetable(HOLIDAYS_2026)
    saturday = pendulum.datetime(2026, 2, 21, 10, tz=EXCHANGE_TZ)
    assert timetable.infer_manual_data_interval(run_after=saturday).start.date() == date(
        2026, 2, 13
    )
    monday_morning = pendulum.datetime(2026, 11, 23, 9, tz=EXCHANGE_TZ)
    assert timetable.infer_manual_data_interval(run_after=monday_morning).start.date() == date(
        2026, 11, 20
    )
    monday_evening = pendulum.datetime(2026, 11, 23, 16, tz=EXCHANGE_TZ)
    assert timetable.infer_manual_data_interval(run_after=monday_evening).start.date() == date(
        2026, 11, 23
    )


def test_serializes_round_trip() -> None:
    timetable = TradingDayTimetable(HOLIDAYS_2026)
    again = TradingDayTimetable.deserialize(timetable.serialize())
    assert isinstance(again, TradingDayTimetable) and again.holidays == timetable.holidays


def test_the_timetable_refuses_to_start_without_the_exchange_holidays(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 16: unset or naming no file, $DAYCLEAR_HOLIDAYS fell back to the simulator's calendar."""
    monkeypatch.delenv("DAYCLEAR_HOLIDAYS", raising=False)
    with pytest.raises(HolidaysMissing, match=r"\$DAYCLEAR_HOLIDAYS is not set"):
        TradingDayTimetable()
    missing = tmp_path / "reference" / "holidays.csv"
    monkeypatch.setenv("DAYCLEAR_HOLIDAYS", str(missing))
    with pytest.raises(HolidaysMissing, match=f"DAYCLEAR_HOLIDAYS names {missing}, which is not"):
        TradingDayTimetable()
    missing.parent.mkdir()
    missing.write_text("date,name\n2026-11-24,Closed\n")
    assert TradingDayTimetable().holidays == [date(2026, 11, 24)]
