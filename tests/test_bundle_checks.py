"""The one-pass bundle check (edge.validate; issue 18): hand-made days, each broken in a
known way, and the exact problem each must produce."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pytest

from edge.validate import check_bundle
from portal.views import stopped_by_file
from settlement.errors import BreaksError, DayclearError, InputError
from tests.bundle_edits import edit_cell
from tests.worked_days import day_one

DAY = date(2026, 11, 23)


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    return day_one().write(tmp_path / "bundle")


def _problems(bundle: Path) -> list[tuple[str, str, str, str, str]]:
    with pytest.raises(DayclearError) as caught:
        check_bundle(bundle, DAY)
    return [(p.source, p.record, p.field, p.message, p.rule) for p in caught.value.problems]


def test_the_worked_example_is_sound(bundle: Path) -> None:
    checked = check_bundle(bundle, DAY)
    assert checked.events["trades"].height == 3


def test_limits_from_a_wrong_opening_price_name_every_trade_and_the_root(bundle: Path) -> None:
    """§4 by hand: prev_settle 5, limit_pct 10 %, tick 0.2: up = floor(5.5 / 0.2) × 0.2 = 5.4,
    down = ceil(4.5 / 0.2) × 0.2 = 4.6; all three trades (4000, 4030, 4040) lie above."""
    edit_cell(bundle / "opening" / "settlement_prices.csv", 2, "settle_price", "5.0")
    with pytest.raises(BreaksError) as caught:
        check_bundle(bundle, DAY)
    root = "computed from opening/settlement_prices.csv line 2 (settle_price 5)"
    assert [(p.record, p.field, p.rule, p.message) for p in caught.value.problems] == [
        (
            f"line {n + 1}",
            "price",
            "§4",
            f"seq={n} trade_id=T{n}: price {price} of XF2612 lies outside the day's limits"
            f" [4.6, 5.4], {root}",
        )
        for n, price in [(1, "4000"), (2, "4030"), (3, "4040")]
    ]


def test_a_trade_in_the_lunch_break_off_the_tick_and_a_seq_gap(bundle: Path) -> None:
    """§2 (12:00 is in the lunch break) and the product's tick 0.2 (4000.1 is not on it) are
    problems; the trades' seq 1, 3 (seq 2 deleted, a busted trade) is not (docs/decisions.md)."""
    edit_cell(bundle / "events" / "trades.csv", 2, "ts", "2026-11-23T12:00:00.000000")
    edit_cell(bundle / "events" / "trades.csv", 4, "price", "4040.1")
    trades = bundle / "events" / "trades.csv"
    lines = trades.read_text().splitlines(keepends=True)
    trades.write_text("".join(lines[:2] + lines[3:]))
    problems = _problems(bundle)
    assert (
        "events/trades.csv",
        "line 3",
        "price",
        "price 4040.1 is not on the tick 0.2 of XF",
        "",
    ) in problems
    assert not [p for p in problems if p[2] == "seq"]
    assert (
        "events/trades.csv",
        "line 2",
        "ts",
        "seq=1 trade_id=T1: 2026-11-23 12:00:00 is outside the trading hours of INDEX",
        "§2",
    ) in problems


def test_a_holiday_an_expiry_without_final_price_and_an_account_without_member(
    bundle: Path,
) -> None:
    (bundle / "reference" / "holidays.csv").write_text("date,name\n2026-11-23,Closed\n")
    edit_cell(bundle / "reference" / "instruments.csv", 2, "last_trading_day", "2026-11-23")
    edit_cell(bundle / "reference" / "accounts.csv", 3, "member_id", "M9")
    problems = _problems(bundle)
    assert (
        "reference/holidays.csv",
        "-",
        "date",
        "2026-11-23 is not a trading day [§2]",
        "§2",
    ) in problems
    assert (
        "reference/instruments.csv",
        "line 2",
        "last_trading_day",
        "XF2612 expires today but has no row in reference/final_settlement_prices.csv",
        "§3.6",
    ) in problems
    assert (
        "reference/accounts.csv",
        "line 3",
        "member_id",
        "unknown member 'M9' (not in reference/members.csv)",
        "",
    ) in problems


def test_domains_come_from_the_schema(bundle: Path) -> None:
    """Rates within (0, 1], multipliers positive, a fee rate of a RATIO product within [0, 1]."""
    edit_cell(bundle / "reference" / "margin_rates.csv", 2, "long_rate", "1.5")
    edit_cell(bundle / "reference" / "products.csv", 2, "multiplier", "0")
    edit_cell(bundle / "reference" / "products.csv", 2, "fee_open", "2")
    with pytest.raises(InputError) as caught:
        check_bundle(bundle, DAY)
    messages = {(p.source, p.record, p.field): p.message for p in caught.value.problems}
    assert messages[("reference/margin_rates.csv", "line 2", "long_rate")] == (
        "value '1.5' is not within (0, 1]"
    )
    assert (
        messages[("reference/products.csv", "line 2", "multiplier")] == "value '0' is not positive"
    )
    assert messages[("reference/products.csv", "line 2", "fee_open")] == (
        "value '2' is not within [0, 1] for fee_basis RATIO"
    )


def test_the_portal_groups_a_stopped_day_by_file_with_counts() -> None:
    report = {
        "problems": [
            {"source": "a.csv", "record": "line 2"},
            {"source": "b.csv", "record": "line 5"},
            {"source": "a.csv", "record": "line 9"},
        ]
    }
    groups = stopped_by_file(report)
    assert [(g["file"], g["count"]) for g in groups] == [("a.csv", 2), ("b.csv", 1)]
    assert [p["record"] for p in groups[0]["problems"]] == ["line 2", "line 9"]


def test_every_problem_is_listed_none_capped(bundle: Path) -> None:
    """Issue 16: problems were cut at 50 (.head(50)); 120 bad rows are 120 problems, each named in
    the error's list and in its message."""
    trades = bundle / "events" / "trades.csv"
    rows = list(csv.DictReader(trades.open()))
    bad = [
        {**rows[0], "seq": str(100 + n), "trade_id": f"TX{n}", "instrument_id": "NOPE"}
        for n in range(120)
    ]
    with trades.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows + bad)
    with pytest.raises(DayclearError) as caught:
        check_bundle(bundle, DAY)
    unknown = [p for p in caught.value.problems if p.field == "instrument_id"]
    assert [p.record for p in unknown] == [f"line {n}" for n in range(5, 125)]
    assert all("unknown instrument 'NOPE'" in p.message for p in unknown)
    assert "line 124, field instrument_id" in str(caught.value)
