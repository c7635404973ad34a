"""Hypothesis properties of SETTLEMENT_RULES §12 on the pure core: random days of trades between
accounts (closes never exceeding the position), any settlement price on the tick.

* open interest balances: Σ long_qty = Σ short_qty per instrument;
* futures are zero-sum: Σ total_mtm = 0 to the cent per instrument;
* close_pnl + position_mtm = total_mtm per row.
"""

from __future__ import annotations

from decimal import Decimal as D

import polars as pl
from hypothesis import given, settings

from settlement.mtm import mark_to_market
from settlement.positions import end_of_day_positions
from tests.frames import futures_sums, table
from tests.strategies import trading_day


@settings(max_examples=60, deadline=None)
@given(trading_day())
def test_open_interest_balances_and_mtm_is_zero_sum(
    day: tuple[list[dict[str, object]], list[dict[str, object]], str, str, int],
) -> None:
    opening_rows, leg_rows, settle, prev, mult = day
    opening = table("opening_positions", opening_rows)
    legs = table("agg_legs", leg_rows)
    positions = end_of_day_positions(opening, futures_sums(legs))
    assert positions["long_qty"].sum() == positions["short_qty"].sum()
    assert (positions["long_qty"] >= 0).all() and (positions["short_qty"] >= 0).all()
    scale = 10**6
    priced = positions.with_columns(
        pl.lit(int(D(settle) * scale), pl.Int128).alias("settle_u"),
        pl.lit(int(D(prev) * scale), pl.Int128).alias("prev_settle_u"),
        pl.lit(mult, pl.Int128).alias("mult"),
        pl.lit(False).alias("is_option"),
    )
    out = mark_to_market(priced, futures_sums(legs))
    assert out["total_mtm_c"].sum() == 0
    assert (out["close_pnl_c"] + out["position_mtm_c"] == out["total_mtm_c"]).all()
