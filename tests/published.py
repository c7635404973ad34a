"""Checks of SETTLEMENT_RULES §12 on published files, written in plain Python with Decimal (an
expectation independent of settlement/ and of the audit's SQL), shared by the day-level tests."""

from __future__ import annotations

import csv
from collections import defaultdict
from decimal import Decimal as D
from pathlib import Path


def member_rows(folder: Path, name: str) -> list[dict[str, str]]:
    """Rows of one member file (``funds``, ``positions``, ...) over every member of a version folder."""
    rows: list[dict[str, str]] = []
    for path in sorted((folder / "members").glob(f"*/{name}.csv")):
        rows += list(csv.DictReader(path.open()))
    return rows


def assert_position_invariants(folder: Path) -> dict[str, int]:
    """Per instrument Σ long = Σ short and Σ total_mtm = 0; per row close_pnl + position_mtm =
    total_mtm and non-negative lots. Returns Σ long_qty per instrument."""
    long_: defaultdict[str, int] = defaultdict(int)
    short: defaultdict[str, int] = defaultdict(int)
    mtm: defaultdict[str, D] = defaultdict(D)
    for r in member_rows(folder, "positions"):
        long_[r["instrument_id"]] += int(r["long_qty"])
        short[r["instrument_id"]] += int(r["short_qty"])
        mtm[r["instrument_id"]] += D(r["total_mtm"])
        assert D(r["close_pnl"]) + D(r["position_mtm"]) == D(r["total_mtm"]), r
        assert int(r["long_qty"]) >= 0 and int(r["short_qty"]) >= 0, r
    assert dict(long_) == dict(short), "open interest must balance per instrument"
    assert all(v == 0 for v in mtm.values()), "futures MTM is zero-sum per instrument"
    return dict(long_)


def assert_funds_identity(folder: Path) -> None:
    """§10 per account: the balance roll-forward, available and margin call, to the cent."""
    for f in member_rows(folder, "funds"):
        balance = (
            D(f["balance_prev"])
            + D(f["deposits"])
            - D(f["withdrawals"])
            + D(f["total_mtm"])
            + D(f["premium_received"])
            - D(f["premium_paid"])
            + D(f["exercise_cash"])
            - D(f["trading_fees"])
            - D(f["declaration_fees"])
            - D(f["delivery_exercise_fees"])
        )
        assert balance == D(f["balance"]), f["account_id"]
        assert D(f["available"]) == D(f["balance"]) - D(f["margin"]), f["account_id"]
        assert D(f["margin_call"]) == max(D(0), -D(f["available"])), f["account_id"]
