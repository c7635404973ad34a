"""The intraday risk estimate (settlement/risk.py) on a hand-built day, numbers worked by hand.

XF (mult 300, margin 12% both sides, no fees, declaration fees counted per instrument with an
order-to-trade threshold of 2), XF2612 previous settlement 4000.0. A (balance 100,000.00) buys two
lots to open from B (balance 10,000,000.00): 1 @4000.0, then 1 @3990.0, the last traded price.
  A: MTM 300 × ((3990 − 4000)·1 + (3990 − 3990)·1) = −3,000.00; margin 3990 × 300 × 2 × 12% =
     287,280.00; available 100,000.00 − 3,000.00 − 287,280.00 = −190,280.00 -> AVAILABLE_NEGATIVE
  B: MTM +3,000.00; available 10,000,000.00 + 3,000.00 − 287,280.00 = 9,715,720.00 -> nothing
Position limit 1 lot for XF: A (2 long) and B (2 short) are both above it.
Declarations: A 300 messages, 2 executed: otr 300/2 − 1 = 149 > 2 with ≥ 200 messages -> alert;
B 10 messages, 2 executed: otr 4 > 2 but only 10 messages -> no alert."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from edge.bundle import load_opening, load_reference
from jobs.risk_monitor import alert_record
from settlement.model import Aggregates
from settlement.risk import estimate, risk_alerts
from tests.daybuilder import Day, index_future
from tests.frames import leg, table

DAY = date(2026, 11, 23)


def _day(tmp_path: Path) -> tuple[object, object]:
    product = index_future("XF", 300, "UX")
    product[16] = "INSTRUMENT"  # decl_scope; decl_otr_threshold stays 2
    bundle = Day(
        day=DAY.isoformat(),
        products=[product],
        instruments=[["XF2612", "XF", "2026-12-18", "1.0", None, None]],
        margin_rates=[["XF2612", h, "0.12", "0.12"] for h in ("SPEC", "HEDGE")],
        accounts=[("A", "M1"), ("B", "M2")],
        prev_settle={"XF2612": "4000.0"},
        balances={"A": "100000.00", "B": "10000000.00"},
        underlyings=[[DAY.isoformat(), "UX", "4000.00", "4000.00"]],
    ).write(tmp_path / "bundle")
    reference = load_reference(bundle, DAY)
    return reference, load_opening(bundle, reference)


def _aggregates() -> Aggregates:
    day = {"trades": 2, "volume": 2, "pq": "7990.0", "first_seq": 1, "last_seq": 2}
    return Aggregates(
        table(
            "agg_legs",
            [
                leg(1, "BUY", "OPEN", "4000.0", 1, account="A", after=1),
                leg(1, "SELL", "OPEN", "4000.0", 1, account="B", after=1),
                leg(2, "BUY", "OPEN", "3990.0", 1, account="A", after=2),
                leg(2, "SELL", "OPEN", "3990.0", 1, account="B", after=2),
            ],
        ),
        table(
            "agg_instrument_minutes",
            [{"instrument_id": "XF2612", "minute": 30, "trades": 2, "qty": 2, "pq": "7990.0"}],
        ),
        table(
            "agg_instrument_day",
            [
                {"instrument_id": "XF2612", **day, "open": "4000.0", "high": "4000.0"}
                | {"low": "3990.0", "close": "3990.0", "last_trade_micros": 30 * 60_000_000}
            ],
        ),
        table(
            "agg_declarations",
            [
                {"account_id": "A", "instrument_id": "XF2612", "messages": 300, "executed": 2},
                {"account_id": "B", "instrument_id": "XF2612", "messages": 10, "executed": 2},
            ],
        ),
        table("agg_funds", []),
        table("agg_control", []),
        table("agg_dead_letters", []),
    )


def test_available_funds_at_the_last_traded_price(tmp_path: Path) -> None:
    reference, opening = _day(tmp_path)
    accounts, _, _ = estimate(DAY, reference, opening, _aggregates())  # type: ignore[arg-type]
    cents = {
        a: (int(m), int(v))
        for a, m, v in accounts.select("account_id", "margin", "available").iter_rows()
    }
    assert cents == {"A": (28_728_000, -19_028_000), "B": (28_728_000, 971_572_000)}


def test_alerts_for_funds_position_limit_and_order_to_trade(tmp_path: Path) -> None:
    reference, opening = _day(tmp_path)
    found = risk_alerts(DAY, reference, opening, _aggregates(), {"XF": 1}, 200)  # type: ignore[arg-type]
    assert [
        (r["kind"], r["account_id"], r["subject"], r["value"], r["threshold"])
        for r in found.iter_rows(named=True)
    ] == [
        ("AVAILABLE_NEGATIVE", "A", "funds", "-190280.00", "0"),
        ("ORDER_TO_TRADE", "A", "XF2612", "149.0000", "2"),
        ("POSITION_LIMIT", "A", "XF", "2", "1"),
        ("POSITION_LIMIT", "B", "XF", "2", "1"),
    ]


def test_no_alert_below_the_limits(tmp_path: Path) -> None:
    reference, opening = _day(tmp_path)
    found = risk_alerts(DAY, reference, opening, _aggregates(), {"XF": 2}, 301)  # type: ignore[arg-type]
    assert found["kind"].to_list() == ["AVAILABLE_NEGATIVE"]


def test_a_risk_alert_is_timed_in_the_exchanges_zone_with_its_offset() -> None:
    """Issue 16: ``event_ts`` was the machine's local time without a zone. 2026-11-23 06:05:09
    UTC is 14:05:09 in Shanghai (UTC+8, no daylight saving)."""
    at = datetime(2026, 11, 23, 6, 5, 9, tzinfo=UTC).timestamp()
    alert = {"kind": "available_below_zero", "account_id": "A", "subject": "A"}
    assert alert_record(alert, date(2026, 11, 23), at) == {
        **alert,
        "source": "risk",
        "trading_day": "2026-11-23",
        "event_ts": "2026-11-23T14:05:09+08:00",
    }
