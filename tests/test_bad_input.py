"""Bad input to ``dayclear replay`` stops with an error naming the file, the row and the field,
and publishes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.bundle_edits import edit_cell
from tests.conftest import run_dayclear
from tests.worked_days import day_one


def _replay(bundle: Path, out: Path):  # type: ignore[no-untyped-def]
    return run_dayclear("replay", str(bundle), "--day", "2026-11-23", "--out", str(out))


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    return day_one().write(tmp_path / "bundle")


def test_missing_reference_file(bundle: Path, tmp_path: Path) -> None:
    (bundle / "reference" / "products.csv").unlink()
    done = _replay(bundle, tmp_path / "out")
    assert done.returncode == 2
    assert "reference/products.csv" in done.stderr and "required file is missing" in done.stderr
    assert sorted(p.name for p in (tmp_path / "out" / "2026-11-23").iterdir()) == ["breaks.json"]


def test_unknown_instrument(bundle: Path, tmp_path: Path) -> None:
    edit_cell(bundle / "events" / "trades.csv", 3, "instrument_id", "ZZ9999")
    done = _replay(bundle, tmp_path / "out")
    assert done.returncode == 2
    assert (
        "\n  - line 3, field instrument_id: unknown instrument 'ZZ9999'"
        " (not in reference/instruments.csv)\n" in done.stderr
    )
    assert sorted(p.name for p in (tmp_path / "out" / "2026-11-23").iterdir()) == ["breaks.json"]


def test_malformed_row(bundle: Path, tmp_path: Path) -> None:
    edit_cell(bundle / "events" / "trades.csv", 2, "price", "40x0")
    edit_cell(bundle / "reference" / "margin_rates.csv", 2, "long_rate", "")
    done = _replay(bundle, tmp_path / "out")
    assert done.returncode == 2
    assert "reference/margin_rates.csv: 1\n  - line 2, field long_rate: is empty" in done.stderr
    assert "\n  - line 2, field price: value '40x0' is not a plain decimal" in done.stderr
    assert sorted(p.name for p in (tmp_path / "out" / "2026-11-23").iterdir()) == ["breaks.json"]


def test_malformed_event_field(bundle: Path, tmp_path: Path) -> None:
    edit_cell(bundle / "events" / "trades.csv", 2, "price", "40x0")
    done = _replay(bundle, tmp_path / "out")
    assert done.returncode == 2
    assert "line 2, field price: value '40x0' is not a plain decimal" in done.stderr
    assert "nothing was published" in done.stderr


def test_a_break_stops_the_day_with_a_report(bundle: Path, tmp_path: Path) -> None:
    """§5: A sells to close 61 lots after buying 60: the close exceeds the position by 1. The
    break names the trade's line, seq and trade_id, found before any aggregation."""
    edit_cell(bundle / "events" / "trades.csv", 3, "qty", "61")
    out = tmp_path / "out"
    done = _replay(bundle, out)
    assert done.returncode == 2
    assert "exceeds the position by 1 [§5]" in done.stderr
    report = json.loads((out / "2026-11-23" / "breaks.json").read_text())
    assert report["kind"] == "break" and report["count"] == 1
    assert report["files"] == [{"file": "events/trades.csv", "count": 1}]
    assert report["problems"] == [
        {
            "source": "events/trades.csv",
            "record": "line 3",
            "field": "sell_offset",
            "message": "seq=2 trade_id=T2: SELL CLOSE of 61 lots by A in XF2612 (SPEC) exceeds"
            " the position by 1",
            "rule": "§5",
        }
    ]
    assert sorted(p.name for p in (out / "2026-11-23").iterdir()) == ["breaks.json"]


def test_three_problems_in_three_files_in_one_run(bundle: Path, tmp_path: Path) -> None:
    """Issue 18's day: a trade price 39x0.0, an opening settlement price of -5 and a short,
    duplicated instrument row. One run names each root by file, line and field; the §4 check the
    bad opening price makes meaningless says so once instead of blaming the trades."""
    edit_cell(bundle / "events" / "trades.csv", 2, "price", "39x0.0")
    edit_cell(bundle / "opening" / "settlement_prices.csv", 2, "settle_price", "-5")
    instruments = bundle / "reference" / "instruments.csv"
    first_row = instruments.read_text().splitlines()[1]
    instruments.write_text(instruments.read_text() + first_row.rsplit(",", 3)[0] + "\n")
    out = tmp_path / "out"
    done = _replay(bundle, out)
    assert done.returncode == 2 and "nothing was published" in done.stderr
    report = json.loads((out / "2026-11-23" / "breaks.json").read_text())
    named = {(p["source"], p["record"], p["field"]) for p in report["problems"]}
    assert {
        ("reference/instruments.csv", "line 3", "listing_price"),  # the short row
        ("reference/instruments.csv", "line 3", "instrument_id"),  # its duplicate key
        ("opening/settlement_prices.csv", "line 2", "settle_price"),
        ("events/trades.csv", "line 2", "price"),
    } <= named
    assert "value '-5' is not positive" in done.stderr
    assert [p["message"] for p in report["problems"] if p["rule"] == "§4"] == []
    notes = [p for p in report["problems"] if "§4 limits of XF2612 not checked" in p["message"]]
    assert len(notes) == 1
    assert report["files"] == [
        {"file": "reference/instruments.csv", "count": 3},
        {"file": "opening/settlement_prices.csv", "count": 1},
        {"file": "events/trades.csv", "count": 3},
    ]
    assert sorted(p.name for p in (out / "2026-11-23").iterdir()) == ["breaks.json"]
