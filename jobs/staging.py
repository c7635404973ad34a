"""Staging: checked tables written as the header-less CSV the Flink file sources read."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from schemas.registry import SCALES, FileSpec


def text_columns(frame: pl.DataFrame, spec: FileSpec) -> pl.DataFrame:
    """Typed columns back to their canonical text (decimals plain, timestamps with µs)."""
    exprs = []
    for c in spec.columns:
        col = pl.col(c.name)
        if c.type == "timestamp":
            exprs.append(col.dt.strftime("%Y-%m-%dT%H:%M:%S%.6f"))
        elif c.type == "date":
            exprs.append(col.dt.strftime("%Y-%m-%d"))
        elif c.type in SCALES or c.type == "int":
            exprs.append(col.cast(pl.String))
        else:
            exprs.append(col)
    return frame.select(exprs)


def write_staged(frame: pl.DataFrame, spec: FileSpec, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text_columns(frame, spec).write_csv(path, include_header=False, null_value="")
