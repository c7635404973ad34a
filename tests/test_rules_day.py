"""A hand-built day through the pure end of day (settle_day), with aggregates written by hand, for
the §3 fallbacks and §9 expiry: the day and its hand-worked expectations are described in
tests/rules_day.py."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import polars as pl

from edge.bundle import load_opening, load_reference
from settlement.eod import settle_day
from tests.rules_day import DAY, rules_day_aggregates, rules_day_bundle


def test_fallbacks_and_expiry(tmp_path: Path) -> None:
    bundle = rules_day_bundle(tmp_path)
    reference = load_reference(bundle, DAY)
    result, breaks = settle_day(
        DAY, reference, load_opening(bundle, reference), rules_day_aggregates()
    )
    assert breaks == [] and result is not None
    prices = {
        r["instrument_id"]: (r["settle_price"], r["price_source"])
        for r in result.settlement_prices.iter_rows(named=True)
    }
    assert prices == {
        "XF2612": (D("4012.4"), "VWAP_LAST_HOUR"),
        "XF2701": (D("4022.4"), "BENCHMARK"),
        "XF2706": (D("4112.4"), "BENCHMARK"),
        "XF2611": (D("3995.37"), "FINAL"),
        "YF2612": (D("109.8"), "VWAP_LAST_HOUR"),
        "YF2703": (D("99.0"), "BENCHMARK"),
        "ZF2612": (D("250.0"), "PREVIOUS"),
        "XO2612-C-4000": (D("52.0"), "VWAP_LAST_HOUR"),
        "XO2612-P-3900": (D("31.0"), "PREVIOUS"),
        "XO2611-P-4100": (D("88.0"), "FINAL"),
    }
    new_listing = result.settlement_prices.filter(pl.col("instrument_id") == "XF2706").row(
        0, named=True
    )
    assert new_listing["prev_settle"] == D("4100.0")

    funds = {r["account_id"]: r for r in result.funds.iter_rows(named=True)}
    # §8.3 delivery: 0.0001 × 3995.37 × 300 × 3 lots = 359.5833 -> 359.58 for A (long) and B (short).
    assert (
        funds["A"]["delivery_exercise_fees"] == funds["B"]["delivery_exercise_fees"] == D("359.58")
    )
    # §6 on the last day: S = 3995.37: A long 3 from S0 3990.0: 300 × (3990.0 − 3995.37) × (0 − 3) = 4,833.00
    # plus XF2612 (4012.4 − 4012.4) and YF2612 0: A's MTM 4,833.00; B the opposite.
    assert (funds["A"]["total_mtm"], funds["B"]["total_mtm"]) == (D("4833.00"), D("-4833.00"))
    # §9 exercise: put 4100 vs U_final 4012: 88 × 100 × 2 = 17,600.00; exercise fee 2.00 × 2 lots each side.
    assert (funds["C"]["exercise_cash"], funds["D"]["exercise_cash"]) == (
        D("17600.00"),
        D("-17600.00"),
    )
    assert funds["C"]["delivery_exercise_fees"] == funds["D"]["delivery_exercise_fees"] == D("4.00")
    # §9 premium: 52.0 × 1 × 100 = 5,200.00 from C to D.
    assert (funds["C"]["premium_paid"], funds["D"]["premium_received"]) == (
        D("5200.00"),
        D("5200.00"),
    )
    # §7.2 D's short call XO2612-C-4000: 52.0×100 + max(4012×100×0.1 − 0, 0.5×4012×100×0.1) = 45,320.00.
    assert funds["D"]["margin"] == D("45320.00")
    # §10 D: 1,000,000 + 5,200 − 17,600 − 4 = 987,596.00; available 987,596 − 45,320 = 942,276.00.
    assert (funds["D"]["balance"], funds["D"]["available"]) == (D("987596.00"), D("942276.00"))

    positions = {
        (r["account_id"], r["instrument_id"]): r for r in result.positions.iter_rows(named=True)
    }
    assert (
        positions[("A", "XF2611")]["long_qty_prev"],
        positions[("A", "XF2611")]["long_qty"],
    ) == (3, 0)
    assert positions[("C", "XO2611-P-4100")]["long_qty"] == 0
    oi = {
        r["instrument_id"]: r["open_interest"]
        for r in result.settlement_prices.iter_rows(named=True)
    }
    assert (oi["XF2611"], oi["XO2611-P-4100"], oi["XF2612"]) == (3, 2, 1)
    # A's single larger side (§7.1), IDX group: long XF2612 4012.4×300×0.1 = 120,372.00 + YF2612
    # 109.8×300×0.1 = 3,294.00 -> 123,666.00 (no short side).
    assert funds["A"]["margin"] == D("123666.00")
    assert (
        result.closing_positions.filter(
            pl.col("instrument_id").is_in(["XF2611", "XO2611-P-4100"])
        ).height
        == 0
    )
