"""The futures worked example of a two-day account, through the real ``dayclear replay``
(pre-aggregation on a Flink mini-cluster, then the end of day), with hand-worked figures.

Account A, multiplier 10, margin 5%, no fees. D1: deposit 200,000; buy-open 60 @4000; sell-close 40
@4030; the day settles at 4040 (the last hour's only trade). D2: buy-open 10 @4030; settles at 4060.

D1 by hand: MTM = 10 × ((4030 − 4040)·40 + (4040 − 4000)·60) = 20,000; close P&L (FIFO: the 40 closed
were opened today @4000) = 10 × (4030 − 4000)·40 = 12,000; margin = 4040 × 10 × 20 × 5% = 40,400;
balance 220,000; available 179,600.
D2 by hand: MTM = 10 × ((4060 − 4030)·10 + (4040 − 4060)·(0 − 20)) = 7,000; margin = 4060 × 10 × 30 × 5%
= 60,900; balance 227,000; available 166,100.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from tests.conftest import run_dayclear
from tests.worked_days import day_one, day_two

pytestmark = pytest.mark.slow
GOLDEN = Path(__file__).parent / "golden" / "worked_example_d1"


def _row(path: Path, account: str) -> dict[str, str]:
    return next(r for r in csv.DictReader(path.open()) if r["account_id"] == account)


def _latest(out: Path, day: str) -> Path:
    return out / day / (out / day / "LATEST").read_text().strip()


def test_two_day_account(tmp_path: Path) -> None:
    out = tmp_path / "out"
    d1 = day_one().write(tmp_path / "d1")
    run_dayclear("replay", str(d1), "--day", "2026-11-23", "--out", str(out), check=True)
    v1 = _latest(out, "2026-11-23")
    funds = _row(v1 / "members" / "M1" / "funds.csv", "A")
    assert funds["total_mtm"] == "20000.00"
    assert funds["close_pnl"] == "12000.00"
    assert funds["margin"] == "40400.00"
    assert funds["available"] == "179600.00"

    # Golden files for the published formats, written by hand (tests/golden/worked_example_d1).
    for name in ("funds", "positions", "trades", "declaration_fees", "margin_calls"):
        assert (v1 / "members" / "M1" / f"{name}.csv").read_text() == (
            GOLDEN / "M1" / f"{name}.csv"
        ).read_text(), name
    assert (v1 / "exchange" / "settlement_prices.csv").read_text() == (
        GOLDEN / "settlement_prices.csv"
    ).read_text()

    # D2 opens from D1's closing state.
    d2 = day_two(v1 / "closing").write(tmp_path / "d2")
    for name in ("positions", "balances", "settlement_prices"):
        shutil.copy(v1 / "closing" / f"{name}.csv", d2 / "opening" / f"{name}.csv")
    run_dayclear("replay", str(d2), "--day", "2026-11-24", "--out", str(out), check=True)
    v2 = _latest(out, "2026-11-24")
    funds2 = _row(v2 / "members" / "M1" / "funds.csv", "A")
    assert funds2["balance_prev"] == "220000.00"
    assert funds2["total_mtm"] == "7000.00"
    assert funds2["close_pnl"] == "0.00"
    assert funds2["margin"] == "60900.00"
    assert funds2["balance"] == "227000.00"
    assert funds2["available"] == "166100.00"
    position = _row(v2 / "members" / "M1" / "positions.csv", "A")
    assert (position["long_qty_prev"], position["long_qty"], position["settle_price"]) == (
        "20",
        "30",
        "4060.0",
    )

    # A rerun of the same inputs publishes nothing new and leaves the bytes as they were.
    before = {p: p.read_bytes() for p in v2.rglob("*") if p.is_file()}
    done = run_dayclear("replay", str(d2), "--day", "2026-11-24", "--out", str(out), check=True)
    assert "unchanged" in done.stdout
    assert {p: p.read_bytes() for p in v2.rglob("*") if p.is_file()} == before
    # beside the version: LATEST and the day's publication lock (publication/day_lock.py), free
    day_dir = out / "2026-11-24"
    assert sorted(p.name for p in day_dir.iterdir()) == [".publish.lock", "LATEST", "v1"]
    assert (day_dir / ".publish.lock").read_bytes() == b""
