"""Hypothesis strategies shared by the property tests."""

from __future__ import annotations

from decimal import Decimal as D

from hypothesis import strategies as st

from tests.frames import leg

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
