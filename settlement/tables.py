"""The one parse step from files to typed tables, driven by ``schemas/files``.

Every file is read as text, checked column by column against its :class:`~schemas.registry.FileSpec`
(presence, emptiness, integer, decimal places, date, timestamp, enumeration) and only then cast to
typed columns: decimals become exact ``Decimal(38, scale)``, never floats. Every problem names the
file, the line (the header is line 1) and the field. Each typed table keeps a ``_line`` column so
later rules can point back at the record.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from schemas.registry import SCALES, Column, FileSpec

from .errors import InputError, Problem

LINE = "_line"
MAX_PROBLEMS_PER_COLUMN = 20

_PATTERNS = {
    "int": r"^-?\d+$",
    "date": r"^\d{4}-\d{2}-\d{2}$",
    "timestamp": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}$",
}


def _decimal_pattern(scale: int) -> str:
    return rf"^-?\d+(\.\d{{1,{scale}}})?$"


def _check_column(frame: pl.DataFrame, column: Column, source: str) -> list[Problem]:
    values = pl.col(column.name)
    empty = values.is_null() | (values.str.strip_chars() == "")
    checks: list[tuple[pl.Expr, str]] = []
    if not column.nullable:
        checks.append((empty, "is empty"))
    if column.type in _PATTERNS:
        checks.append(
            (~empty & ~values.str.contains(_PATTERNS[column.type]), f"is not a valid {column.type}")
        )
    elif column.type in SCALES:
        scale = SCALES[column.type]
        checks.append(
            (
                ~empty & ~values.str.contains(_decimal_pattern(scale)),
                f"is not a plain decimal with at most {scale} places",
            )
        )
    elif column.enum_values:
        checks.append(
            (
                ~empty & ~values.is_in(list(column.enum_values)),
                f"is not one of {', '.join(column.enum_values)}",
            )
        )
    problems: list[Problem] = []
    for condition, message in checks:
        bad = frame.filter(condition).select(LINE, column.name).head(MAX_PROBLEMS_PER_COLUMN)
        for line, value in bad.iter_rows():
            blank = value is None or not str(value).strip()
            detail = "is empty" if blank else f"value {value!r} {message}"
            problems.append(Problem(source, f"line {line}", column.name, detail))
    return problems


def _cast(column: Column) -> pl.Expr:
    values = pl.when(pl.col(column.name).str.strip_chars() != "").then(pl.col(column.name))
    if column.type == "int":
        return values.cast(pl.Int64).alias(column.name)
    if column.type in SCALES:
        return values.cast(pl.Decimal(38, SCALES[column.type])).alias(column.name)
    if column.type == "date":
        return values.str.to_date("%Y-%m-%d").alias(column.name)
    if column.type == "timestamp":
        return values.str.to_datetime("%Y-%m-%dT%H:%M:%S%.6f", time_unit="us").alias(column.name)
    return values.alias(column.name)


def parse_text_frame(text_frame: pl.DataFrame, spec: FileSpec, source: str) -> pl.DataFrame:
    """Check and type a frame of text columns (plus ``_line``) against ``spec``."""
    missing = [c.name for c in spec.columns if c.name not in text_frame.columns]
    if missing:
        raise InputError(
            [Problem(source, "line 1 (header)", name, "column is missing") for name in missing]
        )
    problems: list[Problem] = []
    for column in spec.columns:
        problems.extend(_check_column(text_frame, column, source))
    if problems:
        raise InputError(problems)
    try:
        return text_frame.select(LINE, *(_cast(c) for c in spec.columns))
    except pl.exceptions.PolarsError as exc:  # e.g. 2026-02-30 passes the pattern
        raise InputError(
            [Problem(source, "some line", "?", f"cannot be converted: {exc}")]
        ) from exc


def read_csv_table(path: Path, spec: FileSpec, source: str | None = None) -> pl.DataFrame:
    """Read a CSV file of ``spec`` into a typed frame; an absent optional file has no rows."""
    source = source or spec.path
    if not path.exists():
        if spec.optional:
            return empty_table(spec)
        raise InputError([Problem(source, "-", "-", "required file is missing")])
    try:
        text = pl.read_csv(path, infer_schema=False)
    except pl.exceptions.NoDataError:
        raise InputError([Problem(source, "line 1 (header)", "-", "file is empty")]) from None
    except pl.exceptions.ComputeError as exc:
        raise InputError([Problem(source, "-", "-", f"not a readable CSV file: {exc}")]) from exc
    text = text.with_row_index(LINE, offset=2).with_columns(pl.col(LINE).cast(pl.Int64))
    return parse_text_frame(text, spec, source)


def read_parquet_table(path: Path, spec: FileSpec, source: str | None = None) -> pl.DataFrame:
    """Read a Parquet file of ``spec``: each column is turned to text and checked like a CSV."""
    source = source or spec.path
    raw = pl.read_parquet(path)
    text = raw.select(
        pl.col(c).dt.strftime("%Y-%m-%dT%H:%M:%S%.6f")
        if raw.schema[c] == pl.Datetime
        else pl.col(c).cast(pl.String)
        for c in raw.columns
    )
    text = text.with_row_index(LINE, offset=1).with_columns(pl.col(LINE).cast(pl.Int64))
    return parse_text_frame(text, spec, source.replace(".csv", ".parquet") + " (row)")


def empty_table(spec: FileSpec) -> pl.DataFrame:
    from schemas.registry import arrow_schema

    frame = pl.from_arrow(arrow_schema(spec).empty_table())
    assert isinstance(frame, pl.DataFrame)
    return frame.with_columns(pl.lit(0, pl.Int64).alias(LINE)).select(LINE, *spec.column_names)


def text_columns(frame: pl.DataFrame, spec: FileSpec) -> pl.DataFrame:
    """Typed columns back to their canonical text (decimals plain, timestamps with µs): the
    inverse of :func:`parse_text_frame`."""
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
