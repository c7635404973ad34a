"""The trade journal: every leg's published row, and the per-position sums the end of day needs.

A leg's fee (§8.1: rate × p × q × mult or amount × q, close-today lots at fee_close_today,
Round(·, 2) once per leg), its premium (§9: p × q × mult, Round(·, 2) per leg, buyer negative) and its
turnover depend only on the leg and the day's reference data, never on the settlement price. So the
journal is final as soon as the intraday job has matched the leg (§5.1), and it is built from the
pre-aggregated legs before the close, chunk by chunk (:mod:`edge.journal_files`). The end of day
then reads, per (account, instrument, hedge flag), only sums that add up across chunks:

* lots by side and offset (§5 positions);
* Σ p·q per side, the FIFO close value and the D-1 lots closed (§6 mark-to-market, close_pnl);
* Σ fee (§8.1, each leg rounded first), premium received and paid (§9), which §10 funds add up.

Legs that break §5 (a close larger than the position) or name an instrument the reference data does
not list are kept whole in ``exceptions``; the end of day turns them into breaks.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from settlement.expiry import premium
from settlement.fees import trading_fees
from settlement.numbers import MONEY_SCALE, PRICE_SCALE, ZERO, from_units, rescale_half_up, units
from settlement.positions import KEY

#: Per-position sums, additive across chunks of legs: lots (§5), price units (§6), cents (§8.1, §9).
LOTS = ["buy_open", "sell_open", "buy_close", "sell_close", "close_prev_signed_q"]
PRICE_UNITS = ["buy_pq_u", "sell_pq_u", "close_value_u"]
CENTS = ["fee_c", "premium_received_c", "premium_paid_c"]
SUMS = [*LOTS, *PRICE_UNITS, *CENTS]

LEG_TERMS = [
    "instrument_id",
    "mult",
    "is_option",
    "settle_decimals",
    "fee_basis",
    "fee_open",
    "fee_close",
    "fee_close_today",
]


@dataclass(frozen=True)
class Journal:
    """The day's legs as the end of day needs them.

    ``trades`` holds the published trade rows in memory (tests, the risk estimate). It is None for a
    journal built intraday: the edge holds its finished ``trades.csv`` per member on disk
    (:class:`edge.journal_files.JournalOnDisk`), and the publication links them."""

    sums: pl.DataFrame
    exceptions: pl.DataFrame
    trades: pl.DataFrame | None = None


def priced_legs(legs: pl.DataFrame, instruments: pl.DataFrame) -> pl.DataFrame:
    """Each leg with ``fee_c`` (§8.1), ``premium_c`` (§9, signed from the account's view) and
    ``turnover_c`` (p × q × mult, Round(·, 2)), all in cents, and the instrument's settle_decimals."""
    terms = instruments.select(LEG_TERMS)
    frame = trading_fees(
        legs.join(
            terms.select("instrument_id", "mult", "is_option", "settle_decimals"),
            on="instrument_id",
            how="left",
        ),
        terms.select("instrument_id", "fee_basis", "fee_open", "fee_close", "fee_close_today"),
    )
    turnover = rescale_half_up(
        units(pl.col("price"), PRICE_SCALE) * pl.col("qty").cast(pl.Int128) * pl.col("mult"),
        PRICE_SCALE,
        MONEY_SCALE,
    )
    return frame.with_columns(premium(frame).alias("premium_c"), turnover.alias("turnover_c"))


def _lots(side: str, offset: str) -> pl.Expr:
    hit = (pl.col("side") == side) & (pl.col("offset") == offset)
    return pl.when(hit).then(pl.col("qty")).otherwise(0).cast(pl.Int128).sum()


def leg_sums(priced: pl.DataFrame) -> pl.DataFrame:
    """Per (account, instrument, hedge flag), the sums of :data:`SUMS` over ``priced`` legs.

    close_value_u is, per close leg, p·q less the cost of the D opens it consumed (FIFO, §5.1),
    positive for a sell close and negative for a buy close; close_prev_signed_q the D-1 lots it
    closed, with the same sign (§6)."""
    price = units(pl.col("price"), PRICE_SCALE)
    pq = price * pl.col("qty").cast(pl.Int128)
    is_buy = pl.col("side") == "BUY"
    is_close = pl.col("offset") == "CLOSE"
    sign = pl.when(is_buy).then(-1).otherwise(1).cast(pl.Int128)
    close_value = pq - units(pl.col("fifo_open_cost"), PRICE_SCALE)
    return priced.group_by(KEY).agg(
        _lots("BUY", "OPEN").alias("buy_open"),
        _lots("SELL", "OPEN").alias("sell_open"),
        _lots("BUY", "CLOSE").alias("buy_close"),
        _lots("SELL", "CLOSE").alias("sell_close"),
        pl.when(is_close)
        .then(sign * pl.col("fifo_prev_qty").cast(pl.Int128))
        .otherwise(0)
        .sum()
        .alias("close_prev_signed_q"),
        pl.when(is_buy).then(pq).otherwise(0).sum().alias("buy_pq_u"),
        pl.when(~is_buy).then(pq).otherwise(0).sum().alias("sell_pq_u"),
        pl.when(is_close).then(sign * close_value).otherwise(0).sum().alias("close_value_u"),
        pl.col("fee_c").sum(),
        pl.when(pl.col("premium_c") > 0)
        .then(pl.col("premium_c"))
        .otherwise(0)
        .sum()
        .alias("premium_received_c"),
        pl.when(pl.col("premium_c") < 0)
        .then(ZERO - pl.col("premium_c"))
        .otherwise(0)
        .sum()
        .alias("premium_paid_c"),
    )


def add_up(parts: list[pl.DataFrame]) -> pl.DataFrame:
    """Sums of several chunks' :func:`leg_sums` into one row per key."""
    return (
        pl.concat(parts).group_by(KEY).agg(pl.col(c).cast(pl.Int128).sum() for c in SUMS).sort(KEY)
    )


def exceptions(legs: pl.DataFrame, instruments: pl.DataFrame) -> pl.DataFrame:
    """Legs that break §5 (position after the leg below zero) or name an unlisted instrument."""
    unknown = ~pl.col("instrument_id").is_in(instruments["instrument_id"].implode())
    return legs.filter((pl.col("position_after") < 0) | unknown)


def journal_of(legs: pl.DataFrame, instruments: pl.DataFrame) -> Journal:
    """The whole journal in memory (one chunk): what the intraday build does, for small days."""
    listed = legs.filter(pl.col("instrument_id").is_in(instruments["instrument_id"].implode()))
    priced = priced_legs(listed, instruments)
    return Journal(
        sums=add_up([leg_sums(priced)]),
        exceptions=exceptions(legs, instruments),
        trades=priced,
    )


def trade_rows(priced: pl.DataFrame) -> pl.DataFrame:
    """The published trades.csv rows (typed, DATA_CONTRACT order) of :func:`priced_legs`."""
    cents = {"turnover": "turnover_c", "fee": "fee_c", "premium": "premium_c"}
    return priced.select(
        "trade_id",
        "seq",
        "ts",
        "account_id",
        "instrument_id",
        "side",
        "offset",
        "hedge_flag",
        "price",
        "qty",
        *(from_units(pl.col(c), MONEY_SCALE).alias(n) for n, c in cents.items()),
        "close_today_qty",
        "settle_decimals",
    ).sort("seq", "side")
