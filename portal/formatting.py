"""How the portal writes numbers and times, in one place: every amount on every page, table and chart
goes through here. Nothing here rounds by itself: amounts are rounded by the numbers module's
``round_half_up`` (SETTLEMENT_RULES' Round), then printed exactly with thousands separators."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

# The exchange's time zone: times are shown in it and in UTC; "a day" of the access log is its day.
from settlement.calendar import EXCHANGE_TZ, exchange_time
from settlement.numbers import dec, round_half_up

MONEY_PLACES = 2


def _decimal(value: object) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, Decimal):
        return value
    try:
        return dec(value if isinstance(value, int) else str(value))
    except (InvalidOperation, TypeError):
        return None


def amount(value: object, places: int = MONEY_PLACES) -> str:
    """``37901035996.44`` -> ``37,901,035,996.44``; always ``places`` decimals."""
    found = _decimal(value)
    return "" if found is None else f"{round_half_up(found, places):,f}"


def exact(value: object) -> str:
    """A price or ratio as published (its own decimals), with thousands separators."""
    found = _decimal(value)
    return "" if found is None else f"{found:,f}"


def number(value: object) -> str:
    """Whatever kind of number: money-like Decimals with two places, others exactly."""
    if isinstance(value, Decimal) and value.as_tuple().exponent == -MONEY_PLACES:
        return amount(value)
    return exact(value)


def cell(value: str, column_type: str) -> str:
    """A published CSV value by its column type of ``schemas/files/published.json``."""
    if column_type == "money":
        return amount(value)
    if column_type in ("int", "price", "rate", "ratio4", "decimal6"):
        return exact(value)
    return value


def local_time(epoch: float) -> str:
    """ISO 8601 in the exchange's time zone: ``2026-11-23T15:30:00+08:00``."""
    return exchange_time(epoch)


def utc_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def exchange_day(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, EXCHANGE_TZ).date().isoformat()


def day_bounds(day: str) -> tuple[float, float]:
    """Epoch seconds of ``day`` 00:00 and the next day's 00:00 in the exchange's time zone."""
    start = datetime.fromisoformat(day).replace(tzinfo=EXCHANGE_TZ)
    return start.timestamp(), start.timestamp() + 86400


def clock(epoch: float) -> str:
    """``HH:MM`` in the exchange's time zone (chart ticks)."""
    return datetime.fromtimestamp(epoch, EXCHANGE_TZ).strftime("%H:%M")
