"""Reading the frozen pre-aggregates snapshot written by the intraday job (``jobs/``).

The snapshot is one folder per table of ``schemas/files/aggregates.json`` holding header-less CSV
part files. They are parsed through the same checked path as every input (:mod:`.tables`).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from edge.tables import empty_table, parse_text_frame
from schemas.registry import file_spec, group_specs
from settlement.model import LINE, Aggregates


def read_aggregate(snapshot: Path, name: str, where: str = "snapshot") -> pl.DataFrame:
    """The header-less part files of ``name`` under ``snapshot``, typed and checked (errors name
    ``where``/the file, the line and the field)."""
    spec = file_spec(name)
    folder = snapshot / spec.path.removesuffix(".csv")
    parts = (
        sorted(p for p in folder.glob("part-*") if p.stat().st_size > 0) if folder.exists() else []
    )
    if not parts:
        return empty_table(spec)
    text = pl.concat(
        [
            pl.read_csv(
                p,
                has_header=False,
                new_columns=spec.column_names,
                infer_schema=False,
            )
            for p in parts
        ]
    )
    text = text.with_row_index(LINE, offset=1).with_columns(pl.col(LINE).cast(pl.Int64))
    return parse_text_frame(text, spec, f"{where}/{spec.path}")


def read_aggregates(snapshot: Path, legs: bool = True) -> Aggregates:
    """Every aggregate table; with ``legs=False`` the legs table is left empty (the end of day
    reads the trade journal built from it instead, :mod:`edge.journal_files`)."""
    tables = {
        spec.name.removeprefix("agg_"): read_aggregate(snapshot, spec.name)
        if legs or spec.name != "agg_legs"
        else empty_table(spec)
        for spec in group_specs("aggregates")
    }
    return Aggregates(**tables)
