"""Five consecutive simulated trading days, 17-24 June 2026, each opening from the previous day's
published closing state. The run crosses the Dragon Boat holiday (Fri 19 June, the third Friday) and a
weekend, and so the June index futures and options expire on Monday 22 June (SETTLEMENT_RULES §3.6, §9).
Every day must hold the §12 invariants; a rerun of the five days must be byte-identical."""

from __future__ import annotations

import csv
import itertools
import json
from datetime import date
from decimal import Decimal as D
from pathlib import Path

import pytest

from devtools.multiday import next_days, settle_days
from devtools.simulator import SimulationConfig
from tests.published import assert_funds_identity, assert_position_invariants, member_rows

pytestmark = pytest.mark.slow
FIRST = SimulationConfig(day=date(2026, 6, 17), accounts=300, members=12, trades=1500, seed=5)


def _digest(folder: Path) -> dict[str, dict[str, object]]:
    """The manifest's files: per path its ``sha256`` and ``rows``."""
    files: dict[str, dict[str, object]] = json.loads((folder / "manifest.json").read_text())[
        "files"
    ]
    return files


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("five")
    publications = settle_days(FIRST, 5, root / "bundles", root / "out", root / "work")
    return root, publications


def test_the_calendar_crosses_a_holiday_a_weekend_and_an_expiry() -> None:
    assert next_days(FIRST.day, 5) == [
        date(2026, 6, 17),
        date(2026, 6, 18),
        date(2026, 6, 22),
        date(2026, 6, 23),
        date(2026, 6, 24),
    ]


def test_every_day_holds_the_invariants(run) -> None:  # type: ignore[no-untyped-def]
    _root, publications = run
    assert [p.folder.parent.name for p in publications] == [
        d.isoformat() for d in next_days(FIRST.day, 5)
    ]
    for publication in publications:
        folder = publication.folder
        assert_position_invariants(folder)
        assert_funds_identity(folder)
        premium = sum(D(t["premium"]) for t in member_rows(folder, "trades"))
        assert premium == 0, "Σ premium paid = Σ premium received"
        exercise = sum(D(f["exercise_cash"]) for f in member_rows(folder, "funds"))
        assert exercise == 0, "exercise cash moves between longs and shorts"


def test_each_day_opens_from_the_previous_close(run) -> None:  # type: ignore[no-untyped-def]
    _root, publications = run
    for before, after in itertools.pairwise(publications):
        closing = {
            r["account_id"]: r["balance"]
            for r in csv.DictReader((before.folder / "closing" / "balances.csv").open())
        }
        for f in member_rows(after.folder, "funds"):
            assert f["balance_prev"] == closing.get(f["account_id"], "0.00")


def test_expiry_day_settles_at_final_prices_and_removes_positions(run) -> None:  # type: ignore[no-untyped-def]
    root, publications = run
    expiry = next(p for p in publications if p.folder.parent.name == "2026-06-22").folder
    finals = {
        r["instrument_id"]: r["final_settlement_price"]
        for r in csv.DictReader(
            (root / "bundles" / "2026-06-22" / "reference" / "final_settlement_prices.csv").open()
        )
    }
    assert "IF2606" in finals and any(i.startswith("IO2606") for i in finals)
    prices = {
        r["instrument_id"]: r
        for r in csv.DictReader((expiry / "exchange" / "settlement_prices.csv").open())
    }
    assert prices["IF2606"]["price_source"] == "FINAL"
    assert D(prices["IF2606"]["settle_price"]) == D(finals["IF2606"])
    for r in member_rows(expiry, "positions"):
        if r["instrument_id"] in finals:
            assert (r["long_qty"], r["short_qty"], r["long_margin"], r["short_margin"]) == (
                "0",
                "0",
                "0.00",
                "0.00",
            )
    closing = {
        r["instrument_id"] for r in csv.DictReader((expiry / "closing" / "positions.csv").open())
    }
    assert not closing & set(finals)
    fees = sum(D(f["delivery_exercise_fees"]) for f in member_rows(expiry, "funds"))
    assert fees > 0
    assert int(prices["IF2606"]["open_interest"]) > 0


def test_rerun_is_byte_identical(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _root, publications = run
    again = settle_days(FIRST, 5, tmp_path / "bundles", tmp_path / "out", tmp_path / "work")
    for first, second in zip(publications, again, strict=True):
        assert {k: v["sha256"] for k, v in _digest(first.folder).items()} == {
            k: v["sha256"] for k, v in _digest(second.folder).items()
        }
