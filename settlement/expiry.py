"""Option premium and final settlement (SETTLEMENT_RULES §9, §8.3).

Premium moves in cash on the trade day: the buyer pays p × q × mult, the seller receives it,
Round(·, 2) per leg. On an instrument's last trading day, after the day is settled: futures positions
are closed at the final settlement price and pay the delivery fee per lot (RATIO: rate × final price ×
mult per lot; PER_LOT: amount per lot), Round(·, 2) per position row; options with an intrinsic value
of at least one tick are exercised: a long call receives (U_final − K) × mult × q, a short call pays
it (puts: K − U_final), from the unrounded intrinsic value, Round(·, 2) per position row, and both
sides pay the exercise fee per lot; other options expire worthless. All positions in the instrument
are then removed.
"""

from __future__ import annotations

import polars as pl

from settlement.numbers import MONEY_SCALE, PRICE_SCALE, RATE_SCALE, ZERO, rescale_half_up, units


def premium(legs: pl.DataFrame) -> pl.Expr:
    """Signed premium in cents from the account's view: buyer negative, seller positive (options)."""
    amount = rescale_half_up(
        units(pl.col("price"), PRICE_SCALE) * pl.col("qty").cast(pl.Int128) * pl.col("mult"),
        PRICE_SCALE,
        MONEY_SCALE,
    )
    return (
        pl.when(~pl.col("is_option"))
        .then(0)
        .when(pl.col("side") == "BUY")
        .then(ZERO - amount)
        .otherwise(amount)
    )


def final_settlement(positions: pl.DataFrame) -> pl.DataFrame:
    """Adds exercise_cash_c, delivery_exercise_fee_c and the post-expiry quantities
    long_qty_eod / short_qty_eod (0 in instruments at their last trading day)."""
    lots = (pl.col("long_qty") + pl.col("short_qty")).cast(pl.Int128)
    last = pl.col("is_last_day")
    intrinsic = (
        pl.when(pl.col("option_type") == "C")
        .then(pl.col("final_u") - pl.col("strike_u"))
        .otherwise(pl.col("strike_u") - pl.col("final_u"))
    )
    exercised = last & pl.col("is_option") & (intrinsic >= pl.col("tick_u"))
    net = (pl.col("long_qty") - pl.col("short_qty")).cast(pl.Int128)
    exercise_cash = rescale_half_up(intrinsic * pl.col("mult") * net, PRICE_SCALE, MONEY_SCALE)
    delivery_ratio = rescale_half_up(
        units(pl.col("delivery_fee"), RATE_SCALE) * pl.col("final_u") * pl.col("mult") * lots,
        RATE_SCALE + PRICE_SCALE,
        MONEY_SCALE,
    )
    delivery_lot = rescale_half_up(
        units(pl.col("delivery_fee"), RATE_SCALE) * lots, RATE_SCALE, MONEY_SCALE
    )
    delivery = (
        pl.when(pl.col("delivery_fee_basis") == "RATIO")
        .then(delivery_ratio)
        .otherwise(delivery_lot)
    )
    exercise_fee = units(pl.col("exercise_fee"), MONEY_SCALE) * lots
    return positions.with_columns(
        pl.when(exercised).then(exercise_cash).otherwise(0).alias("exercise_cash_c"),
        pl.when(last & ~pl.col("is_option"))
        .then(delivery)
        .when(exercised)
        .then(exercise_fee)
        .otherwise(0)
        .alias("delivery_exercise_fee_c"),
        pl.when(last).then(0).otherwise(pl.col("long_qty")).alias("long_qty_eod"),
        pl.when(last).then(0).otherwise(pl.col("short_qty")).alias("short_qty_eod"),
    )
