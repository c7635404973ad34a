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
from hypothesis import strategies as st

from settlement.mtm import mark_to_market
from settlement.positions import end_of_day_positions
from tests.frames import futures_sums, leg, table

ACCOUNTS = ["A", "B", "C", "D"]


@st.composite
def trading_day(
    draw: st.DrawFn,
) -> tuple[list[dict[str, object]], list[dict[str, object]], str, str, int]:
    mult = draw(st.sampled_from([10, 200, 300, 10000]))
    tick = D("0.2")
    prev = D("4000.0") + tick * draw(st.integers(-50, 50))
    held: dict[str, list[int]] = {}
    opening = []
    for a in ACCOUNTS:
        long_, short = draw(st.integers(0, 5)), 0
        held[a] = [long_, short]
    total_long = sum(v[0] for v in held.values())
    held["A"][1] += total_long  # opening OI balances: A holds the short side
    for a, (lq, sq) in held.items():
        if lq or sq:
            opening.append(
                {
                    "account_id": a,
                    "instrument_id": "XF2612",
                    "hedge_flag": "SPEC",
                    "long_qty": lq,
                    "short_qty": sq,
                }
            )
    legs = []
    for seq in range(1, draw(st.integers(1, 25)) + 1):
        buyer, seller = draw(
            st.sampled_from([(x, y) for x in ACCOUNTS for y in ACCOUNTS if x != y])
        )
        qty = draw(st.integers(1, 4))
        price = prev + tick * draw(st.integers(-30, 30))
        b_close = held[buyer][1] >= qty and draw(st.booleans())
        s_close = held[seller][0] >= qty and draw(st.booleans())
        if b_close:
            held[buyer][1] -= qty
        else:
            held[buyer][0] += qty
        if s_close:
            held[seller][0] -= qty
        else:
            held[seller][1] += qty
        legs.append(leg(seq, "BUY", "CLOSE" if b_close else "OPEN", f"{price}", qty, account=buyer))
        legs.append(
            leg(seq, "SELL", "CLOSE" if s_close else "OPEN", f"{price}", qty, account=seller)
        )
    settle = prev + tick * draw(st.integers(-40, 40))
    return opening, legs, f"{settle}", f"{prev}", mult


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
