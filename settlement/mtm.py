"""Mark-to-market (SETTLEMENT_RULES §6), futures only.

Per (account, instrument, hedge flag), with S today's settlement price and S0 prev_settle:

    total_mtm = mult × ( Σ_sells (p − S)·q + Σ_buys (S − p)·q + (S0 − S)·(short_qty_{D-1} − long_qty_{D-1}) )

close_pnl follows the FIFO matching of §5.1, summed per key by the journal: for a close leg, ``fifo_prev_qty``
lots are matched to the D-1 position (priced at S0) and the rest to D's opens, whose cost Σ open_p·q is
``fifo_open_cost``. A sell close earns p·q − S0·fifo_prev_qty − fifo_open_cost; a buy close the negative.
Each figure is Round(·, 2) per row and position_mtm = total_mtm − close_pnl from the rounded values.
"""

from __future__ import annotations

import polars as pl

from settlement.numbers import MONEY_SCALE, PRICE_SCALE, rescale_half_up
from settlement.positions import KEY


def mark_to_market(positions: pl.DataFrame, sums: pl.DataFrame) -> pl.DataFrame:
    """Adds total_mtm, close_pnl, position_mtm (Decimal money units ``*_c`` in cents) to futures rows;
    options rows get 0 (§9: options are not marked to market). ``sums`` are the journal's exact
    per-key sums (:func:`settlement.journal.leg_sums`): Σ p·q per side, the FIFO close value and the
    D-1 lots closed."""
    terms = sums.select(
        *KEY,
        "buy_pq_u",
        "sell_pq_u",
        (pl.col("buy_open") + pl.col("buy_close")).cast(pl.Int128).alias("buy_q"),
        (pl.col("sell_open") + pl.col("sell_close")).cast(pl.Int128).alias("sell_q"),
        "close_value_u",
        "close_prev_signed_q",
    )
    frame = positions.join(terms, on=KEY, how="left").with_columns(
        pl.col(
            "buy_pq_u", "sell_pq_u", "buy_q", "sell_q", "close_value_u", "close_prev_signed_q"
        ).fill_null(0)
    )
    s, s0, mult = pl.col("settle_u"), pl.col("prev_settle_u"), pl.col("mult")
    prev_net = (pl.col("short_qty_prev") - pl.col("long_qty_prev")).cast(pl.Int128)
    total = mult * (
        pl.col("sell_pq_u")
        - s * pl.col("sell_q")
        + s * pl.col("buy_q")
        - pl.col("buy_pq_u")
        + (s0 - s) * prev_net
    )
    close = mult * (pl.col("close_value_u") - s0 * pl.col("close_prev_signed_q"))
    futures = ~pl.col("is_option")
    frame = frame.with_columns(
        pl.when(futures)
        .then(rescale_half_up(total, PRICE_SCALE, MONEY_SCALE))
        .otherwise(0)
        .alias("total_mtm_c"),
        pl.when(futures)
        .then(rescale_half_up(close, PRICE_SCALE, MONEY_SCALE))
        .otherwise(0)
        .alias("close_pnl_c"),
    )
    return frame.with_columns(
        (pl.col("total_mtm_c") - pl.col("close_pnl_c")).alias("position_mtm_c")
    )
