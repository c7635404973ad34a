"""Hypothesis over random simulated days (SETTLEMENT_RULES §12): for any seed, size and day
(including an index futures and options expiry), the day settled through the production path
(Flink pre-aggregation + end of day) holds every §12 invariant, and equals the independent full
recompute from the raw events row for row and to the cent."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.recompute import recompute
from audit.reconcile import reconcile
from devtools.simulator import SimulationConfig, simulate
from driver.pipeline import replay

pytestmark = pytest.mark.slow


@settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    seed=st.integers(0, 10_000),
    accounts=st.integers(30, 400),
    trades=st.integers(20, 1500),
    day=st.sampled_from(
        [date(2026, 11, 20), date(2026, 11, 23), date(2026, 6, 22), date(2026, 12, 11)]
    ),
)
def test_random_day_holds_the_invariants_and_matches_the_recompute(
    seed: int, accounts: int, trades: int, day: date
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        simulate(
            SimulationConfig(
                day=day, accounts=accounts, members=max(2, accounts // 20), trades=trades, seed=seed
            ),
            root / "bundle",
        )
        publication = replay(root / "bundle", day, root / "out", root / "work")
        report = reconcile(
            recompute(root / "bundle", day, root / "audit.duckdb"), publication.folder
        )
        assert report["differences"] == [], report["differences"][:10]
        assert {name: rows for name, rows in report["invariants"].items() if rows} == {}
