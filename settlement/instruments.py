"""The instrument table every rule joins: product terms, previous settlement, limits inputs.

Per instrument: kind, multiplier, tick, settle_decimals, session, margin group, fee terms, whether D
is its last trading day, the previous settlement price (the listing price for a newly listed
instrument, SETTLEMENT_RULES §3.5), the underlying's previous close and close (§4, §7.2) and the final
settlement price (§3.6, §9). Prices are exact integer units of 10**-PRICE_SCALE (``*_u`` columns).
"""

from __future__ import annotations

from datetime import date

import polars as pl

from settlement.model import Opening, Reference
from settlement.numbers import PRICE_SCALE, RATE_SCALE, units


def instrument_table(reference: Reference, opening: Opening, day: date) -> pl.DataFrame:
    products = reference.products.drop("_line")
    underlyings = reference.underlyings.filter(pl.col("trading_day") == day).select(
        "underlying",
        units(pl.col("prev_close"), PRICE_SCALE).alias("underlying_prev_close_u"),
        units(pl.col("close"), PRICE_SCALE).alias("underlying_close_u"),
    )
    prev = opening.settlement_prices.select(
        "instrument_id", units(pl.col("settle_price"), PRICE_SCALE).alias("opening_settle_u")
    )
    finals = reference.final_settlement_prices.select(
        "instrument_id", units(pl.col("final_settlement_price"), PRICE_SCALE).alias("final_u")
    )
    return (
        reference.instruments.drop("_line")
        .join(products, on="product", how="left")
        .join(prev, on="instrument_id", how="left")
        .join(finals, on="instrument_id", how="left")
        .join(underlyings, on="underlying", how="left")
        .with_columns(
            pl.coalesce("opening_settle_u", units(pl.col("listing_price"), PRICE_SCALE)).alias(
                "prev_settle_u"
            ),
            pl.col("opening_settle_u").is_null().alias("newly_listed"),
            (pl.col("last_trading_day") == day).alias("is_last_day"),
            (pl.col("last_trading_day") < day).alias("is_expired"),
            (pl.col("kind") == "INDEX_OPTION").alias("is_option"),
            units(pl.col("tick"), PRICE_SCALE).alias("tick_u"),
            units(pl.col("strike"), PRICE_SCALE).alias("strike_u"),
            units(pl.col("limit_pct"), RATE_SCALE).alias("limit_pct_u"),
            pl.col("multiplier").cast(pl.Int128).alias("mult"),
        )
        .sort("instrument_id")
    )
