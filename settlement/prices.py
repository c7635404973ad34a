"""Price limits (SETTLEMENT_RULES §4) and the daily settlement price (§3).

All prices are integer units of 10**-PRICE_SCALE; rounding goes through :mod:`.numbers`.
"""

from __future__ import annotations

import polars as pl

from settlement.calendar import HOUR_MICROS, session_length_micros
from settlement.errors import Problem
from settlement.numbers import (
    PRICE_SCALE,
    RATE_SCALE,
    ZERO,
    div_ceil,
    div_floor,
    div_half_up,
    from_units,
    pow10,
    units,
)

WINDOW_MINUTES = 60


def price_limits(instruments: pl.DataFrame) -> pl.DataFrame:
    """§4 limits from prev_settle.

    Futures: up = prev × (1 + pct) rounded down to the tick, down = prev × (1 − pct) rounded up to the
    tick; pct doubled for index futures on their last trading day. Options: up = prev + pct × U_{D-1}
    rounded down, down = max(tick, prev − pct × U_{D-1}) rounded up to the tick.
    """
    one = pow10(RATE_SCALE)
    pct = (
        pl.when((pl.col("kind") == "INDEX_FUTURE") & pl.col("is_last_day"))
        .then(pl.col("limit_pct_u") * 2)
        .otherwise(pl.col("limit_pct_u"))
    )
    tick_scaled = pl.col("tick_u") * one  # ticks in units of 10**-(PRICE_SCALE + RATE_SCALE)
    prev = pl.col("prev_settle_u")
    futures_up = div_floor(prev * (one + pct), tick_scaled) * pl.col("tick_u")
    futures_down = div_ceil(prev * (one - pct), tick_scaled) * pl.col("tick_u")
    swing = pl.col("limit_pct_u") * pl.col("underlying_prev_close_u")
    option_up = div_floor(prev * one + swing, tick_scaled) * pl.col("tick_u")
    option_down = pl.max_horizontal(
        pl.col("tick_u"), div_ceil(prev * one - swing, tick_scaled) * pl.col("tick_u")
    )
    return instruments.with_columns(
        pl.when(pl.col("is_option")).then(option_up).otherwise(futures_up).alias("limit_up_u"),
        pl.when(pl.col("is_option"))
        .then(option_down)
        .otherwise(futures_down)
        .alias("limit_down_u"),
    )


def _to_settle_decimals(pq_units: pl.Expr, qty: pl.Expr) -> pl.Expr:
    """Round(Σ(p·q) / Σq, settle_decimals), back in price units (§3.3)."""
    step = pl.lit(10, dtype=pl.Int128).pow(PRICE_SCALE - pl.col("settle_decimals"))
    return div_half_up(pq_units, qty.cast(pl.Int128) * step) * step


def session_minutes() -> pl.Expr:
    """Trading minutes from the open to the close of each instrument's session (§2)."""
    minutes = {s: session_length_micros(s) // 60_000_000 for s in ("INDEX", "BOND")}
    return pl.col("session").replace_strict(minutes, return_dtype=pl.Int64)


def window_of_minute(minute: pl.Expr, session_minutes: pl.Expr) -> pl.Expr:
    """§3.2 window number of a trading minute: W1 = the last 60 trading minutes up to and including
    the close, W2 the 60 before, ...; a trade at a window's start belongs to that window."""
    return pl.max_horizontal(pl.lit(1), (session_minutes - 1 - minute) // WINDOW_MINUTES + 1)


def traded_settlement(
    instruments: pl.DataFrame, minutes: pl.DataFrame, days: pl.DataFrame
) -> pl.DataFrame:
    """§3.1-3.3 for traded instruments: VWAP of the first window W1, W2, ... holding a trade, or the
    whole day's VWAP when the last trade came less than 60 trading minutes after the open."""
    sessions = instruments.select(
        "instrument_id", "settle_decimals", session_minutes().alias("session_minutes")
    )
    windows = (
        minutes.filter(pl.col("minute") >= 0)
        .join(sessions, on="instrument_id")
        .with_columns(window_of_minute(pl.col("minute"), pl.col("session_minutes")).alias("window"))
        .group_by("instrument_id", "window")
        .agg(
            pl.col("qty").sum(),
            units(pl.col("pq"), PRICE_SCALE).sum().alias("pq_u"),
        )
        .sort("instrument_id", "window")
        .group_by("instrument_id", maintain_order=True)
        .first()
    )
    day = days.select(
        "instrument_id",
        "last_trade_micros",
        pl.col("volume").alias("day_qty"),
        units(pl.col("pq"), PRICE_SCALE).alias("day_pq_u"),
    )
    early = pl.col("last_trade_micros") < HOUR_MICROS
    return (
        day.join(windows, on="instrument_id", how="left")
        .join(sessions, on="instrument_id")
        .with_columns(
            pl.when(early)
            .then(_to_settle_decimals(pl.col("day_pq_u"), pl.col("day_qty")))
            .otherwise(_to_settle_decimals(pl.col("pq_u"), pl.col("qty")))
            .alias("vwap_u"),
            pl.when(early)
            .then(pl.lit("VWAP_DAY"))
            .when(pl.col("window") == 1)
            .then(pl.lit("VWAP_LAST_HOUR"))
            .otherwise(pl.lit("VWAP_EARLIER_WINDOW"))
            .alias("vwap_source"),
        )
        .select("instrument_id", "vwap_u", "vwap_source")
    )


def _intrinsic_settle(instruments: pl.DataFrame) -> pl.Expr:
    """§9: an option's settlement on its last trading day is max(U_final − K, 0) (call) or
    max(K − U_final, 0) (put), Round(·, settle_decimals)."""
    diff = (
        pl.when(pl.col("option_type") == "C")
        .then(pl.col("final_u") - pl.col("strike_u"))
        .otherwise(pl.col("strike_u") - pl.col("final_u"))
    )
    step = pl.lit(10, dtype=pl.Int128).pow(PRICE_SCALE - pl.col("settle_decimals"))
    return div_half_up(pl.max_horizontal(diff, ZERO), step) * step


def settlement_prices(
    instruments: pl.DataFrame, minutes: pl.DataFrame, days: pl.DataFrame
) -> pl.DataFrame:
    """§3 settlement price and its source for every listed instrument (with §4 limits).

    Last trading day: FINAL (futures: the final settlement price unrounded; options: intrinsic value).
    Traded: VWAP_LAST_HOUR / VWAP_EARLIER_WINDOW / VWAP_DAY. Untraded futures: BENCHMARK (prev + the
    benchmark's change; the benchmark is the same product's traded instrument, not at its last day,
    with the nearest last trading day) or PREVIOUS, clamped into the limits. Untraded options: PREVIOUS.
    """
    listed = price_limits(instruments.filter(~pl.col("is_expired")))
    traded = traded_settlement(listed, minutes, days)
    with_vwap = listed.join(traded, on="instrument_id", how="left")
    benchmarks = with_vwap.filter(
        pl.col("vwap_u").is_not_null() & ~pl.col("is_last_day") & ~pl.col("is_option")
    ).select(
        "product",
        pl.col("last_trading_day").alias("bench_ltd"),
        pl.col("instrument_id").alias("benchmark_id"),
        (pl.col("vwap_u") - pl.col("prev_settle_u")).alias("bench_change_u"),
    )
    nearest = (
        with_vwap.filter(pl.col("vwap_u").is_null() & ~pl.col("is_option"))
        .select("instrument_id", "product", "last_trading_day")
        .join(benchmarks, on="product")
        .with_columns((pl.col("bench_ltd") - pl.col("last_trading_day")).abs().alias("distance"))
        .sort("instrument_id", "distance", "bench_ltd")
        .group_by("instrument_id", maintain_order=True)
        .first()
        .select("instrument_id", "benchmark_id", "bench_change_u")
    )
    frame = with_vwap.join(nearest, on="instrument_id", how="left")
    clamp = pl.min_horizontal(
        pl.col("limit_up_u"),
        pl.max_horizontal(
            pl.col("limit_down_u"), pl.col("prev_settle_u") + pl.col("bench_change_u")
        ),
    )
    settle = (
        pl.when(pl.col("is_last_day") & ~pl.col("is_option"))
        .then(pl.col("final_u"))
        .when(pl.col("is_last_day"))
        .then(_intrinsic_settle(frame))
        .when(pl.col("vwap_u").is_not_null())
        .then(pl.col("vwap_u"))
        .when(~pl.col("is_option") & pl.col("bench_change_u").is_not_null())
        .then(clamp)
        .otherwise(
            pl.min_horizontal(
                pl.col("limit_up_u"),
                pl.max_horizontal(pl.col("limit_down_u"), pl.col("prev_settle_u")),
            )
        )
    )
    options_previous = pl.when(pl.col("is_option")).then(pl.col("prev_settle_u")).otherwise(settle)
    source = (
        pl.when(pl.col("is_last_day"))
        .then(pl.lit("FINAL"))
        .when(pl.col("vwap_u").is_not_null())
        .then(pl.col("vwap_source"))
        .when(~pl.col("is_option") & pl.col("bench_change_u").is_not_null())
        .then(pl.lit("BENCHMARK"))
        .otherwise(pl.lit("PREVIOUS"))
    )
    return frame.with_columns(
        pl.when(pl.col("is_last_day") | pl.col("vwap_u").is_not_null())
        .then(settle)
        .otherwise(options_previous)
        .alias("settle_u"),
        source.alias("price_source"),
    )


def price_breaks(
    prices: pl.DataFrame, minutes: pl.DataFrame, days: pl.DataFrame, instruments: pl.DataFrame
) -> list[Problem]:
    """§4: a trade outside the day's limits is a data error; §2: a trade outside trading hours;
    §3.6: a futures instrument at its last trading day needs a final settlement price; a trade in an
    expired instrument."""
    problems: list[Problem] = []
    checked = days.join(
        prices.select(
            "instrument_id", "limit_up_u", "limit_down_u", "tick_u", "prev_settle_u", "newly_listed"
        ),
        on="instrument_id",
        how="left",
    ).with_columns(
        units(pl.col("high"), PRICE_SCALE).alias("high_u"),
        units(pl.col("low"), PRICE_SCALE).alias("low_u"),
        from_units(pl.col("prev_settle_u"), PRICE_SCALE).alias("prev_settle"),
        from_units(pl.col("limit_down_u"), PRICE_SCALE).alias("limit_down"),
        from_units(pl.col("limit_up_u"), PRICE_SCALE).alias("limit_up"),
    )
    for instrument, high, low, prev, down, up, new in (
        checked.filter(
            (pl.col("high_u") > pl.col("limit_up_u")) | (pl.col("low_u") < pl.col("limit_down_u"))
        )
        .select(
            "instrument_id", "high", "low", "prev_settle", "limit_down", "limit_up", "newly_listed"
        )
        .iter_rows()
    ):
        root = (
            f"reference/instruments.csv listing_price {prev} (newly listed)"
            if new
            else f"opening/settlement_prices.csv settle_price {prev}"
        )
        problems.append(
            Problem(
                "trades",
                f"instrument={instrument}",
                "price",
                f"a trade price (low {low}, high {high}) lies outside the day's limits"
                f" [{down}, {up}], computed from {root}",
                "§4",
            )
        )
    expired = instruments.filter(pl.col("is_expired")).select("instrument_id")
    for (instrument,) in days.join(expired, on="instrument_id").select("instrument_id").iter_rows():
        problems.append(
            Problem(
                "trades",
                f"instrument={instrument}",
                "instrument_id",
                "trade in an expired instrument",
                "§3",
            )
        )
    session_end = instruments.select(
        "instrument_id",
        session_minutes().alias("end"),
    )
    outside = minutes.join(session_end, on="instrument_id").filter(
        (pl.col("minute") < 0) | (pl.col("minute") > pl.col("end"))
    )
    for instrument, n in (
        outside.group_by("instrument_id")
        .agg(pl.col("trades").sum())
        .sort("instrument_id")
        .iter_rows()
    ):
        problems.append(
            Problem(
                "trades",
                f"instrument={instrument}",
                "ts",
                f"{n} trade(s) outside the trading hours",
                "§2",
            )
        )
    missing_final = prices.filter(pl.col("is_last_day") & pl.col("final_u").is_null())
    for (instrument,) in missing_final.select("instrument_id").iter_rows():
        problems.append(
            Problem(
                "reference/final_settlement_prices.csv",
                f"instrument={instrument}",
                "final_settlement_price",
                "missing for an instrument at its last trading day",
                "§3.6",
            )
        )
    return problems
