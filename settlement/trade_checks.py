"""Rule breaks a bundle's trades show before any aggregation: §2 trading hours, §3 trades in an
expired instrument, §4 price limits and §5 closes larger than the position.

``dayclear replay`` runs them at the edge, after the files and the cross-file checks, so that a
bad day is reported in one run with each break naming its trade (line, ``seq``, ``trade_id``) and,
for §4, where its limits come from. The end of day checks the same rules again on the frozen
aggregates (settlement.prices, settlement.positions), which is what the Kafka path relies on.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from settlement.calendar import CLOSE, MICROS, session_length_micros
from settlement.crosscheck import skipped
from settlement.errors import Problem
from settlement.instruments import instrument_table
from settlement.model import LINE, Opening, Reference
from settlement.numbers import PRICE_SCALE, plain_text, units
from settlement.prices import price_limits

SOURCE = "events/trades.csv"
OPEN_MICROS = (9 * 3600 + 30 * 60) * MICROS
MORNING_END_MICROS = (11 * 3600 + 30 * 60) * MICROS
AFTERNOON_MICROS = 13 * 3600 * MICROS


def plain(price_units: pl.Expr) -> pl.Expr:
    return plain_text(price_units, PRICE_SCALE)


def _trade(record: dict[str, object]) -> str:
    return f"seq={record['seq']} trade_id={record['trade_id']}"


def _limits(reference: Reference, opening: Opening, day: date) -> pl.DataFrame:
    """Per instrument: its §4 limits and where prev_settle came from (file, line, value)."""
    priced = instrument_table(reference, opening, day).filter(
        (pl.col("tick_u") > 0) & (pl.col("prev_settle_u") > 0)
    )  # the others have problems of their own (edge.tables' domains)
    table = price_limits(priced)
    prev_lines = opening.settlement_prices.select("instrument_id", pl.col(LINE).alias("_prev_line"))
    listing_lines = reference.instruments.select(
        "instrument_id", pl.col(LINE).alias("_listing_line")
    )
    return (
        table.join(prev_lines, on="instrument_id", how="left")
        .join(listing_lines, on="instrument_id", how="left")
        .with_columns(
            pl.when(pl.col("newly_listed"))
            .then(
                pl.format(
                    "reference/instruments.csv line {} (listing_price {}, newly listed)",
                    "_listing_line",
                    plain(pl.col("prev_settle_u")),
                )
            )
            .otherwise(
                pl.format(
                    "opening/settlement_prices.csv line {} (settle_price {})",
                    "_prev_line",
                    plain(pl.col("prev_settle_u")),
                )
            )
            .alias("_root"),
            plain(pl.col("limit_down_u")).alias("_down"),
            plain(pl.col("limit_up_u")).alias("_up"),
        )
    )


def limit_breaks(trades: pl.DataFrame, limits: pl.DataFrame, unsound: set[str]) -> list[Problem]:
    """§4: a trade outside its instrument's limits, with the limits' root; instruments whose
    inputs have problems are skipped, and said so once."""
    checked = trades.join(
        limits.select(
            "instrument_id", "limit_down_u", "limit_up_u", "_down", "_up", "_root", "is_expired"
        ),
        on="instrument_id",
        how="inner",
    ).with_columns(
        units(pl.col("price"), PRICE_SCALE).alias("_u"),
        plain(units(pl.col("price"), PRICE_SCALE)).alias("_price"),
    )
    problems = [
        Problem(
            SOURCE,
            f"line {row[LINE]}",
            "price",
            f"{_trade(row)}: price {row['_price']} of {row['instrument_id']} lies outside the day's"
            f" limits [{row['_down']}, {row['_up']}], computed from {row['_root']}",
            "§4",
        )
        for row in checked.filter(
            ~pl.col("instrument_id").is_in(sorted(unsound))
            & ((pl.col("_u") > pl.col("limit_up_u")) | (pl.col("_u") < pl.col("limit_down_u")))
        ).iter_rows(named=True)
    ]
    problems += [
        Problem(
            SOURCE,
            f"line {row[LINE]}",
            "instrument_id",
            f"{_trade(row)}: trade in {row['instrument_id']}, an expired instrument",
            "§3",
        )
        for row in checked.filter(pl.col("is_expired")).iter_rows(named=True)
    ]
    traded_unsound = sorted(set(trades["instrument_id"].drop_nulls()) & unsound)
    if traded_unsound:
        problems.append(
            skipped(
                SOURCE,
                "price",
                f"§4 limits of {', '.join(traded_unsound)}",
                "their reference or opening rows have problems (listed)",
            )
        )
    return problems


def hours_breaks(trades: pl.DataFrame, limits: pl.DataFrame) -> list[Problem]:
    """§2: a trade before the open, in the lunch break or after its session's close."""
    close = {s: AFTERNOON_MICROS + session_length_micros(s) - 2 * 3600 * MICROS for s in CLOSE}
    timed = trades.join(limits.select("instrument_id", "session"), on="instrument_id").with_columns(
        (pl.col("ts") - pl.col("ts").dt.truncate("1d")).dt.total_microseconds().alias("_t"),
        pl.col("session")
        .replace_strict(close, default=None, return_dtype=pl.Int64)
        .alias("_close"),
    )
    inside = pl.col("_t").is_between(OPEN_MICROS, MORNING_END_MICROS) | pl.col("_t").is_between(
        AFTERNOON_MICROS, pl.col("_close")
    )
    return [
        Problem(
            SOURCE,
            f"line {row[LINE]}",
            "ts",
            f"{_trade(row)}: {row['ts']} is outside the trading hours of {row['session']}",
            "§2",
        )
        for row in timed.filter(pl.col("ts").is_not_null() & ~inside).iter_rows(named=True)
    ]


def legs(trades: pl.DataFrame) -> pl.DataFrame:
    """Each trade's buy leg then its sell leg, in ``seq`` order (§5)."""
    common = [LINE, "seq", "trade_id", "instrument_id", "qty"]
    sides = [
        trades.select(
            *common,
            pl.lit(n, pl.Int8).alias("leg_no"),
            pl.lit(side).alias("side"),
            *(
                pl.col(f"{side.lower()}_{c}").alias(c)
                for c in ("account_id", "offset", "hedge_flag")
            ),
        )
        for n, side in enumerate(("BUY", "SELL"))
    ]
    return pl.concat(sides).sort("seq", "leg_no")


def position_breaks(trades: pl.DataFrame, opening_positions: pl.DataFrame) -> list[Problem]:
    """§5: a close larger than the position it closes at that moment, leg by leg in ``seq``
    order from the opening position."""
    key = ["account_id", "instrument_id", "hedge_flag"]
    q = pl.col("qty")
    buy, sell, open_ = pl.col("side") == "BUY", pl.col("side") == "SELL", pl.col("offset") == "OPEN"
    walked = (
        legs(trades)
        .join(opening_positions.select(*key, "long_qty", "short_qty"), on=key, how="left")
        .with_columns(
            pl.when(buy & open_).then(q).when(sell & ~open_).then(-q).otherwise(0).alias("_dl"),
            pl.when(sell & open_).then(q).when(buy & ~open_).then(-q).otherwise(0).alias("_ds"),
        )
        .with_columns(
            (pl.col("long_qty").fill_null(0) + pl.col("_dl").cum_sum().over(key)).alias("_long"),
            (pl.col("short_qty").fill_null(0) + pl.col("_ds").cum_sum().over(key)).alias("_short"),
        )
        .with_columns(
            pl.when(buy).then(pl.col("_short")).otherwise(pl.col("_long")).alias("_after")
        )
    )
    return [
        Problem(
            SOURCE,
            f"line {row[LINE]}",
            f"{row['side'].lower()}_offset",
            f"{_trade(row)}: {row['side']} CLOSE of {row['qty']} lots by {row['account_id']} in"
            f" {row['instrument_id']} ({row['hedge_flag']}) exceeds the position by {-row['_after']}",
            "§5",
        )
        for row in walked.filter(~open_ & (pl.col("_after") < 0)).iter_rows(named=True)
    ]


def trade_breaks(
    reference: Reference,
    opening: Opening,
    trades: pl.DataFrame,
    day: date,
    unsound: set[str],
    sound_positions: bool,
) -> list[Problem]:
    """§2-§5 breaks of the bundle's trades; ``unsound`` instruments are not checked against
    their limits, and §5 is not walked unless the trades and opening positions are sound."""
    limits = _limits(reference, opening, day)
    whole = trades.drop_nulls(["seq", "instrument_id", "price", "qty"])
    problems = limit_breaks(whole, limits, unsound) + hours_breaks(whole, limits)
    if sound_positions:
        problems += position_breaks(whole, opening.positions)
    elif trades.height:
        problems.append(
            skipped(
                SOURCE,
                "buy_offset/sell_offset",
                "§5 positions",
                "events/trades.csv or opening/positions.csv has problems (listed)",
            )
        )
    return problems
