"""Known-answer scenarios: small bundles with hand-checked results, run through the production path
(Flink pre-aggregation + end of day + publication, exactly as ``dayclear replay``) before settlement.

Each scenario is a folder under ``smoke_tests/scenarios/`` holding a day bundle and ``expected.json``.
"""

from __future__ import annotations

import csv
import json
import tempfile
from datetime import date
from pathlib import Path

from driver.pipeline import replay

SCENARIOS = Path(__file__).resolve().parent / "scenarios"


def scenario_names() -> list[str]:
    return sorted(p.name for p in SCENARIOS.iterdir() if (p / "expected.json").exists())


def run_scenario(name: str) -> list[str]:
    """Problems found (empty when the scenario gives its known answers)."""

    folder = SCENARIOS / name
    expected = json.loads((folder / "expected.json").read_text())
    day = date.fromisoformat(expected["trading_day"])
    with tempfile.TemporaryDirectory(prefix=f"smoke-{name}-") as tmp:
        publication = replay(folder, day, Path(tmp) / "out", Path(tmp) / "work")
        published = publication.folder
        problems: list[str] = []
        prices = {
            r["instrument_id"]: r
            for r in csv.DictReader((published / "exchange" / "settlement_prices.csv").open())
        }
        for instrument, fields in expected["settlement_prices"].items():
            for field, value in fields.items():
                got = prices.get(instrument, {}).get(field)
                if got != value:
                    problems.append(f"{name}: {instrument} {field} is {got}, expected {value}")
        for account, fields in expected["funds"].items():
            member = expected["member_of"][account]
            rows = {
                r["account_id"]: r
                for r in csv.DictReader((published / "members" / member / "funds.csv").open())
            }
            for field, value in fields.items():
                got = rows.get(account, {}).get(field)
                if got != value:
                    problems.append(f"{name}: account {account} {field} is {got}, expected {value}")
        return problems
