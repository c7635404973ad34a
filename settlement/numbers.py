"""The one numbers module: exact decimals, half-up rounding and rounding to the tick.

SETTLEMENT_RULES preamble: "Round(x, n)" is round half up (away from zero on .5) to n decimals.
§4 rounds price limits down (limit up) or up (limit down) to the tick.

Two forms of the same arithmetic live here:

* scalars: :class:`decimal.Decimal`, for reference values, tests and publication;
* columns: Polars expressions over exact integer *units* (``Int128``). Polars' own Decimal
  ``round``/``cast`` round half-to-even and its multiply/divide may drop scale, so rules never use
  them: a Decimal column is turned into integer units at a stated scale with :func:`units`,
  computed on exactly, rounded here with :func:`div_half_up` or :func:`div_floor`, and turned back
  with :func:`from_units`. Nothing else rounds.
"""

from __future__ import annotations

import decimal
from decimal import ROUND_HALF_UP, Decimal

import polars as pl

PRICE_SCALE = 6  # prices, strikes, ticks, underlying levels
MONEY_SCALE = 2  # money: 2 places (DATA_CONTRACT conventions)
RATE_SCALE = 8  # rates: margin rates, fee rates, limit percentages

CONTEXT = decimal.Context(prec=50, rounding=ROUND_HALF_UP, traps=[decimal.InvalidOperation])
decimal.setcontext(CONTEXT)

UNITS = pl.Int128
ZERO = pl.lit(0, dtype=UNITS)


def dec(value: str | int | Decimal) -> Decimal:
    """The one Decimal constructor: from a string or an int, never from a float."""
    if isinstance(value, float):
        raise TypeError(f"binary float {value!r} is not money; pass a decimal string")
    return Decimal(value)


def round_half_up(value: Decimal, places: int) -> Decimal:
    """Round(x, n) of SETTLEMENT_RULES: half up, away from zero on .5."""
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP, context=CONTEXT)


def money(value: Decimal) -> Decimal:
    return round_half_up(value, MONEY_SCALE)


# ---- column arithmetic on integer units -------------------------------------------------------


def units(expr: pl.Expr, scale: int) -> pl.Expr:
    """A Decimal column as exact ``Int128`` units of 10**-scale (scale >= the column's scale)."""
    scaled: pl.Expr = expr.cast(pl.Decimal(38, scale)) * (10**scale)
    return scaled.cast(UNITS)


def from_units(expr: pl.Expr, scale: int) -> pl.Expr:
    """Integer units of 10**-scale back to a Decimal(38, scale) column, exactly."""
    return expr.cast(pl.Decimal(38, 0)) * pl.lit(Decimal(1).scaleb(-scale), pl.Decimal(38, scale))


def pow10(n: int) -> pl.Expr:
    return pl.lit(10**n, dtype=UNITS)


def div_half_up(numerator: pl.Expr, denominator: pl.Expr | int) -> pl.Expr:
    """Round(numerator / denominator) half away from zero, on integers (denominator > 0)."""
    den = pl.lit(denominator, dtype=UNITS) if isinstance(denominator, int) else denominator
    magnitude = (numerator.abs() * 2 + den) // (den * 2)
    return pl.when(numerator < 0).then(ZERO - magnitude).otherwise(magnitude)


def rescale_half_up(expr: pl.Expr, from_scale: int, to_scale: int) -> pl.Expr:
    """Units at ``from_scale`` rounded half up to units at ``to_scale`` (to_scale <= from_scale)."""
    if to_scale == from_scale:
        return expr
    return div_half_up(expr, 10 ** (from_scale - to_scale))


def div_floor(numerator: pl.Expr, denominator: pl.Expr | int) -> pl.Expr:
    den = pl.lit(denominator, dtype=UNITS) if isinstance(denominator, int) else denominator
    return numerator // den


def div_ceil(numerator: pl.Expr, denominator: pl.Expr | int) -> pl.Expr:
    den = pl.lit(denominator, dtype=UNITS) if isinstance(denominator, int) else denominator
    return ZERO - ((ZERO - numerator) // den)


def plain_text(value_units: pl.Expr, scale: int) -> pl.Expr:
    """Integer units as a plain decimal string without trailing zeros (4.600000 -> 4.6), for
    messages."""
    text = from_units(value_units, scale).cast(pl.String)
    return text.str.replace(r"(\.\d*?)0+$", "${1}").str.replace(r"\.$", "")
