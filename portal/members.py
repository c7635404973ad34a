"""What a member's pages show, read from the member's own published files (each checked against the
manifest before it is read): the funds summary per account, positions and trades as sorted, paged
tables, the margin calls, the history of balance and margin over the member's days, and what a
re-issue changed, column by column."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import PurePosixPath
from typing import Any

from portal import days as d
from portal import formatting as fmt
from schemas.registry import file_spec, group_specs

PAGE_ROWS = 25
SUMMARY_COLUMNS = ("balance", "margin", "available", "margin_call")
#: The member files shown as sorted, paged tables.
TABLES = ("positions.csv", "trades.csv")
#: A member file's name -> its spec's name (``members/{member_id}/funds.csv`` -> ``funds``).
SPEC_OF = {
    PurePosixPath(spec.path).name: spec.name
    for spec in group_specs("published")
    if spec.path.startswith("members/")
}


def rows_of(src: d.Sources, day: str, version: str, member: str, name: str) -> list[dict[str, str]]:
    return d.read_csv(d.member_file(src, day, version, member, name))


def _types(name: str) -> dict[str, str]:
    return {c.name: c.type for c in file_spec(SPEC_OF[name]).columns}


def funds_summary(src: d.Sources, day: str, version: str, member: str) -> dict[str, Any]:
    """Balance, margin, available and margin call due per account, and the member's totals."""
    funds = rows_of(src, day, version, member, "funds.csv")
    totals = {c: sum((Decimal(r[c]) for r in funds), Decimal(0)) for c in SUMMARY_COLUMNS}
    return {
        "columns": SUMMARY_COLUMNS,
        "rows": [
            {"account_id": r["account_id"], **{c: fmt.amount(r[c]) for c in SUMMARY_COLUMNS}}
            for r in funds
        ],
        "totals": {c: fmt.amount(v) for c, v in totals.items()},
        "calls": [r["account_id"] for r in funds if Decimal(r["margin_call"]) > 0],
        "call_total": fmt.amount(totals["margin_call"]),
    }


@dataclass(frozen=True)
class Table:
    name: str
    columns: list[str]
    rows: list[list[str]]
    numeric: set[str]
    sort: str
    descending: bool
    page: int
    pages: int
    total: int


def table(
    src: d.Sources,
    day: str,
    version: str,
    member: str,
    name: str,
    sort: str | None = None,
    descending: bool = False,
    page: int = 1,
) -> Table:
    """One of the member's files as a table page: sorted by ``sort`` (numbers as numbers), ``PAGE_ROWS``
    rows a page, values written by their column type."""
    if name not in TABLES:
        raise d.NotFound(name)
    types = _types(name)
    columns = list(types)
    rows = rows_of(src, day, version, member, name)
    sort = sort if sort in types else file_spec(SPEC_OF[name]).sort_by[0]
    numeric = {c for c, t in types.items() if t in ("int", "money", "price", "rate", "ratio4")}

    def key(row: dict[str, str]) -> tuple[int, Decimal | str]:
        value = row[sort]
        if sort in numeric:
            return (0, Decimal(value)) if value else (1, Decimal(0))
        return (0, value)

    rows.sort(key=key, reverse=descending)
    pages = max(1, -(-len(rows) // PAGE_ROWS))
    page = min(max(page, 1), pages)
    shown = rows[(page - 1) * PAGE_ROWS : page * PAGE_ROWS]
    return Table(
        name=name,
        columns=columns,
        rows=[[fmt.cell(r[c], types[c]) for c in columns] for r in shown],
        numeric=numeric,
        sort=sort,
        descending=descending,
        page=page,
        pages=pages,
        total=len(rows),
    )


def margin_calls(src: d.Sources, day: str, version: str, member: str) -> list[dict[str, str]]:
    try:
        found = rows_of(src, day, version, member, "margin_calls.csv")
    except d.NotFound:
        return []
    return [{k: fmt.cell(v, _types("margin_calls.csv")[k]) for k, v in r.items()} for r in found]


def history(src: d.Sources, member: str) -> list[dict[str, Any]]:
    """The member's balance, margin and margin call on each of its days (the latest version's
    control totals), oldest first."""
    out = []
    for day in sorted(d.days(src)):
        version = d.latest(src, day)
        if version is None:
            continue
        totals = (d.manifest(src, day, version).get("members") or {}).get(member)
        if totals:
            out.append(
                {
                    "day": day,
                    "balance": Decimal(totals["balance"]),
                    "margin": Decimal(totals["margin"]),
                    "margin_call": Decimal(totals["margin_call"]),
                }
            )
    return out


def changes(src: d.Sources, day: str, version: str, member: str) -> dict[str, Any] | None:
    """What changed for ``member`` in this version against the one before, per changed file: rows
    matched on the file's key, and for each row only the columns that changed, old -> new; rows that
    are only in one version are listed as added or removed."""
    d.member_files(src, day, version, member)
    found = d.changes(src, day, version)
    if not found:
        return None
    previous = f"v{found['from_version']}"
    changed = (found.get("members") or {}).get(member, [])
    files = {}
    for name in changed:
        spec = file_spec(SPEC_OF[name])
        types = _types(name)
        old = _keyed(src, day, previous, member, name, spec.key)
        new = _keyed(src, day, version, member, name, spec.key)
        rows = []
        for key in sorted(old.keys() | new.keys()):
            before, after = old.get(key), new.get(key)
            cells = [
                {
                    "column": c,
                    "old": fmt.cell(before[c], types[c]) if before else "",
                    "new": fmt.cell(after[c], types[c]) if after else "",
                }
                for c in types
                if c not in spec.key and (before or {}).get(c) != (after or {}).get(c)
            ]
            if cells:
                rows.append(
                    {
                        "key": " ".join(f"{k}={v}" for k, v in zip(spec.key, key, strict=True)),
                        "change": "changed"
                        if before and after
                        else "added"
                        if after
                        else "removed",
                        "cells": cells,
                    }
                )
        files[name] = rows
    return {
        "from_version": previous,
        "to_version": version,
        "changed_files": changed,
        "files": files,
    }


def _keyed(
    src: d.Sources, day: str, version: str, member: str, name: str, key: tuple[str, ...]
) -> dict[tuple[str, ...], dict[str, str]]:
    try:
        rows = rows_of(src, day, version, member, name)
    except d.NotFound:
        return {}
    return {tuple(r[k] for k in key): r for r in rows}
