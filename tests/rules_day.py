"""The hand-built day of tests/test_rules_day.py (the §3 fallbacks and §9 expiry), as a bundle and
aggregates written by hand. 2026-11-23; underlying UX closed at 4000.00 yesterday, 4012.00 today.

Futures XF (mult 300, tick 0.2, 10% limits), YF (tight prices), ZF (no trades at all); options XO on UX.
Only XF2612 (prev 4000.0) trades in futures: 1 lot @4012.4 at 14:30, so its change is +12.4.
  XF2612  VWAP_LAST_HOUR 4012.4
  XF2701  BENCHMARK (nearest traded LTD: XF2612): 4010.0 + 12.4 = 4022.4
  XF2706  newly listed, listing price 4100.0 stands in for prev_settle: BENCHMARK 4112.4
  XF2611  last trading day: FINAL 3995.37 (unrounded, more places than settle_decimals)
  YF2612  prev 100.0 trades @109.8 (within 110.0): VWAP 109.8, change +9.8
  YF2703  prev 90.0 + 9.8 = 99.8 > limit up 99.0: clamped, BENCHMARK 99.0
  ZF2612  no instrument of ZF traded: PREVIOUS 250.0
  XO2612-C-4000  trades 1 @52.0: VWAP 52.0;  XO2612-P-3900 no trade: PREVIOUS 31.0
  XO2611-P-4100  last trading day, U_final 4012.00: FINAL max(4100 − 4012, 0) = 88.0
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from edge.bundle import load_opening, load_reference
from edge.journal_files import build_journal
from edge.tables import write_staged
from schemas.registry import file_spec
from settlement.instruments import instrument_table
from settlement.model import Aggregates, Opening, Reference
from tests.daybuilder import Day, index_future
from tests.frames import leg, table

DAY = date(2026, 11, 23)


def rules_day_bundle(tmp_path: Path) -> Path:
    futures = {
        "XF2612": ("2026-12-18", "4000.0"),
        "XF2701": ("2027-01-15", "4010.0"),
        "XF2611": ("2026-11-23", "3990.0"),
        "XF2706": ("2027-06-18", None),
        "YF2612": ("2026-12-18", "100.0"),
        "YF2703": ("2027-03-19", "90.0"),
        "ZF2612": ("2026-12-18", "250.0"),
    }
    options = {
        "XO2612-C-4000": ("2026-12-18", "C", "4000", "50.0"),
        "XO2612-P-3900": ("2026-12-18", "P", "3900", "31.0"),
        "XO2611-P-4100": ("2026-11-23", "P", "4100", "120.0"),
    }
    future_instruments: list[list[object]] = [
        [i, i[:2], ltd, "4100.0" if i == "XF2706" else (p or "1.0"), None, None]
        for i, (ltd, p) in futures.items()
    ]
    day = Day(
        day=DAY.isoformat(),
        products=[
            index_future("XF", 300, "UX", "0.0001"),
            index_future("YF", 300, "UX", "0.0001"),
            index_future("ZF", 300, "UX", "0.0001"),
            [
                "XO",
                "INDEX_OPTION",
                "UX",
                100,
                "0.2",
                1,
                "0.10",
                None,
                "INDEX",
                "PER_LOT",
                "0",
                "0",
                "0",
                "PER_LOT",
                "0",
                "2.00",
                "NONE",
                "2",
                "0.1",
                "0.5",
            ],
        ],
        instruments=future_instruments
        + [[i, "XO", ltd, p, cp, k] for i, (ltd, cp, k, p) in options.items()],
        margin_rates=[[i, h, "0.10", "0.10"] for i in futures for h in ("SPEC", "HEDGE")],
        accounts=[("A", "M1"), ("B", "M1"), ("C", "M2"), ("D", "M2")],
        prev_settle={i: p for i, (_, p) in futures.items() if p}
        | {i: p for i, (_, _, _, p) in options.items()},
        positions=[
            ["A", "XF2611", "SPEC", 3, 0],
            ["B", "XF2611", "SPEC", 0, 3],
            ["C", "XO2611-P-4100", "SPEC", 2, 0],
            ["D", "XO2611-P-4100", "SPEC", 0, 2],
        ],
        balances={"A": "1000000.00", "B": "1000000.00", "C": "1000000.00", "D": "1000000.00"},
        underlyings=[[DAY.isoformat(), "UX", "4000.00", "4012.00"]],
        finals=[["XF2611", "3995.37"], ["XO2611-P-4100", "4012.00"]],
    )
    return day.write(tmp_path / "bundle")


def rules_day_aggregates() -> Aggregates:
    legs = table(
        "agg_legs",
        [
            leg(1, "BUY", "OPEN", "4012.4", 1, account="A", instrument="XF2612", after=1),
            leg(1, "SELL", "OPEN", "4012.4", 1, account="B", instrument="XF2612", after=1),
            leg(2, "BUY", "OPEN", "109.8", 1, account="A", instrument="YF2612", after=1),
            leg(2, "SELL", "OPEN", "109.8", 1, account="B", instrument="YF2612", after=1),
            leg(3, "BUY", "OPEN", "52.0", 1, account="C", instrument="XO2612-C-4000", after=1),
            leg(3, "SELL", "OPEN", "52.0", 1, account="D", instrument="XO2612-C-4000", after=1),
        ],
    )
    minutes = table(
        "agg_instrument_minutes",
        [
            {"instrument_id": i, "minute": 210, "trades": 1, "qty": 1, "pq": p}
            for i, p in (("XF2612", "4012.4"), ("YF2612", "109.8"), ("XO2612-C-4000", "52.0"))
        ],
    )
    days = table(
        "agg_instrument_day",
        [
            {
                "instrument_id": i,
                "trades": 1,
                "volume": 1,
                "pq": p,
                "open": p,
                "high": p,
                "low": p,
                "close": p,
                "first_seq": n,
                "last_seq": n,
                "last_trade_micros": 210 * 60_000_000,
            }
            for n, (i, p) in enumerate(
                (("XF2612", "4012.4"), ("YF2612", "109.8"), ("XO2612-C-4000", "52.0")), 1
            )
        ],
    )
    return Aggregates(
        legs,
        minutes,
        days,
        table("agg_declarations", []),
        table("agg_funds", []),
        table("agg_control", []),
        table("agg_dead_letters", []),
    )


def snapshot_with_legs(root: Path, legs: pl.DataFrame) -> Path:
    snapshot = root / "snapshot"
    write_staged(legs, file_spec("agg_legs"), snapshot / "legs" / "part-00000.csv")
    return snapshot


def rules_day_with_journal(
    tmp_path: Path, chunk_bytes: int = 1 << 20
) -> tuple[Reference, Opening, Aggregates, list[str], Path]:
    """The day above with its trade journal built on disk (edge.journal_files)."""
    bundle = rules_day_bundle(tmp_path)
    reference = load_reference(bundle, DAY)
    opening = load_opening(bundle, reference)
    aggregates = rules_day_aggregates()
    members = reference.members["member_id"].sort().to_list()
    snapshot = snapshot_with_legs(tmp_path, aggregates.legs)
    build_journal(
        snapshot,
        instrument_table(reference, opening, DAY),
        reference.accounts.select("account_id", "member_id"),
        members,
        chunk_bytes=chunk_bytes,
    )
    return reference, opening, aggregates, members, snapshot
