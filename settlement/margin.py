"""Margin (SETTLEMENT_RULES §7).

§7.1 futures: long_margin = S × mult × long_qty × rate(LONG), short_margin likewise, Round(·, 2) per
row; per account and margin group the charge is max(Σ long_margin, Σ short_margin) (single larger
side). §7.2 short options, per lot:
    call: S×mult + max(U×mult×k − OTM, m×U×mult×k), OTM = max((K − U)×mult, 0)
    put:  S×mult + max(U×mult×k − OTM, m×K×mult×k), OTM = max((U − K)×mult, 0)
Round(·, 2) per lot, times short_qty. §7.3 account margin = Σ group margins + Σ option margins.
"""

from __future__ import annotations

import polars as pl

from settlement.numbers import MONEY_SCALE, PRICE_SCALE, RATE_SCALE, ZERO, rescale_half_up, units

FUTURES_SCALE = PRICE_SCALE + RATE_SCALE
OPTION_SCALE = PRICE_SCALE + 2 * RATE_SCALE


def with_margin_rates(positions: pl.DataFrame, margin_rates: pl.DataFrame) -> pl.DataFrame:
    rates = margin_rates.select(
        "instrument_id",
        "hedge_flag",
        units(pl.col("long_rate"), RATE_SCALE).alias("long_rate_u"),
        units(pl.col("short_rate"), RATE_SCALE).alias("short_rate_u"),
    )
    return positions.join(rates, on=["instrument_id", "hedge_flag"], how="left")


def option_margin_per_lot(
    s: pl.Expr, u: pl.Expr, k: pl.Expr, m: pl.Expr, strike: pl.Expr, mult: pl.Expr, call: pl.Expr
) -> pl.Expr:
    """§7.2 per-lot short option margin in units of 10**-OPTION_SCALE (unrounded)."""
    lift = 10 ** (2 * RATE_SCALE)
    otm = (
        pl.when(call)
        .then(pl.max_horizontal((strike - u) * mult, ZERO))
        .otherwise(pl.max_horizontal((u - strike) * mult, ZERO))
    )
    base: pl.Expr = u * mult * k * 10**RATE_SCALE - otm * lift
    floor_ = pl.when(call).then(m * u * mult * k).otherwise(m * strike * mult * k)
    per_lot: pl.Expr = s * mult * lift + pl.max_horizontal(base, floor_)
    return per_lot


def position_margins(positions: pl.DataFrame) -> pl.DataFrame:
    """Per-row long_margin and short_margin in cents (futures before the single-larger-side rule;
    option rows carry the short-option margin in short_margin). Positions removed at expiry hold 0."""
    s, mult = pl.col("settle_u"), pl.col("mult")
    long_q = pl.col("long_qty_eod").cast(pl.Int128)
    short_q = pl.col("short_qty_eod").cast(pl.Int128)
    futures_long = rescale_half_up(
        s * mult * long_q * pl.col("long_rate_u"), FUTURES_SCALE, MONEY_SCALE
    )
    futures_short = rescale_half_up(
        s * mult * short_q * pl.col("short_rate_u"), FUTURES_SCALE, MONEY_SCALE
    )
    per_lot = option_margin_per_lot(
        s,
        pl.col("underlying_close_u"),
        units(pl.col("option_k"), RATE_SCALE),
        units(pl.col("option_m"), RATE_SCALE),
        pl.col("strike_u"),
        mult,
        pl.col("option_type") == "C",
    )
    option_short = rescale_half_up(per_lot, OPTION_SCALE, MONEY_SCALE) * short_q
    return positions.with_columns(
        pl.when(pl.col("is_option"))
        .then(0)
        .otherwise(futures_long)
        .fill_null(0)
        .alias("long_margin_c"),
        pl.when(pl.col("is_option"))
        .then(option_short)
        .otherwise(futures_short)
        .fill_null(0)
        .alias("short_margin_c"),
    )


def account_margin(positions: pl.DataFrame) -> pl.DataFrame:
    """§7.1 single larger side per (account, margin group) plus §7.3 option margins, per account."""
    futures = (
        positions.filter(~pl.col("is_option"))
        .group_by("account_id", "margin_group")
        .agg(pl.col("long_margin_c").sum(), pl.col("short_margin_c").sum())
        .with_columns(pl.max_horizontal("long_margin_c", "short_margin_c").alias("group_margin_c"))
        .group_by("account_id")
        .agg(pl.col("group_margin_c").sum().alias("futures_margin_c"))
    )
    options = (
        positions.filter(pl.col("is_option"))
        .group_by("account_id")
        .agg(pl.col("short_margin_c").sum().alias("option_margin_c"))
    )
    return futures.join(options, on="account_id", how="full", coalesce=True).select(
        "account_id",
        (pl.col("futures_margin_c").fill_null(0) + pl.col("option_margin_c").fill_null(0)).alias(
            "margin_c"
        ),
    )
