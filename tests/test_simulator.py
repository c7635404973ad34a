"""The simulator: deterministic, a CFFEX-like universe, and an opening state that balances."""

from __future__ import annotations

import csv
import hashlib
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from devtools import spill_sort
from devtools.simulator import SimulationConfig, simulate

DAY = date(2026, 11, 23)


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*.csv"))
    }


def test_same_arguments_same_bytes(tmp_path: Path) -> None:
    config = SimulationConfig(day=DAY, accounts=120, members=10, trades=300, seed=3)
    simulate(config, tmp_path / "a")
    simulate(config, tmp_path / "b")
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    simulate(
        SimulationConfig(day=DAY, accounts=120, members=10, trades=300, seed=4), tmp_path / "c"
    )
    assert _digest(tmp_path / "a") != _digest(tmp_path / "c")


def test_universe_and_activity(tmp_path: Path) -> None:
    simulate(SimulationConfig(day=DAY, accounts=300, members=20, trades=2000), tmp_path)
    products = {
        r["product"] for r in csv.DictReader((tmp_path / "reference" / "products.csv").open())
    }
    assert products == {"IF", "IH", "IC", "IM", "TS", "TF", "T", "TL", "IO", "MO", "HO"}
    instruments = list(csv.DictReader((tmp_path / "reference" / "instruments.csv").open()))
    per_product = Counter(r["product"] for r in instruments)
    assert per_product["IF"] == 4 and per_product["T"] == 3  # 2 months + 2 quarters; 3 quarters
    assert {r["instrument_id"] for r in instruments} >= {
        "IF2612",
        "IF2701",
        "IF2703",
        "IF2706",
        "T2612",
        "T2703",
        "T2706",
    }
    positions = list(csv.DictReader((tmp_path / "opening" / "positions.csv").open()))
    long_: Counter[str] = Counter()
    short: Counter[str] = Counter()
    for r in positions:
        long_[r["instrument_id"]] += int(r["long_qty"])
        short[r["instrument_id"]] += int(r["short_qty"])
    assert long_ == short
    trades = list(csv.DictReader((tmp_path / "events" / "trades.csv").open()))
    traded = {t["instrument_id"] for t in trades}
    assert len(traded) < len(instruments), "some instruments do not trade"
    assert any(t["ts"][11:16] >= "14:00" for t in trades), "activity in the last hour"
    assert [int(t["seq"]) for t in trades] == list(range(1, len(trades) + 1))
    assert [t["ts"] for t in trades] == sorted(t["ts"] for t in trades)
    orders = list(csv.DictReader((tmp_path / "events" / "orders.csv").open()))
    assert {o["event"] for o in orders} == {"NEW", "CANCEL"}
    assert {o["order_type"] for o in orders} == {"LIMIT", "MARKET", "FAK", "FOK"}
    assert {o["hedge_flag"] for o in orders} == {"SPEC", "HEDGE"}
    ticks = {
        r["product"]: r["tick"]
        for r in csv.DictReader((tmp_path / "reference" / "products.csv").open())
    }
    product_of = {r["instrument_id"]: r["product"] for r in instruments}
    from decimal import Decimal as D

    for t in trades:
        assert D(t["price"]) % D(ticks[product_of[t["instrument_id"]]]) == 0, t


def test_a_day_sorted_on_disk_has_the_same_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A day larger than memory is sorted in runs spilled to disk (devtools/spill_sort.py): the
    bundle is the same, byte for byte."""
    config = SimulationConfig(day=DAY, accounts=120, members=10, trades=300, seed=3)
    simulate(config, tmp_path / "memory")
    monkeypatch.setattr(spill_sort, "RUN_ROWS", 97)  # ~6,000 orders: some 60 runs, 3 for trades
    monkeypatch.setattr(spill_sort, "PAGE_ROWS", 10)
    simulate(config, tmp_path / "disk")
    assert _digest(tmp_path / "disk") == _digest(tmp_path / "memory")
