"""Hand-worked examples, one or more per rule (SETTLEMENT_RULES §3-§10). Expected figures are worked
out by hand in the docstrings and comments, not by the code under test."""

from __future__ import annotations

from decimal import Decimal as D

import polars as pl

from settlement.margin import OPTION_SCALE, option_margin_per_lot
from settlement.mtm import mark_to_market
from settlement.numbers import MONEY_SCALE, PRICE_SCALE, rescale_half_up
from settlement.positions import end_of_day_positions, position_breaks
from settlement.prices import price_limits, traded_settlement, window_of_minute
from tests.frames import futures_sums, leg, table

P: int = 10**PRICE_SCALE


def _u(text: str, scale: int = PRICE_SCALE) -> int:
    return int(D(text) * 10**scale)


def _price(units_value: int) -> D:
    return D(units_value) / P


def test_futures_limits_round_down_and_up_to_tick() -> None:
    """§4: IF prev 3951.2, 10%: up = 4346.32 -> 4346.2, down = 3556.08 -> 3556.2; on the last trading day
    the pct doubles: up = 3951.2 × 1.2 = 4741.44 -> 4741.4. TS prev 102.458, 0.5%: up 102.97029 ->
    102.970, down 101.94571 -> 101.946."""
    frame = pl.DataFrame(
        {
            "kind": ["INDEX_FUTURE", "INDEX_FUTURE", "BOND_FUTURE"],
            "is_last_day": [False, True, False],
            "is_option": [False, False, False],
            "limit_pct_u": [_u("0.10", 8), _u("0.10", 8), _u("0.005", 8)],
            "tick_u": [_u("0.2"), _u("0.2"), _u("0.002")],
            "prev_settle_u": [_u("3951.2"), _u("3951.2"), _u("102.458")],
            "underlying_prev_close_u": [None, None, None],
        },
        schema_overrides={
            c: pl.Int128
            for c in ("limit_pct_u", "tick_u", "prev_settle_u", "underlying_prev_close_u")
        },
    )
    out = price_limits(frame)
    assert [_price(v) for v in out["limit_up_u"]] == [D("4346.2"), D("4741.4"), D("102.970")]
    assert [_price(v) for v in out["limit_down_u"]] == [D("3556.2"), D("3161.0"), D("101.946")]


def test_option_limits_use_underlying_previous_close() -> None:
    """§4 options: prev 76.8, U_{D-1} 3967.1, 10%: up = 76.8 + 396.71 = 473.51 -> 473.4;
    down = max(0.2, 76.8 − 396.71) -> 0.2."""
    frame = pl.DataFrame(
        {
            "kind": ["INDEX_OPTION"],
            "is_last_day": [False],
            "is_option": [True],
            "limit_pct_u": [_u("0.10", 8)],
            "tick_u": [_u("0.2")],
            "prev_settle_u": [_u("76.8")],
            "underlying_prev_close_u": [_u("3967.1")],
        },
        schema_overrides={
            c: pl.Int128
            for c in ("limit_pct_u", "tick_u", "prev_settle_u", "underlying_prev_close_u")
        },
    )
    out = price_limits(frame)
    assert (_price(out["limit_up_u"][0]), _price(out["limit_down_u"][0])) == (D("473.4"), D("0.2"))


def test_windows_counted_back_from_the_close() -> None:
    """§3.2: index session 240 trading minutes: W1 = minutes 180..240 (a trade at 14:00:00, minute 180,
    starts W1), W2 = 120..179 (13:00-13:59, across lunch from 11:30), W4 = 0..59. Bond session 255:
    W1 = 195..255, W5 = 0..14 is the shorter earliest window."""
    minutes = pl.DataFrame({"m": [240, 239, 180, 179, 120, 119, 60, 59, 0]})
    index = minutes.select(window_of_minute(pl.col("m"), pl.lit(240)).alias("w"))["w"].to_list()
    assert index == [1, 1, 1, 2, 2, 3, 3, 4, 4]
    bond = pl.DataFrame({"m": [255, 195, 194, 15, 14, 0]}).select(
        window_of_minute(pl.col("m"), pl.lit(255)).alias("w")
    )
    assert bond["w"].to_list() == [1, 1, 2, 4, 5, 5]


def _minutes(rows: list[tuple[str, int, int, str]]) -> pl.DataFrame:
    return table(
        "agg_instrument_minutes",
        [
            {"instrument_id": i, "minute": m, "trades": 1, "qty": q, "pq": pq}
            for i, m, q, pq in rows
        ],
    )


def _days(rows: list[tuple[str, int, str, int]]) -> pl.DataFrame:
    return table(
        "agg_instrument_day",
        [
            {
                "instrument_id": i,
                "trades": 1,
                "volume": v,
                "pq": pq,
                "open": "1",
                "high": "1",
                "low": "1",
                "close": "1",
                "first_seq": 1,
                "last_seq": 2,
                "last_trade_micros": last,
            }
            for i, v, pq, last in rows
        ],
    )


def test_settlement_vwap_windows_and_half_up() -> None:
    """§3: A traded only in W2 (minute 150): 3 lots @4000.2 + 1 @4000.4 = 16001.0 / 4 = 4000.25 -> 4000.3
    (half up; half-even would give 4000.2), VWAP_EARLIER_WINDOW. B traded in W1 and W3: only W1 counts
    (2 @4010.0) -> 4010.0, VWAP_LAST_HOUR. C's last trade was 59 minutes after the open: whole day
    (1 @3990.0 at minute 0, 1 @3990.6 at minute 59) = 3990.3, VWAP_DAY."""
    instruments = pl.DataFrame(
        {"instrument_id": ["A", "B", "C"], "settle_decimals": [1, 1, 1], "session": ["INDEX"] * 3}
    )
    minutes = _minutes(
        [
            ("A", 150, 4, "16001.0"),
            ("B", 200, 2, "8020.0"),
            ("B", 100, 5, "20000.0"),
            ("C", 0, 1, "3990.0"),
            ("C", 59, 1, "3990.6"),
        ]
    )
    days = _days(
        [
            ("A", 4, "16001.0", 150 * 60_000_000),
            ("B", 7, "28020.0", 200 * 60_000_000),
            ("C", 2, "7980.6", 59 * 60_000_000 + 59_000_000),
        ]
    )
    out = traded_settlement(instruments, minutes, days).sort("instrument_id")
    assert [_price(v) for v in out["vwap_u"]] == [D("4000.3"), D("4010.0"), D("3990.3")]
    assert out["vwap_source"].to_list() == ["VWAP_EARLIER_WINDOW", "VWAP_LAST_HOUR", "VWAP_DAY"]


def _option_margin_per_lot(s: str, u: str, k: str, m: str, strike: str, mult: int, call: bool) -> D:
    """The §7.2 per-lot short option margin, Round(·, 2), for literal inputs."""
    per_lot = option_margin_per_lot(
        pl.lit(_u(s), pl.Int128),
        pl.lit(_u(u), pl.Int128),
        pl.lit(_u(k, 8), pl.Int128),
        pl.lit(_u(m, 8), pl.Int128),
        pl.lit(_u(strike), pl.Int128),
        pl.lit(mult, pl.Int128),
        pl.lit(call),
    )
    cents = pl.DataFrame({"x": [0]}).select(
        rescale_half_up(per_lot, OPTION_SCALE, MONEY_SCALE).alias("m")
    )["m"][0]
    return D(cents) / 100


def test_io_short_call_margin_cffex_example() -> None:
    """§7.2, the CFFEX IO example: S 446.2, CSI 300 close 3967.1, strike 3550, mult 100, k 10%, m 0.5:
    OTM = max((3550 − 3967.1)×100, 0) = 0; 446.2×100 + max(3967.1×100×0.1 − 0, 0.5×3967.1×100×0.1)
    = 44620 + 39671 = 84,291.00 per lot."""
    assert _option_margin_per_lot("446.2", "3967.1", "0.10", "0.5", "3550", 100, call=True) == D(
        "84291.00"
    )


def test_put_margin_floor_uses_strike() -> None:
    """§7.2 put, deep OTM: S 2.0, U 4000, K 3500, mult 100, k 0.1, m 0.5: OTM = (4000 − 3500)×100 = 50,000;
    U×mult×k − OTM = 40,000 − 50,000 < m×K×mult×k = 17,500, so 200 + 17,500 = 17,700.00."""
    assert _option_margin_per_lot("2.0", "4000", "0.1", "0.5", "3500", 100, call=False) == D(
        "17700.00"
    )


def _positions_with_prices(
    opening: pl.DataFrame, legs: pl.DataFrame, settle: str, prev: str, mult: int
) -> pl.DataFrame:
    positions = end_of_day_positions(opening, futures_sums(legs))
    return positions.with_columns(
        pl.lit(_u(settle), pl.Int128).alias("settle_u"),
        pl.lit(_u(prev), pl.Int128).alias("prev_settle_u"),
        pl.lit(mult, pl.Int128).alias("mult"),
        pl.lit(False).alias("is_option"),
    )


def test_ih_buy_close_of_previous_day_short() -> None:
    """§6: IH buy-close of a previous-day short at 2616.4, prev settlement 2607.2, mult 300:
    close P&L = 300 × (2607.2 − 2616.4) × 1 = −2,760.00. Settling at 2620.0, total MTM =
    300 × ((2620.0 − 2616.4)·1 + (2607.2 − 2620.0)·(1 − 0)) = −2,760.00 and position MTM 0.00."""
    opening = table(
        "opening_positions",
        [
            {
                "account_id": "A",
                "instrument_id": "IH2612",
                "hedge_flag": "SPEC",
                "long_qty": 0,
                "short_qty": 1,
            }
        ],
    )
    legs = table(
        "agg_legs", [leg(1, "BUY", "CLOSE", "2616.4", 1, instrument="IH2612", fifo_prev=1, after=0)]
    )
    out = mark_to_market(
        _positions_with_prices(opening, legs, "2620.0", "2607.2", 300), futures_sums(legs)
    )
    assert (out["close_pnl_c"][0], out["total_mtm_c"][0], out["position_mtm_c"][0]) == (
        -276000,
        -276000,
        0,
    )


def test_close_pnl_mixes_previous_and_today_lots() -> None:
    """§5.1 FIFO + §6: long 5 from D-1 (S0 4000.0); D: buy-open 3 @4010.0, then sell-close 6 @4020.0.
    FIFO: 5 lots against D-1 at S0, 1 against today's open @4010. close P&L = 10 × ((4020 − 4000)·5 +
    (4020 − 4010)·1) = 1,100.00. Settle 4030.0: total = 10 × ((4020 − 4030)·6 + (4030 − 4010)·3 +
    (4000 − 4030)·(0 − 5)) = 10 × (−60 + 60 + 150) = 1,500.00; position MTM 400.00."""
    opening = table(
        "opening_positions",
        [
            {
                "account_id": "A",
                "instrument_id": "XF2612",
                "hedge_flag": "SPEC",
                "long_qty": 5,
                "short_qty": 0,
            }
        ],
    )
    legs = table(
        "agg_legs",
        [
            leg(1, "BUY", "OPEN", "4010.0", 3, after=8),
            leg(2, "SELL", "CLOSE", "4020.0", 6, ctq=3, fifo_prev=5, fifo_cost="4010.0", after=2),
        ],
    )
    out = mark_to_market(
        _positions_with_prices(opening, legs, "4030.0", "4000.0", 10), futures_sums(legs)
    )
    assert (out["close_pnl_c"][0], out["total_mtm_c"][0], out["position_mtm_c"][0]) == (
        110000,
        150000,
        40000,
    )
    assert (out["long_qty"][0], out["short_qty"][0]) == (2, 0)


def test_over_close_is_a_break() -> None:
    """§5: a close larger than the position at that moment stops the day."""
    legs = table("agg_legs", [leg(7, "SELL", "CLOSE", "4000.0", 3, after=-1)])
    breaks = position_breaks(legs)
    assert len(breaks) == 1 and breaks[0].rule == "§5" and "seq=7" in breaks[0].record


def test_ratio_and_per_lot_fees() -> None:
    """§8.1: IF open 1 lot @4000.0: 4000 × 1 × 300 × 0.000023 = 27.60. IF close of 2 lots with 1 closed
    today: 4000 × 300 × (0.00023 × 1 + 0.000023 × 1) = 303.60. TS close 2 lots, 1 today: 0 × 1 + 3 × 1 = 3.00."""
    from settlement.fees import trading_fees

    legs = table(
        "agg_legs",
        [
            leg(1, "BUY", "OPEN", "4000.0", 1, instrument="IF2612"),
            leg(2, "SELL", "CLOSE", "4000.0", 2, instrument="IF2612", ctq=1),
            leg(3, "SELL", "CLOSE", "102.450", 2, instrument="TS2612", ctq=1),
        ],
    ).with_columns(
        pl.when(pl.col("instrument_id") == "IF2612")
        .then(300)
        .otherwise(20000)
        .cast(pl.Int128)
        .alias("mult")
    )
    instruments = pl.DataFrame(
        {
            "instrument_id": ["IF2612", "TS2612"],
            "fee_basis": ["RATIO", "PER_LOT"],
            "fee_open": [D("0.000023"), D("3")],
            "fee_close": [D("0.000023"), D("3")],
            "fee_close_today": [D("0.00023"), D("0")],
        },
        schema_overrides={
            c: pl.Decimal(38, 8) for c in ("fee_open", "fee_close", "fee_close_today")
        },
    )
    out = trading_fees(legs, instruments).sort("seq")
    assert out["fee_c"].to_list() == [2760, 30360, 300]


def test_declaration_fee_tiers_and_otr() -> None:
    """§8.2 bond product scope, tiers ≤4000 free, 4000-8000 at 1 (otr ≤ 2) or 2, >8000 at 2 or 4.
    A: 9000 messages, 2000 executed: otr = 3.5 > 2: 4000 × 2 + 1000 × 4 = 12,000.00.
    B: 9000 messages, 3000 executed: otr = 2.0 ≤ 2 (unrounded): 4000 × 1 + 1000 × 2 = 6,000.00."""
    from settlement.fees import declaration_fees
    from settlement.model import Reference

    tiers = table(
        "declaration_tiers",
        [
            {
                "product": "T",
                "above_msgs": 0,
                "up_to_msgs": 4000,
                "rate_low_otr": "0",
                "rate_high_otr": "0",
            },
            {
                "product": "T",
                "above_msgs": 4000,
                "up_to_msgs": 8000,
                "rate_low_otr": "1",
                "rate_high_otr": "2",
            },
            {
                "product": "T",
                "above_msgs": 8000,
                "up_to_msgs": None,
                "rate_low_otr": "2",
                "rate_high_otr": "4",
            },
        ],
    )
    empty = pl.DataFrame()
    reference = Reference(
        holidays=empty,
        products=empty,
        declaration_tiers=tiers,
        instruments=empty,
        margin_rates=empty,
        members=empty,
        accounts=empty,
        underlyings=empty,
        final_settlement_prices=empty,
    )
    declarations = table(
        "agg_declarations",
        [
            {"account_id": "A", "instrument_id": "T2612", "messages": 5000, "executed": 1200},
            {"account_id": "A", "instrument_id": "T2703", "messages": 4000, "executed": 800},
            {"account_id": "B", "instrument_id": "T2612", "messages": 9000, "executed": 3000},
        ],
    )
    instruments = pl.DataFrame(
        {
            "instrument_id": ["T2612", "T2703"],
            "product": ["T", "T"],
            "decl_scope": ["PRODUCT"] * 2,
            "decl_otr_threshold": [D("2"), D("2")],
        }
    )
    out = declaration_fees(declarations, instruments, reference)
    assert out.select("account_id", "scope", "messages", "executed", "fee_c", "otr_4").rows() == [
        ("A", "T", 9000, 2000, 12000_00, 35000),
        ("B", "T", 9000, 3000, 6000_00, 20000),
    ]


def test_funds_identity_and_margin_call() -> None:
    """§10: balance 100,000 + deposit 5,000 − withdrawal 1,000 + MTM −20,000 − fees 50 = 83,950;
    margin 90,000: available −6,050, margin call 6,050."""
    from settlement.funds import funds

    balances = table("opening_balances", [{"account_id": "A", "balance": "100000.00"}])
    movements = table(
        "agg_funds",
        [{"account_id": "A", "deposits": "5000.00", "withdrawals": "1000.00", "movements": 2}],
    )
    zero = pl.lit(0, pl.Int128)
    positions = pl.DataFrame({"account_id": ["A"]}).with_columns(
        pl.lit(-2_000_000, pl.Int128).alias("total_mtm_c"),
        zero.alias("close_pnl_c"),
        pl.lit(-2_000_000, pl.Int128).alias("position_mtm_c"),
        zero.alias("exercise_cash_c"),
        zero.alias("delivery_exercise_fee_c"),
    )
    leg_sums = pl.DataFrame({"account_id": ["A"]}).with_columns(
        zero.alias("premium_received_c"),
        zero.alias("premium_paid_c"),
        pl.lit(5000, pl.Int128).alias("fee_c"),
    )
    declarations = pl.DataFrame(
        {"account_id": [], "fee_c": []}, schema={"account_id": pl.String, "fee_c": pl.Int128}
    )
    margins = pl.DataFrame(
        {"account_id": ["A"], "margin_c": [9_000_000]},
        schema={"account_id": pl.String, "margin_c": pl.Int128},
    )
    row = funds(balances, movements, positions, leg_sums, declarations, margins).row(0, named=True)
    assert (row["balance"], row["available"], row["margin_call"]) == (8_395_000, -605_000, 605_000)
