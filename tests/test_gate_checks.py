"""The gate's checks as generated from the topic schemas (jobs/gate.py, ``checks``): what
``gate_verdict`` tries, in which order, with which verdict (DATA_CONTRACT: every refused record
names its reason and field)."""

from __future__ import annotations

import json

import pytest

from jobs.gate import checks, gate_sql

DAY = "2026-12-01"


def test_fund_movements_are_checked_field_by_field_then_day_then_references() -> None:
    found = [(c["check"], c["verdict"]) for c in checks("fund_movements", DAY)]
    assert found[:7] == [
        ("missing", "missing or not a valid string|trading_day"),
        ("type", "missing or not a JSON string|trading_day"),
        ("pattern", "does not match its format|trading_day"),
        ("date", "not a valid date|trading_day"),
        ("missing", "missing or not a valid int|seq"),
        ("type", "missing or not a JSON integer|seq"),
        ("min", "below 1|seq"),
    ]
    assert ("timestamp", "not a valid timestamp|ts") in found
    assert ("decimal", "does not fit DECIMAL(20, 2)|amount") in found
    assert ("enum", "not one of DEPOSIT, WITHDRAWAL|direction") in found
    assert found[-2:] == [
        ("day", f"trading day is not the open day {DAY} (closed or future day)|trading_day"),
        ("known", "unknown account|account_id"),
    ]


def test_the_wire_types_are_checked_and_null_only_where_the_schema_allows_it() -> None:
    """52 and "52" have the same text once parsed: the ``type`` check holds the contract's JSON
    types (jobs/wire.py writes ints as numbers, decimals as strings, a MARKET price as null)."""
    typed = {c["verdict"].split("|")[1]: c for c in checks("orders", DAY) if c["check"] == "type"}
    assert typed["qty"] | {"verdict": ""} == {
        "check": "type", "at": typed["qty"]["at"], "verdict": "", "expect": "i",
        "nullable": False, "required": True,
    }  # fmt: skip
    assert (typed["price"]["expect"], typed["price"]["nullable"]) == ("s", True)
    assert typed["price"]["required"], "a MARKET order says price: null; it does not leave it out"
    assert typed["price"]["verdict"] == "missing or not a JSON string (null allowed)|price"
    assert {n for n, c in typed.items() if c["nullable"]} == {"price"}


def test_each_check_names_the_field_it_reads() -> None:
    from schemas.registry import topic_spec

    for topic in ("orders", "trades", "fund_movements"):
        names = topic_spec(topic).column_names
        for check in checks(topic, DAY):
            assert check["verdict"].split("|")[1] == names[check["at"]], (topic, check)


def test_integer_fields_are_parsed_as_integers() -> None:
    seq = [c for c in checks("trades", DAY) if c["verdict"].endswith("|seq")]
    assert seq[0] == {"check": "missing", "at": 1, "verdict": seq[0]["verdict"], "int": True}


@pytest.mark.parametrize("streaming", [False, True])
def test_the_checks_reach_the_sql_as_one_literal(streaming: bool) -> None:
    judged = next(s for s in gate_sql("orders", DAY, streaming) if "judged_orders AS" in s)
    literal = judged.split("gate_verdict(f, '", 1)[1].split("', '", 1)[0]
    assert json.loads(literal.replace("''", "'")) == checks("orders", DAY)
