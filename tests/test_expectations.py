"""The Great Expectations suites catch what the schemas forbid, naming the suite, column and value."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from audit.expectations import validate
from tests.conftest import run_dayclear
from tests.worked_days import day_one

pytestmark = pytest.mark.slow


def test_suites_pass_then_catch_a_negative_margin_and_a_bad_enum(tmp_path: Path) -> None:
    bundle = day_one().write(tmp_path / "bundle")
    run_dayclear(
        "replay", str(bundle), "--day", "2026-11-23", "--out", str(tmp_path / "out"), check=True
    )
    folder = tmp_path / "out" / "2026-11-23" / "v1"
    clean = validate(bundle, folder, tmp_path / "gx1")
    assert all(r["success"] for r in clean.values()), clean

    broken = tmp_path / "broken"
    shutil.copytree(folder, broken)
    funds = broken / "members" / "M1" / "funds.csv"
    rows = list(csv.DictReader(funds.open()))
    rows[0]["margin"] = "-1.00"
    with funds.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    positions = broken / "members" / "M1" / "positions.csv"
    positions.write_text(positions.read_text().replace(",SPEC,", ",SPECULATIVE,"))
    found = validate(bundle, broken, tmp_path / "gx2")
    assert found["published_funds"]["failed"] == [
        {
            "expectation": "expect_column_values_to_match_regex",
            "column": "margin",
            "unexpected": ["-1.00"],
        }
    ]
    assert {
        "expectation": "expect_column_values_to_be_in_set",
        "column": "hedge_flag",
        "unexpected": ["SPECULATIVE"],
    } in found["published_positions"]["failed"]
