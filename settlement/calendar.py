"""Trading days and sessions (SETTLEMENT_RULES §2).

A trading day is a weekday that is not an exchange holiday. Trading hours are 09:30-11:30 and
13:00-15:00 (index futures and options) or 13:00-15:15 (bond futures). "Trading time" counts only
time inside these hours; it is measured here in microseconds since the open.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

#: The exchange's time zone (IANA name): trading hours, trading days and alert times are in it.
EXCHANGE_TZ_NAME = "Asia/Shanghai"
EXCHANGE_TZ = ZoneInfo(EXCHANGE_TZ_NAME)

MORNING_OPEN = time(9, 30)
AFTERNOON_OPEN = time(13, 0)
CLOSE = {"INDEX": time(15, 0), "BOND": time(15, 15)}

MICROS = 1_000_000
MORNING_MICROS = 2 * 3600 * MICROS
HOUR_MICROS = 3600 * MICROS


def exchange_time(epoch: float) -> str:
    """An instant as ISO 8601 in the exchange's time zone, with its offset:
    ``2026-11-23T15:30:00+08:00``."""
    return datetime.fromtimestamp(epoch, EXCHANGE_TZ).isoformat(timespec="seconds")


def session_length_micros(session: str) -> int:
    """Trading microseconds from the open to the close: 4 h (INDEX) or 4 h 15 min (BOND)."""
    close = CLOSE[session]
    afternoon = (close.hour * 3600 + close.minute * 60) - 13 * 3600
    return MORNING_MICROS + afternoon * MICROS


def trading_micros(ts: datetime) -> int | None:
    """Trading time of ``ts`` in µs since the open, or None outside the trading hours.

    Both the morning close (11:30) and the afternoon open (13:00) map to the same trading instant.
    """
    t = ts.time()
    since_midnight = ((t.hour * 60 + t.minute) * 60 + t.second) * MICROS + t.microsecond
    morning_open = (9 * 3600 + 30 * 60) * MICROS
    morning_close = (11 * 3600 + 30 * 60) * MICROS
    afternoon_open = 13 * 3600 * MICROS
    if morning_open <= since_midnight <= morning_close:
        return since_midnight - morning_open
    if since_midnight >= afternoon_open:
        return MORNING_MICROS + since_midnight - afternoon_open
    return None


def wall_clock(day: date, micros: int) -> datetime:
    """Inverse of :func:`trading_micros` (the shared instant maps to 11:30)."""
    if micros <= MORNING_MICROS:
        return datetime.combine(day, MORNING_OPEN) + timedelta(microseconds=micros)
    return datetime.combine(day, AFTERNOON_OPEN) + timedelta(microseconds=micros - MORNING_MICROS)


def is_trading_day(day: date, holidays: Iterable[date]) -> bool:
    return day.weekday() < 5 and day not in set(holidays)


def trading_days(start: date, end: date, holidays: Iterable[date]) -> Iterator[date]:
    """Trading days from ``start`` to ``end`` inclusive."""
    closed = set(holidays)
    day = start
    while day <= end:
        if day.weekday() < 5 and day not in closed:
            yield day
        day += timedelta(days=1)


def nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The n-th given weekday (0 = Monday) of a month, e.g. the third Friday."""
    first = date(year, month, 1)
    offset = (weekday - first.weekday()) % 7
    return first + timedelta(days=offset + 7 * (n - 1))


def on_or_after_trading_day(day: date, holidays: Iterable[date]) -> date:
    closed = set(holidays)
    while day.weekday() >= 5 or day in closed:
        day += timedelta(days=1)
    return day
