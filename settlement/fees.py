"""Fees (SETTLEMENT_RULES §8).

§8.1 per leg: a RATIO fee is rate × p × q × mult, a PER_LOT fee amount × q; opens pay fee_open, a
close leg's close_today_qty pays fee_close_today and the rest fee_close; Round(·, 2) once per leg.
§8.2 declaration fees per account and counting scope (INSTRUMENT, PRODUCT, none): otr =
messages / max(executed, 1) − 1, compared unrounded with decl_otr_threshold; fee = Σ over tiers of
(messages in the tier) × (rate_low_otr if otr ≤ threshold else rate_high_otr), Round(·, 2).
§8.3 delivery fee on each lot settled at final settlement; exercise fee per lot exercised.
"""

from __future__ import annotations

import polars as pl

from settlement.model import Reference
from settlement.numbers import (
    MONEY_SCALE,
    PRICE_SCALE,
    RATE_SCALE,
    div_half_up,
    pow10,
    rescale_half_up,
    units,
)

RATIO_SCALE = PRICE_SCALE + RATE_SCALE


def trading_fees(legs: pl.DataFrame, instruments: pl.DataFrame) -> pl.DataFrame:
    """Adds ``fee_c`` (cents) per leg (§8.1); ``legs`` carry the instrument's ``mult``."""
    terms = instruments.select(
        "instrument_id",
        "fee_basis",
        units(pl.col("fee_open"), RATE_SCALE).alias("fee_open_u"),
        units(pl.col("fee_close"), RATE_SCALE).alias("fee_close_u"),
        units(pl.col("fee_close_today"), RATE_SCALE).alias("fee_close_today_u"),
    )
    frame = legs.join(terms, on="instrument_id", how="left")
    qty = pl.col("qty").cast(pl.Int128)
    today = pl.col("close_today_qty").cast(pl.Int128)
    # Σ rate × lots, in rate units: the two parts of a close leg are added before rounding.
    rate_lots = (
        pl.when(pl.col("offset") == "OPEN")
        .then(pl.col("fee_open_u") * qty)
        .otherwise(pl.col("fee_close_today_u") * today + pl.col("fee_close_u") * (qty - today))
    )
    ratio = rescale_half_up(
        rate_lots * units(pl.col("price"), PRICE_SCALE) * pl.col("mult"), RATIO_SCALE, MONEY_SCALE
    )
    per_lot = rescale_half_up(rate_lots, RATE_SCALE, MONEY_SCALE)
    return frame.with_columns(
        pl.when(pl.col("fee_basis") == "RATIO").then(ratio).otherwise(per_lot).alias("fee_c")
    ).drop("fee_basis", "fee_open_u", "fee_close_u", "fee_close_today_u")


def declaration_fees(
    declarations: pl.DataFrame, instruments: pl.DataFrame, reference: Reference
) -> pl.DataFrame:
    """§8.2: one row per (account, scope) of products whose decl_scope is not NONE, with
    ``otr_4`` (otr in units of 10**-4, Round half up) and ``fee_c`` (cents)."""
    scoped = (
        declarations.join(
            instruments.select("instrument_id", "product", "decl_scope", "decl_otr_threshold"),
            on="instrument_id",
            how="left",
        )
        .filter(pl.col("decl_scope") != "NONE")
        .with_columns(
            pl.when(pl.col("decl_scope") == "INSTRUMENT")
            .then(pl.col("instrument_id"))
            .otherwise(pl.col("product"))
            .alias("scope")
        )
    )
    counts = scoped.group_by("account_id", "scope", "product").agg(
        pl.col("messages").sum(), pl.col("executed").sum(), pl.col("decl_otr_threshold").first()
    )
    messages = pl.col("messages").cast(pl.Int128)
    divisor = pl.max_horizontal(pl.col("executed"), pl.lit(1)).cast(pl.Int128)
    one = pow10(RATE_SCALE)
    counts = counts.with_columns(
        # otr <= threshold  <=>  messages <= (threshold + 1) × max(executed, 1): exact, unrounded
        (messages * one <= (units(pl.col("decl_otr_threshold"), RATE_SCALE) + one) * divisor).alias(
            "low_otr"
        ),
        div_half_up((messages - divisor) * 10**4, divisor).alias("otr_4"),
    )
    tiers = reference.declaration_tiers.select(
        "product",
        "above_msgs",
        "up_to_msgs",
        units(pl.col("rate_low_otr"), MONEY_SCALE).alias("low_c"),
        units(pl.col("rate_high_otr"), MONEY_SCALE).alias("high_c"),
    )
    in_tier = pl.max_horizontal(
        pl.min_horizontal(pl.col("messages"), pl.coalesce("up_to_msgs", "messages"))
        - pl.col("above_msgs"),
        pl.lit(0),
    ).cast(pl.Int128)
    rate = pl.when(pl.col("low_otr")).then(pl.col("low_c")).otherwise(pl.col("high_c"))
    fees = (
        counts.join(tiers, on="product", how="inner")
        .with_columns((in_tier * rate).alias("tier_fee_c"))
        .group_by("account_id", "scope")
        .agg(pl.col("tier_fee_c").sum().alias("fee_c"))
    )
    return (
        counts.join(fees, on=["account_id", "scope"], how="left")
        .with_columns(pl.col("fee_c").fill_null(0))
        .sort("account_id", "scope")
    )
