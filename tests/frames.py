"""Typed frames for pure-rule tests, built from text rows through the real parse step."""

from __future__ import annotations

import polars as pl

from edge.tables import parse_text_frame
from schemas.registry import file_spec
from settlement.journal import leg_sums
from settlement.model import LINE


def table(spec_name: str, rows: list[dict[str, object]]) -> pl.DataFrame:
    spec = file_spec(spec_name)
    text = (
        pl.DataFrame(
            {
                c.name: [None if r.get(c.name) is None else str(r[c.name]) for r in rows]
                for c in spec.columns
            },
            schema={c.name: pl.String for c in spec.columns},
        )
        .with_row_index(LINE, offset=2)
        .with_columns(pl.col(LINE).cast(pl.Int64))
    )
    return parse_text_frame(text, spec, spec.path)


def leg(
    seq: int,
    side: str,
    offset: str,
    price: str,
    qty: int,
    account: str = "A",
    instrument: str = "XF2612",
    ctq: int = 0,
    fifo_prev: int = 0,
    fifo_cost: str = "0",
    after: int = 0,
    hedge: str = "SPEC",
) -> dict[str, object]:
    return {
        "trading_day": "2026-11-23",
        "seq": seq,
        "leg_no": 0 if side == "BUY" else 1,
        "ts": "2026-11-23T10:00:00.000000",
        "trade_id": f"T{seq}",
        "order_id": f"O{seq}{side[0]}",
        "account_id": account,
        "instrument_id": instrument,
        "side": side,
        "offset": offset,
        "hedge_flag": hedge,
        "price": price,
        "qty": qty,
        "close_today_qty": ctq,
        "fifo_prev_qty": fifo_prev,
        "fifo_open_cost": fifo_cost,
        "position_after": after,
    }


def futures_sums(legs: pl.DataFrame) -> pl.DataFrame:
    """The journal's per-key sums of futures ``legs`` (no fee, no premium: these tests price §5/§6)."""
    zero = pl.lit(0, pl.Int128)
    return leg_sums(legs.with_columns(zero.alias("fee_c"), zero.alias("premium_c")))
