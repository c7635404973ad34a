"""Positions (SETTLEMENT_RULES §5) from the opening positions and the day's matched legs.

BUY OPEN adds to long_qty, SELL OPEN to short_qty, BUY CLOSE reduces short_qty, SELL CLOSE reduces
long_qty, within the leg's hedge flag. The intraday job applies the legs in ``seq`` order (buy leg
first) and records each side's position after every leg; a negative one means a close larger than
the position at that moment: a break (§5).
"""

from __future__ import annotations

import polars as pl

from settlement.errors import Problem

KEY = ["account_id", "instrument_id", "hedge_flag"]


def end_of_day_positions(opening_positions: pl.DataFrame, sums: pl.DataFrame) -> pl.DataFrame:
    """§5: every (account, instrument, hedge flag) held at D-1 or traded on D, with the D-1 and
    end-of-day quantities (before expiring positions are removed, §9). ``sums`` are the journal's
    per-key lots by side and offset (:func:`settlement.journal.leg_sums`)."""
    prev = opening_positions.select(
        *KEY, pl.col("long_qty").alias("long_qty_prev"), pl.col("short_qty").alias("short_qty_prev")
    )
    totals = sums.select(*KEY, "buy_open", "sell_open", "buy_close", "sell_close")
    frame = prev.join(totals, on=KEY, how="full", coalesce=True).with_columns(
        pl.col(
            "long_qty_prev", "short_qty_prev", "buy_open", "sell_open", "buy_close", "sell_close"
        ).fill_null(0)
    )
    return frame.with_columns(
        (pl.col("long_qty_prev") + pl.col("buy_open") - pl.col("sell_close")).alias("long_qty"),
        (pl.col("short_qty_prev") + pl.col("sell_open") - pl.col("buy_close")).alias("short_qty"),
    ).sort(KEY)


def position_breaks(legs: pl.DataFrame) -> list[Problem]:
    """§5: a close larger than the position it closes at that moment."""
    bad = legs.filter(pl.col("position_after") < 0).sort("seq", "leg_no")
    return [
        Problem(
            "trades",
            f"seq={seq} trade_id={trade_id} {side} leg",
            f"{side.lower()}_offset",
            f"{side} CLOSE of {qty} lots by {account} in {instrument} ({hedge}) exceeds the position by {-after}",
            "§5",
        )
        for seq, trade_id, side, qty, account, instrument, hedge, after in bad.select(
            "seq",
            "trade_id",
            "side",
            "qty",
            "account_id",
            "instrument_id",
            "hedge_flag",
            "position_after",
        ).iter_rows()
    ]
