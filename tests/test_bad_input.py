"""Bad input to ``dayclear replay`` stops with an error naming the file, the row and the field,
and publishes nothing."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tests.conftest import run_dayclear
from tests.test_worked_example import day_one


def _replay(bundle: Path, out: Path):  # type: ignore[no-untyped-def]
    return run_dayclear("replay", str(bundle), "--day", "2026-11-23", "--out", str(out))


def _edit(path: Path, line: int, field: str, value: str) -> None:
    rows = list(csv.DictReader(path.open()))
    rows[line - 2][field] = value
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    return day_one().write(tmp_path / "bundle")


def test_missing_reference_file(bundle: Path, tmp_path: Path) -> None:
    (bundle / "reference" / "products.csv").unlink()
    done = _replay(bundle, tmp_path / "out")
    assert done.returncode == 2
    assert "reference/products.csv" in done.stderr and "required file is missing" in done.stderr
    assert not (tmp_path / "out" / "2026-11-23").exists()


def test_unknown_instrument(bundle: Path, tmp_path: Path) -> None:
    _edit(bundle / "events" / "trades.csv", 3, "instrument_id", "ZZ9999")
    done = _replay(bundle, tmp_path / "out")
    assert done.returncode == 2
    assert "events/trades, line 3, field instrument_id: unknown instrument 'ZZ9999'" in done.stderr
    assert not (tmp_path / "out" / "2026-11-23").exists()


def test_malformed_row(bundle: Path, tmp_path: Path) -> None:
    _edit(bundle / "events" / "trades.csv", 2, "price", "40x0")
    _edit(bundle / "reference" / "margin_rates.csv", 2, "long_rate", "")
    done = _replay(bundle, tmp_path / "out")
    assert done.returncode == 2
    assert "reference/margin_rates.csv, line 2, field long_rate: is empty" in done.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_malformed_event_field(bundle: Path, tmp_path: Path) -> None:
    _edit(bundle / "events" / "trades.csv", 2, "price", "40x0")
    done = _replay(bundle, tmp_path / "out")
    assert done.returncode == 2
    assert (
        "events/trades.csv, line 2, field price: value '40x0' is not a plain decimal" in done.stderr
    )
    assert "nothing was published" in done.stderr


def test_a_break_stops_the_day_with_a_report(bundle: Path, tmp_path: Path) -> None:
    """§5: A sells to close 61 lots after buying 60: the close exceeds the position by 1."""
    import json

    _edit(bundle / "events" / "trades.csv", 3, "qty", "61")
    out = tmp_path / "out"
    done = _replay(bundle, out)
    assert done.returncode == 2
    assert "exceeds the position by 1 [§5]" in done.stderr
    report = json.loads((out / "2026-11-23" / "breaks.json").read_text())
    assert report["kind"] == "break" and report["count"] >= 1
    assert {
        "source": "trades",
        "record": "seq=2 SELL leg",
        "field": "sell_offset",
        "rule": "§5",
    }.items() <= report["problems"][0].items()
    assert sorted(p.name for p in (out / "2026-11-23").iterdir()) == ["breaks.json"]
