"""The contract oracle of the hostile-input test (tests/hostile.py), without Kafka: it accepts a
valid simulated day and judges hand-written hostile records as the schemas and DATA_CONTRACT say.
The gate itself is tested black box in tests/test_hostile_input.py."""

from __future__ import annotations

import csv
import json
from datetime import date
from typing import Any

import pytest

from devtools.simulator import SimulationConfig, simulate
from tests.hostile import KINDS, contract_problem, hostile_batch

DAY = "2026-12-09"


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    bundle = tmp_path_factory.mktemp("contract") / "bundle"
    simulate(SimulationConfig(day=date(2026, 12, 9), accounts=20, members=2, trades=20), bundle)

    def rows(path: str) -> list[dict[str, str]]:
        return list(csv.DictReader((bundle / path).open()))

    return {
        "bundle": bundle,
        "accounts": {r["account_id"] for r in rows("reference/accounts.csv")},
        "instruments": {r["instrument_id"] for r in rows("reference/instruments.csv")},
        "trade": rows("events/trades.csv")[0],
        "rows": {t: rows(f"events/{t}.csv") for t in ("orders", "trades", "fund_movements")},
    }


def _judge(day: dict[str, Any], topic: str, value: bytes | dict[str, Any]) -> str | None:
    raw = value if isinstance(value, bytes) else json.dumps(value, ensure_ascii=False).encode()
    return contract_problem(topic, raw, DAY, day["accounts"], day["instruments"])


def _wire(row: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {**row, "seq": int(row["seq"])}
    if "qty" in out:
        out["qty"] = int(out["qty"])
    if "price" in out and out["price"] == "":
        out["price"] = None
    return out


def test_the_valid_day_is_valid(day: dict[str, Any]) -> None:
    for topic, rows in day["rows"].items():
        assert rows
        for row in rows:
            assert _judge(day, topic, _wire(row)) is None, (topic, row)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"qty": 0}, "qty: below 1"),
        ({"qty": -3}, "qty: below 1"),
        ({"qty": "5"}, "qty: not an integer"),
        ({"qty": 2.5}, "qty: not an integer"),
        ({"qty": True}, "qty: not an integer"),
        ({"seq": 2**63}, "seq: beyond 64 bits"),
        ({"trade_id": ""}, "trade_id: too short"),
        ({"trade_id": 7}, "trade_id: not a string"),
        ({"price": 4000}, "price: not a string"),
        ({"price": "1.0\n"}, "price: does not match its pattern"),
        ({"price": "１０"}, "price: does not match its pattern"),  # full-width digits
        ({"buy_offset": "open"}, "buy_offset: not in the enumeration"),
        ({"trading_day": "2026-12-08"}, "trading_day: not the open day"),
        ({"buy_account_id": "A999999"}, "buy_account_id: unknown account"),
        ({"instrument_id": "XX9999"}, "instrument_id: unknown instrument"),
        # what the contract accepts and leaves to the end of day (docs/decisions.md)
        ({"price": "-5"}, None),
        ({"price": "4000.0001"}, None),
        ({"ts": f"{DAY}T12:00:00.000000"}, None),
        ({"trade_id": "成交-1"}, None),
        ({"note": [1, 2]}, None),  # an extra field
    ],
)
def test_a_trade_is_judged_as_the_contract_says(
    day: dict[str, Any], change: dict[str, Any], problem: str | None
) -> None:
    assert _judge(day, "trades", _wire(day["trade"]) | change) == problem


def test_what_is_not_a_record(day: dict[str, Any]) -> None:
    assert _judge(day, "orders", b"\xff\xfe") == "not JSON"
    assert _judge(day, "orders", b'{"seq": 1, "trading_day": ') == "not JSON"
    assert _judge(day, "orders", b"[1, 2]") == "not a JSON object"
    record = {k: v for k, v in _wire(day["trade"]).items() if k != "qty"}
    assert _judge(day, "trades", record) == "qty: missing"


def test_the_batch_is_the_same_every_time_and_hostile(day: dict[str, Any]) -> None:
    templates = {t: [_wire(r) for r in rows] for t, rows in day["rows"].items()}
    first, again = (hostile_batch(templates, {}, 60) for _ in range(2))
    assert [h.value for h in first] == [h.value for h in again]
    judged = [_judge(day, h.topic, h.value) for h in first]
    assert sum(p is not None for p in judged) > 30
    assert {h.kind for h in first} <= set(KINDS)
