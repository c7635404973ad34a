"""The trade journal built intraday on disk, chunk by chunk, settles and publishes exactly what the
end of day computes from the legs in memory; its per-key sums add up across any chunking."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import cast

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.bundle import load_opening, load_reference
from edge.journal_files import JOURNAL, build_journal, read_journal
from publication.publish import publish, verify_folder
from settlement.eod import settle_day
from settlement.instruments import instrument_table
from settlement.journal import add_up
from tests.frames import futures_sums, leg, table
from tests.rules_day import (
    DAY,
    rules_day_aggregates,
    rules_day_bundle,
    rules_day_with_journal,
    snapshot_with_legs,
)
from tests.strategies import trading_day


def _folder_bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_journal_on_disk_publishes_the_same_bytes(tmp_path: Path) -> None:
    # 100-byte chunks: about one leg per chunk, so every sum is added up across chunks
    reference, opening, aggregates, members, snapshot = rules_day_with_journal(
        tmp_path, chunk_bytes=100
    )
    journal = read_journal(snapshot)
    assert journal is not None and journal.trades is None

    on_disk, breaks = settle_day(DAY, reference, opening, aggregates, journal)
    in_memory, breaks_mem = settle_day(DAY, reference, opening, aggregates)
    assert breaks == breaks_mem == [] and on_disk is not None and in_memory is not None
    assert on_disk.trades is None
    a = publish(on_disk, tmp_path / "a", members, {"source": "test"}, "", snapshot / "journal")
    b = publish(in_memory, tmp_path / "b", members, {"source": "test"})
    assert _folder_bytes(a.folder) == _folder_bytes(b.folder)
    trades = pl.concat(
        pl.read_csv(p, infer_schema=False) for p in a.folder.glob("members/*/trades.csv")
    )
    # six legs; the XF buy @4012.4 × 300: turnover 1,203,720.00
    assert trades.height == 6
    xf = trades.filter((pl.col("instrument_id") == "XF2612") & (pl.col("side") == "BUY")).row(
        0, named=True
    )
    assert (xf["price"], xf["turnover"], xf["premium"]) == ("4012.4", "1203720.00", "0.00")
    # a published trade file links the journal's, which stays as it was
    linked = next(a.folder.glob("members/*/trades.csv"))
    assert linked.stat().st_nlink == 2


def test_a_short_close_in_the_journal_stops_the_day(tmp_path: Path) -> None:
    bundle = rules_day_bundle(tmp_path)
    reference = load_reference(bundle, DAY)
    opening = load_opening(bundle, reference)
    aggregates = rules_day_aggregates()
    over = table(
        "agg_legs",
        [leg(9, "SELL", "CLOSE", "4012.4", 2, account="A", instrument="XF2612", after=-1)],
    )
    legs = pl.concat([aggregates.legs, over])
    snapshot = snapshot_with_legs(tmp_path, legs)
    build_journal(
        snapshot,
        instrument_table(reference, opening, DAY),
        reference.accounts.select("account_id", "member_id"),
        reference.members["member_id"].to_list(),
    )
    journal = read_journal(snapshot)
    assert journal is not None
    result, breaks = settle_day(DAY, reference, opening, aggregates, journal)
    assert result is None
    assert [(b.record, b.rule) for b in breaks] == [("seq=9 trade_id=T9 SELL leg", "§5")]


@settings(max_examples=40, deadline=None)
@given(trading_day(), st.lists(st.integers(0, 50), max_size=6))
def test_sums_add_up_across_any_chunking(
    day: tuple[list[dict[str, object]], list[dict[str, object]], str, str, int], cuts: list[int]
) -> None:
    legs = table("agg_legs", day[1])
    bounds = sorted({0, legs.height, *(c for c in cuts if c < legs.height)})
    chunks = [legs.slice(lo, hi - lo) for lo, hi in itertools.pairwise(bounds)]
    whole = add_up([futures_sums(legs)])
    assert add_up([futures_sums(c) for c in chunks]).equals(whole)
    # and the sums are the legs' own totals
    assert (
        cast(int, whole["buy_open"].sum()) + cast(int, whole["buy_close"].sum())  # Int128 sums
        == legs.filter(pl.col("side") == "BUY")["qty"].sum()
    )


def test_a_journal_file_altered_after_it_was_hashed_fails_verification(tmp_path: Path) -> None:
    reference, opening, aggregates, members, snapshot = rules_day_with_journal(tmp_path)
    result, _ = settle_day(DAY, reference, opening, aggregates, read_journal(snapshot))
    assert result is not None
    folder = publish(
        result, tmp_path / "out", members, {"source": "test"}, "", snapshot / JOURNAL
    ).folder
    verify_folder(folder)  # as published: whole
    trades = next(p for p in sorted(folder.glob("members/*/trades.csv")) if p.stat().st_size > 200)
    trades.write_bytes(trades.read_bytes().replace(b"4012.4", b"4012.6", 1))
    with pytest.raises(OSError, match=f"{trades.parent.name}/trades.csv: content does not match"):
        verify_folder(folder)
