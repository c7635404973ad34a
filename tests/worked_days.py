"""The two days of the futures worked example (tests/test_worked_example.py has the figures worked
by hand): account A, multiplier 10, margin 5 %, no fees; day one and day two as bundles."""

from __future__ import annotations

from pathlib import Path

from tests.daybuilder import Day, index_future


def _day(day: str) -> Day:
    return Day(
        day=day,
        products=[index_future("XF", 10)],
        instruments=[["XF2612", "XF", "2026-12-18", "4000.0", None, None]],
        margin_rates=[["XF2612", "SPEC", "0.05", "0.05"], ["XF2612", "HEDGE", "0.05", "0.05"]],
        accounts=[("A", "M1"), ("B", "M2"), ("C", "M2")],
    )


def day_one() -> Day:
    d = _day("2026-11-23")
    d.prev_settle = {"XF2612": "4000.0"}
    d.balances = {"B": "10000000.00", "C": "10000000.00"}
    d.deposits = [("09:35:00", "A", "DEPOSIT", "200000.00")]
    d.trades = [
        ("10:00:00", "XF2612", "4000.0", 60, "A", "OPEN", "B", "OPEN"),
        ("11:00:00", "XF2612", "4030.0", 40, "C", "OPEN", "A", "CLOSE"),
        ("14:30:00", "XF2612", "4040.0", 1, "B", "OPEN", "C", "CLOSE"),
    ]
    return d


def day_two(opening: Path) -> Day:
    d = _day("2026-11-24")
    d.trades = [
        ("10:00:00", "XF2612", "4030.0", 10, "A", "OPEN", "B", "OPEN"),
        ("14:40:00", "XF2612", "4060.0", 1, "C", "OPEN", "B", "CLOSE"),
    ]
    return d
