"""The numbers module: half-up rounding and ticks (SETTLEMENT_RULES preamble, §4)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal as D

import polars as pl
import pytest

from settlement.numbers import (
    dec,
    div_ceil,
    div_floor,
    div_half_up,
    from_units,
    rescale_half_up,
    round_half_up,
    units,
)

DEC = pl.Decimal(38, 6)


@pytest.mark.parametrize(
    ("value", "places", "expected"),
    [
        ("2.345", 2, "2.35"),
        ("-2.345", 2, "-2.35"),
        ("0.125", 2, "0.13"),
        ("2.355", 2, "2.36"),
        ("4000.25", 1, "4000.3"),
        ("-0.005", 2, "-0.01"),
        ("1.2344999", 4, "1.2345"),
        ("7", 2, "7.00"),
    ],
)
def test_round_half_up_away_from_zero(value: str, places: int, expected: str) -> None:
    assert str(round_half_up(D(value), places)) == expected


def test_ticks() -> None:
    """§4 on the tick as the rules do it, in integer units: a limit up down to the tick, a limit
    down up to it."""

    def on_tick(value: str, tick: str, to_tick: Callable[[pl.Expr, pl.Expr], pl.Expr]) -> D:
        frame = pl.DataFrame({"v": [D(value)], "t": [D(tick)]}, schema={"v": DEC, "t": DEC})
        v, t = units(pl.col("v"), 6), units(pl.col("t"), 6)
        on: D = frame.select(from_units(to_tick(v, t) * t, 6).alias("x"))["x"][0]
        return on

    assert on_tick("4346.32", "0.2", div_floor) == D("4346.2")
    assert on_tick("3556.08", "0.2", div_ceil) == D("3556.2")
    assert on_tick("102.97029", "0.002", div_floor) == D("102.970")
    assert on_tick("101.94571", "0.002", div_ceil) == D("101.946")


def test_no_floats() -> None:
    with pytest.raises(TypeError):
        dec(0.1)  # type: ignore[arg-type]


def test_column_rounding_matches_scalar_rounding() -> None:
    values = ["2.345", "-2.345", "0.125", "-0.125", "2.355", "0.004", "-0.005", "123456789.995"]
    frame = pl.DataFrame({"v": [D(v) for v in values]}, schema={"v": pl.Decimal(38, 3)})
    got = frame.select(from_units(rescale_half_up(units(pl.col("v"), 3), 3, 2), 2).alias("r"))[
        "r"
    ].to_list()
    assert got == [round_half_up(D(v), 2) for v in values]


def test_integer_division_helpers() -> None:
    frame = pl.DataFrame({"n": [7, -7, 5, -5, 6]}, schema={"n": pl.Int128})
    assert frame.select(div_half_up(pl.col("n"), 2).alias("x"))["x"].to_list() == [4, -4, 3, -3, 3]
    assert frame.select(div_floor(pl.col("n"), 2).alias("x"))["x"].to_list() == [3, -4, 2, -3, 3]
    assert frame.select(div_ceil(pl.col("n"), 2).alias("x"))["x"].to_list() == [4, -3, 3, -2, 3]
