"""The end of day: reference data + opening state + frozen pre-aggregates -> results + breaks.

Pure: no files, no Kafka, no clocks. ``settle_day`` applies SETTLEMENT_RULES §3-§10 in order and
returns the published tables (typed, Decimal money) and the closing state for D+1, or the list of
breaks that stop the day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl

from settlement.errors import Problem
from settlement.expiry import final_settlement
from settlement.fees import declaration_fees
from settlement.funds import FUNDS_CENTS, funds
from settlement.instruments import instrument_table
from settlement.journal import Journal, journal_of, trade_rows
from settlement.margin import account_margin, position_margins, with_margin_rates
from settlement.model import Aggregates, Opening, Reference
from settlement.mtm import mark_to_market
from settlement.numbers import MONEY_SCALE, PRICE_SCALE, from_units, rescale_half_up, units
from settlement.positions import KEY, end_of_day_positions, position_breaks
from settlement.prices import price_breaks, settlement_prices

PRICE_INFO = [
    "instrument_id",
    "product",
    "kind",
    "is_option",
    "is_last_day",
    "mult",
    "settle_decimals",
    "tick_u",
    "settle_u",
    "prev_settle_u",
    "final_u",
    "strike_u",
    "option_type",
    "underlying_close_u",
    "option_k",
    "option_m",
    "margin_group",
    "delivery_fee_basis",
    "delivery_fee",
    "exercise_fee",
]


@dataclass(frozen=True)
class DayResult:
    day: date
    settlement_prices: pl.DataFrame
    positions: pl.DataFrame
    trades: pl.DataFrame | None  # None: the trade journal built intraday holds the rows (on disk)
    declaration_fees: pl.DataFrame
    funds: pl.DataFrame
    margin_calls: pl.DataFrame
    closing_positions: pl.DataFrame
    closing_balances: pl.DataFrame
    closing_settlement_prices: pl.DataFrame
    account_members: pl.DataFrame


def _price(units_col: str, name: str) -> pl.Expr:
    return from_units(pl.col(units_col), PRICE_SCALE).alias(name)


def _money(cents_col: str, name: str | None = None) -> pl.Expr:
    return from_units(pl.col(cents_col), MONEY_SCALE).alias(name or cents_col)


def reference_breaks(
    legs: pl.DataFrame, positions: pl.DataFrame, instruments: pl.DataFrame, reference: Reference
) -> list[Problem]:
    problems: list[Problem] = []
    unknown = legs.join(instruments.select("instrument_id"), on="instrument_id", how="anti")
    for seq, trade_id, side, instrument in unknown.select(
        "seq", "trade_id", "side", "instrument_id"
    ).iter_rows():
        problems.append(
            Problem(
                "trades",
                f"seq={seq} trade_id={trade_id} {side} leg",
                "instrument_id",
                f"unknown instrument {instrument!r}",
                "§5",
            )
        )
    stale = positions.join(
        instruments.filter(pl.col("is_expired")).select("instrument_id"), on="instrument_id"
    )
    for account, instrument in stale.select("account_id", "instrument_id").iter_rows():
        problems.append(
            Problem(
                "opening/positions.csv",
                f"account={account}",
                "instrument_id",
                f"position in expired instrument {instrument}",
                "§9",
            )
        )
    futures = positions.filter(
        ~pl.col("is_option") & (pl.col("long_rate_u").is_null() | pl.col("short_rate_u").is_null())
    )
    for account, instrument, hedge in futures.select(*KEY).iter_rows():
        problems.append(
            Problem(
                "reference/margin_rates.csv",
                f"instrument={instrument} hedge_flag={hedge}",
                "long_rate/short_rate",
                f"missing margin rate for {account}'s position",
                "§7.1",
            )
        )
    return problems


def settle_day(
    day: date,
    reference: Reference,
    opening: Opening,
    aggregates: Aggregates,
    journal: Journal | None = None,
) -> tuple[DayResult | None, list[Problem]]:
    """The day from its frozen pre-aggregates and trade journal (built from ``aggregates.legs``
    in memory when none is given)."""
    instruments = instrument_table(reference, opening, day)
    journal = journal or journal_of(aggregates.legs, instruments)
    prices = settlement_prices(
        instruments, aggregates.instrument_minutes, aggregates.instrument_day
    )
    positions = priced(opening, journal, reference, prices)

    breaks = [
        *price_breaks(
            prices, aggregates.instrument_minutes, aggregates.instrument_day, instruments
        ),
        *position_breaks(journal.exceptions),
        *reference_breaks(journal.exceptions, positions, instruments, reference),
    ]
    if breaks:
        return None, breaks

    declarations, accounts = account_funds(
        opening, aggregates, journal, positions, instruments, reference
    )
    return _tables(
        day, reference, prices, positions, journal, declarations, accounts, aggregates
    ), []


def priced(
    opening: Opening, journal: Journal, reference: Reference, prices: pl.DataFrame
) -> pl.DataFrame:
    """Positions (§5) with §6 mark-to-market, §9 final settlement and §7 margins, all at ``prices``
    (the settlement prices; the intraday risk estimate passes the last traded prices instead)."""
    positions = end_of_day_positions(opening.positions, journal.sums).join(
        prices.select(PRICE_INFO), on="instrument_id", how="left"
    )
    positions = mark_to_market(positions, journal.sums)
    positions = final_settlement(positions)
    return position_margins(with_margin_rates(positions, reference.margin_rates))


def account_funds(
    opening: Opening,
    aggregates: Aggregates,
    journal: Journal,
    positions: pl.DataFrame,
    instruments: pl.DataFrame,
    reference: Reference,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """§8.2 declaration fees and §10 funds of every account, for positions priced by :func:`priced`."""
    declarations = declaration_fees(aggregates.declarations, instruments, reference)
    accounts = funds(
        opening.balances,
        aggregates.funds,
        positions,
        journal.sums,
        declarations,
        account_margin(positions),
    )
    return declarations, accounts


def _tables(
    day: date,
    reference: Reference,
    prices: pl.DataFrame,
    positions: pl.DataFrame,
    journal: Journal,
    declarations: pl.DataFrame,
    accounts: pl.DataFrame,
    aggregates: Aggregates,
) -> DayResult:
    open_interest = positions.group_by("instrument_id").agg(
        pl.col("long_qty").sum().alias("open_interest")
    )
    day_stats = aggregates.instrument_day.select(
        "instrument_id", "open", "high", "low", "close", "volume", "pq"
    )
    settlement = (
        prices.join(day_stats, on="instrument_id", how="left")
        .join(open_interest, on="instrument_id", how="left")
        .with_columns(
            pl.col("volume").fill_null(0),
            pl.col("open_interest").fill_null(0),
            rescale_half_up(
                units(pl.col("pq").fill_null(0), PRICE_SCALE) * pl.col("mult"),
                PRICE_SCALE,
                MONEY_SCALE,
            ).alias("turnover_c"),
        )
        .select(
            "instrument_id",
            "product",
            _price("prev_settle_u", "prev_settle"),
            _price("settle_u", "settle_price"),
            "price_source",
            _price("limit_down_u", "limit_down"),
            _price("limit_up_u", "limit_up"),
            "open",
            "high",
            "low",
            "close",
            "volume",
            _money("turnover_c", "turnover"),
            "open_interest",
            "settle_decimals",
        )
        .sort("instrument_id")
    )
    position_rows = positions.select(
        *KEY,
        "long_qty_prev",
        "short_qty_prev",
        pl.col("long_qty_eod").alias("long_qty"),
        pl.col("short_qty_eod").alias("short_qty"),
        _price("prev_settle_u", "prev_settle"),
        _price("settle_u", "settle_price"),
        _money("long_margin_c", "long_margin"),
        _money("short_margin_c", "short_margin"),
        _money("total_mtm_c", "total_mtm"),
        _money("close_pnl_c", "close_pnl"),
        _money("position_mtm_c", "position_mtm"),
        "settle_decimals",
    ).sort(KEY)
    decl_rows = declarations.select(
        "account_id",
        "scope",
        "messages",
        "executed",
        from_units(pl.col("otr_4"), 4).alias("otr"),
        _money("fee_c", "fee"),
    )
    fund_rows = accounts.select(
        "account_id",
        *[_money(c) for c in FUNDS_CENTS],
        _money("balance"),
        _money("margin"),
        _money("available"),
        _money("margin_call"),
    )
    margin_calls = fund_rows.filter(pl.col("margin_call") > 0).select(
        "account_id", "balance", "margin", "available", "margin_call"
    )
    closing_positions = position_rows.filter(
        (pl.col("long_qty") > 0) | (pl.col("short_qty") > 0)
    ).select(*KEY, pl.col("long_qty"), pl.col("short_qty"))
    closing_prices = settlement.filter(
        ~pl.col("instrument_id").is_in(
            prices.filter(pl.col("is_last_day"))["instrument_id"].implode()
        )
    ).select("instrument_id", "settle_price", "settle_decimals")
    return DayResult(
        day=day,
        settlement_prices=settlement,
        positions=position_rows,
        trades=None if journal.trades is None else trade_rows(journal.trades),
        declaration_fees=decl_rows,
        funds=fund_rows,
        margin_calls=margin_calls,
        closing_positions=closing_positions,
        closing_balances=fund_rows.select("account_id", "balance"),
        closing_settlement_prices=closing_prices,
        account_members=reference.accounts.select("account_id", "member_id"),
    )
