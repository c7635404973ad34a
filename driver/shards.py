"""Settling a day in shards of members: memory in proportion to a shard, not to the whole day.

Every rule after the settlement prices works within one account (§5-§10: positions, mark-to-market,
margin groups, fees, funds) or adds up across accounts (open interest, §12). So the end of day can
take the members a few at a time: each shard is settled by :func:`settlement.eod.settle_day` over
its own accounts' opening state, aggregates and journal sums, its members' files are rendered and
spooled to disk, and only the exchange-wide pieces are kept: open interest per instrument (summed
across shards), the closing positions and balances (sorted as one file at the end). The published
folder is byte-identical to settling the whole day at once (tests/test_shards.py checks that).

Breaks are collected from every shard (a break reported by several shards, such as a price outside
its limits, is listed once) and, if there is any, nothing is rendered.
"""

from __future__ import annotations

import math
import shutil
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Protocol

import polars as pl

from edge.formats import csv_bytes
from publication.publish import Content, render, spooled
from schemas.registry import file_spec
from settlement.eod import settle_day
from settlement.errors import Problem
from settlement.journal import Journal
from settlement.model import Aggregates, Opening, Reference

#: about this many positions (opening + traded keys) per shard
SHARD_POSITIONS = 400_000
SHARD = "_shard"


class JournalSource(Protocol):
    """Where a shard finds its trade journal (on disk, per member:
    :class:`edge.journal_files.JournalOnDisk`)."""

    def keys(self) -> int:
        """Rows of per-key sums in the whole journal (sizes the shards)."""
        ...

    def for_members(self, members: list[str]) -> Journal:
        """A journal holding at least these members' accounts (more is filtered out)."""
        ...

    @property
    def folder(self) -> Path:
        """The journal's finished member ``trades.csv`` files."""
        ...


@dataclass(frozen=True)
class Rendered:
    """The files of a version folder (spooled member files are :class:`Linked`) and the control
    totals per member, ready for :func:`publication.publish.publish_files`."""

    day: date
    files: dict[str, Content]
    totals: dict[str, dict[str, str]]


def member_shards(accounts: pl.DataFrame, member_ids: list[str], shards: int) -> list[list[str]]:
    """``member_ids`` (in order) cut into at most ``shards`` runs of about equal account counts."""
    counts = dict(accounts.group_by("member_id").len().iter_rows())
    total = max(1, sum(counts.get(m, 0) for m in member_ids))
    runs: list[list[str]] = [[]]
    seen = 0
    for member in member_ids:
        if runs[-1] and seen >= total * len(runs) / shards:
            runs.append([])
        runs[-1].append(member)
        seen += counts.get(member, 0)
    return runs


def shard_count(opening: Opening, journal: JournalSource, per_shard: int = SHARD_POSITIONS) -> int:
    return max(1, math.ceil((opening.positions.height + journal.keys()) / per_shard))


def _split(frame: pl.DataFrame, shard_of: pl.DataFrame, shards: int) -> list[pl.DataFrame]:
    """``frame``'s rows by the shard of their account (accounts of no known member: shard 0)."""
    parts = _tagged(frame, shard_of).partition_by(
        SHARD, as_dict=True, include_key=False, maintain_order=True
    )
    return [parts.get((n,), frame.clear()) for n in range(shards)]


def _of(frame: pl.DataFrame, shard_of: pl.DataFrame, shard: int) -> pl.DataFrame:
    """``frame``'s rows of the accounts in ``shard`` (accounts of no known member: shard 0)."""
    return _tagged(frame, shard_of).filter(pl.col(SHARD) == shard).drop(SHARD)


def _tagged(frame: pl.DataFrame, shard_of: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with the shard of each row's account (accounts of no known member: shard 0)."""
    return frame.join(shard_of, on="account_id", how="left").with_columns(
        pl.col(SHARD).fill_null(0)
    )


def settle_in_shards(
    day: date,
    reference: Reference,
    opening: Opening,
    aggregates: Aggregates,
    journal: JournalSource,
    member_ids: list[str],
    spool: Path,
    shards: int | None = None,
) -> tuple[Rendered | None, list[Problem]]:
    """The day settled and rendered shard by shard (member files spooled under ``spool``), or the
    breaks of every shard."""
    shards = shards or shard_count(opening, journal)
    runs = member_shards(reference.accounts, member_ids, shards)
    shard_of = pl.DataFrame(
        {
            "account_id": reference.accounts["account_id"],
            SHARD: reference.accounts["member_id"].replace_strict(
                {m: n for n, run in enumerate(runs) for m in run}, default=0, return_dtype=pl.Int64
            ),
        }
    )
    n = len(runs)
    split = {
        "positions": _split(opening.positions, shard_of, n),
        "balances": _split(opening.balances, shard_of, n),
        "declarations": _split(aggregates.declarations, shard_of, n),
        "funds": _split(aggregates.funds, shard_of, n),
        "legs": _split(aggregates.legs, shard_of, n),
    }
    opening_prices = opening.settlement_prices
    breaks: list[Problem] = []
    files: dict[str, Content] = {}
    totals: dict[str, dict[str, str]] = {}
    settlement: list[pl.DataFrame] = []
    closing_positions: list[pl.DataFrame] = []
    closing_balances: list[pl.DataFrame] = []
    closing_prices = None
    shutil.rmtree(spool, ignore_errors=True)
    for i, members in enumerate(runs):
        part = {name: frames[i] for name, frames in split.items()}
        for frames in split.values():
            frames[i] = frames[i].clear()  # released once this shard is done
        whole = journal.for_members(members)
        result, found = settle_day(
            day,
            reference,
            Opening(part["positions"], part["balances"], opening_prices),
            replace(
                aggregates,
                declarations=part["declarations"],
                funds=part["funds"],
                legs=part["legs"],
            ),
            Journal(
                _of(whole.sums, shard_of, i),
                _of(whole.exceptions, shard_of, i),
                None if whole.trades is None else _of(whole.trades, shard_of, i),
            ),
        )
        breaks.extend(p for p in found if p not in breaks)
        if breaks or result is None:
            continue
        shard_files, shard_totals = render(result, members, journal.folder)
        prefixes = tuple(f"members/{m}/" for m in members)
        for path, content in shard_files.items():
            if path.startswith(prefixes):
                files[path] = spooled(content, spool / path)
        totals.update(shard_totals)
        settlement.append(result.settlement_prices)
        closing_positions.append(result.closing_positions)
        closing_balances.append(result.closing_balances)
        closing_prices = result.closing_settlement_prices
    if breaks or closing_prices is None:
        return None, breaks
    open_interest = (
        pl.concat(s.select("instrument_id", "open_interest") for s in settlement)
        .group_by("instrument_id")
        .agg(pl.col("open_interest").sum())
    )
    prices = settlement[0]
    prices = prices.drop("open_interest").join(open_interest, on="instrument_id", how="left")
    files["exchange/settlement_prices.csv"] = csv_bytes(
        prices.select(settlement[0].columns), file_spec("settlement_prices")
    )
    files["closing/positions.csv"] = csv_bytes(
        pl.concat(closing_positions), file_spec("opening_positions")
    )
    files["closing/balances.csv"] = csv_bytes(
        pl.concat(closing_balances), file_spec("opening_balances")
    )
    files["closing/settlement_prices.csv"] = csv_bytes(
        closing_prices, file_spec("opening_settlement_prices")
    )
    return Rendered(day, dict(sorted(files.items())), totals), []
