"""Intraday risk estimate (ISSUE: intraday streaming, item 6; rules of SETTLEMENT_RULES §5-§10).

During the session the day's settlement price does not exist yet. The estimate runs the end of
day's own rule functions over the pre-aggregates streamed so far, with each instrument's last traded
price standing in for the settlement price (an instrument without a trade yet keeps its previous
settlement price; on its last trading day the final settlement price of §9 still applies):
positions (§5), mark-to-market (§6), margin with the single larger side and option short margin (§7),
trading and declaration fees (§8), premium (§9), funds and available funds (§10).

Alerts, as rows of the ``alerts`` topic (schemas/topics/alerts.json):

* ``AVAILABLE_NEGATIVE``: an account's estimated available funds are below zero;
* ``POSITION_LIMIT``: an account's larger side (long or short lots) in one product is above the
  product's position limit (deploy/risk_limits.json: the data contract carries no limits);
* ``ORDER_TO_TRADE``: an account's order-to-trade ratio in a declaration scope (§8.2) is above the
  product's ``decl_otr_threshold`` from reference data, once it has sent ``otr_min_messages``
  messages there (below that the ratio of a quiet account says nothing).
"""

from __future__ import annotations

from datetime import date

import polars as pl

from settlement.eod import account_funds, priced
from settlement.instruments import instrument_table
from settlement.journal import journal_of
from settlement.model import Aggregates, Opening, Reference
from settlement.numbers import MONEY_SCALE, PRICE_SCALE, from_units, units
from settlement.prices import settlement_prices


def at_last_prices(prices: pl.DataFrame, instrument_day: pl.DataFrame) -> pl.DataFrame:
    """``prices`` with ``settle_u`` replaced by the last traded price where there was a trade
    (instruments on their last trading day keep the final settlement price, §9)."""
    last = instrument_day.select(
        "instrument_id", units(pl.col("close"), PRICE_SCALE).alias("last_u")
    )
    return (
        prices.join(last, on="instrument_id", how="left")
        .with_columns(
            pl.when(pl.col("last_u").is_not_null() & ~pl.col("is_last_day"))
            .then(pl.col("last_u"))
            .otherwise(pl.col("settle_u"))
            .alias("settle_u")
        )
        .drop("last_u")
    )


def estimate(
    day: date, reference: Reference, opening: Opening, aggregates: Aggregates
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(funds per account in cents as §10 computes them, positions, declaration scopes) at the
    last traded prices."""
    instruments = instrument_table(reference, opening, day)
    prices = at_last_prices(
        settlement_prices(instruments, aggregates.instrument_minutes, aggregates.instrument_day),
        aggregates.instrument_day,
    )
    journal = journal_of(aggregates.legs, instruments)
    positions = priced(opening, journal, reference, prices)
    declarations, accounts = account_funds(
        opening, aggregates, journal, positions, instruments, reference
    )
    return accounts, positions, declarations


def risk_alerts(
    day: date,
    reference: Reference,
    opening: Opening,
    aggregates: Aggregates,
    position_limits: dict[str, int],
    otr_min_messages: int,
) -> pl.DataFrame:
    """Every account and subject in breach now, one row each (the caller raises each once):
    available funds below zero (§10 available = balance − margin), the larger side of a product's
    positions (§5) above its limit, and an order-to-trade ratio above the threshold (§8.2, compared
    unrounded as the declaration fee compares it)."""
    accounts, positions, declarations = estimate(day, reference, opening, aggregates)
    money = from_units(pl.col("available"), MONEY_SCALE).cast(pl.String)
    negative = accounts.filter(pl.col("available") < 0).select(
        pl.lit("AVAILABLE_NEGATIVE").alias("kind"),
        "account_id",
        pl.lit("funds").alias("subject"),
        money.alias("value"),
        pl.lit("0").alias("threshold"),
        pl.format("estimated available funds {} at last traded prices", money).alias("message"),
    )
    limits = pl.DataFrame(
        {"product": list(position_limits), "limit": list(position_limits.values())},
        schema={"product": pl.String, "limit": pl.Int64},
    )
    sides = (
        positions.group_by("account_id", "product")
        .agg(pl.col("long_qty_eod").sum(), pl.col("short_qty_eod").sum())
        .with_columns(pl.max_horizontal("long_qty_eod", "short_qty_eod").alias("lots"))
        .join(limits, on="product")
        .filter(pl.col("lots") > pl.col("limit"))
    )
    over_limit = sides.select(
        pl.lit("POSITION_LIMIT").alias("kind"),
        "account_id",
        pl.col("product").alias("subject"),
        pl.col("lots").cast(pl.String).alias("value"),
        pl.col("limit").cast(pl.String).alias("threshold"),
        pl.format("{} lots on one side of {}, limit {}", "lots", "product", "limit").alias(
            "message"
        ),
    )
    otr = from_units(pl.col("otr_4"), 4).cast(pl.String)
    busy = declarations.filter(~pl.col("low_otr") & (pl.col("messages") >= otr_min_messages))
    high_otr = busy.select(
        pl.lit("ORDER_TO_TRADE").alias("kind"),
        "account_id",
        pl.col("scope").alias("subject"),
        otr.alias("value"),
        pl.col("decl_otr_threshold")
        .cast(pl.String)
        .str.strip_chars_end("0")
        .str.strip_chars_end(".")
        .alias("threshold"),
        pl.format("order-to-trade ratio {} in {} ({} messages)", otr, "scope", "messages").alias(
            "message"
        ),
    )
    return pl.concat([negative, over_limit, high_otr]).sort("kind", "account_id", "subject")
