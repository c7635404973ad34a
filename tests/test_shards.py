"""Settling in shards of members publishes exactly the bytes of settling the whole day at once,
for any cut of the members (driver/shards.py); the cut follows the members' account counts."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from devtools.simulator import SimulationConfig, simulate
from driver.pipeline import run_preaggregation, snapshot_journal, stage_bundle
from driver.shards import member_shards, settle_in_shards
from edge.aggregates import read_aggregates
from edge.bundle import load_inputs
from publication.publish import publish, publish_files
from settlement.eod import settle_day

EXPIRY = date(2026, 12, 18)  # index futures and options expire: final settlement, positions removed


def _folder_bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_members_are_cut_by_their_account_counts() -> None:
    accounts = pl.DataFrame(
        {
            "account_id": [f"a{n}" for n in range(10)],
            "member_id": ["M1"] * 5 + ["M2"] + ["M3"] * 4,
        }
    )
    # 10 accounts in two shards: M1's five fill the first half; M2 and M3 the second
    assert member_shards(accounts, ["M1", "M2", "M3"], 2) == [["M1"], ["M2", "M3"]]
    assert member_shards(accounts, ["M1", "M2", "M3"], 1) == [["M1", "M2", "M3"]]
    assert member_shards(accounts, ["M1", "M2", "M3"], 9) == [["M1"], ["M2"], ["M3"]]
    # a member without accounts still gets its (empty) files, in the run it falls into
    assert member_shards(accounts, ["M0", "M1", "M2", "M3"], 3) == [["M0", "M1"], ["M2", "M3"]]


@pytest.mark.slow
def test_any_cut_of_the_members_publishes_the_same_bytes(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    simulate(
        SimulationConfig(day=EXPIRY, accounts=240, members=12, trades=1200, seed=7),
        bundle,
    )
    inputs = load_inputs(bundle, EXPIRY)
    stage_bundle(bundle, EXPIRY, tmp_path / "staging", inputs)
    snapshot = tmp_path / "snapshot"
    run_preaggregation(tmp_path / "staging", snapshot)
    members = inputs.reference.members["member_id"].sort().to_list()
    lineage: dict[str, object] = {"source": "test"}

    whole, breaks = settle_day(
        EXPIRY,
        inputs.reference,
        inputs.opening,
        read_aggregates(snapshot, legs=False),
        snapshot_journal(snapshot, inputs, EXPIRY).for_members(members),
    )
    assert whole is not None and breaks == []
    assert whole.settlement_prices["open_interest"].sum() > 0
    journal = snapshot_journal(snapshot, inputs, EXPIRY)
    expected = _folder_bytes(
        publish(whole, tmp_path / "whole", members, lineage, "", journal.folder).folder
    )

    for shards in (1, 3, len(members)):
        rendered, breaks = settle_in_shards(
            EXPIRY,
            inputs.reference,
            inputs.opening,
            read_aggregates(snapshot, legs=False),
            snapshot_journal(snapshot, inputs, EXPIRY),
            members,
            tmp_path / f"spool{shards}",
            shards=shards,
        )
        assert rendered is not None and breaks == []
        out = tmp_path / f"shards{shards}"
        folder = publish_files(EXPIRY, rendered.files, rendered.totals, out, lineage).folder
        got = _folder_bytes(folder)
        assert got.keys() == expected.keys()
        assert [p for p in expected if got[p] != expected[p]] == [], shards
