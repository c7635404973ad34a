"""The one parse step from files to typed tables, driven by ``schemas/files``.

Every file is read as text, checked column by column against its :class:`~schemas.registry.FileSpec`
(presence, emptiness, integer, decimal places, date, timestamp, enumeration) and only then cast to
typed columns: decimals become exact ``Decimal(38, scale)``, never floats. Every problem names the
file, the line (the header is line 1) and the field. Each typed table keeps a ``_line`` column so
later rules can point back at the record.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import polars as pl

from schemas.registry import DOMAIN_WORDS, DOMAINS, SCALES, Column, FileSpec, arrow_schema
from settlement.errors import InputError, Problem
from settlement.model import LINE, Parsed

HEADER = "line 1 (header)"

_PATTERNS = {
    "int": r"^-?\d+$",
    "date": r"^\d{4}-\d{2}-\d{2}$",
    "timestamp": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}$",
}


def _decimal_pattern(scale: int) -> str:
    return rf"^-?\d+(\.\d{{1,{scale}}})?$"


#: a check: (TRUE where wrong, field named, column quoted as ``{value}``, message)
Check = tuple[pl.Expr, str, str, str]


def run_checks(frame: pl.DataFrame, checks: list[Check], source: str) -> list[Problem]:
    """Every row of ``frame`` that fails a check, as a problem naming its line. All checks are
    evaluated in one pass; only a failing one is listed row by row."""
    if not checks or frame.is_empty():
        return []
    failing = frame.select(
        cond.fill_null(False).any().alias(str(n)) for n, (cond, *_) in enumerate(checks)
    ).row(0)
    problems = []
    for (condition, field, quoted, message), fails in zip(checks, failing, strict=True):
        if fails:
            problems += [
                Problem(source, f"line {line}", field, message.format(value=value))
                for line, value in frame.filter(condition).select(LINE, quoted).iter_rows()
            ]
    return problems


def _format(column: Column) -> tuple[str, str] | None:
    """(the regular expression of the column's text, what it should be), if it has one."""
    if column.type in _PATTERNS:
        return _PATTERNS[column.type], f"is not a valid {column.type}"
    if column.type in SCALES:
        scale = SCALES[column.type]
        return _decimal_pattern(scale), f"is not a plain decimal with at most {scale} places"
    return None


def _text_checks(column: Column) -> list[Check]:
    values = pl.col(column.name)
    empty = values.is_null() | (values.str.strip_chars() == "")
    checks: list[Check] = []
    if not column.nullable:
        checks.append((empty, column.name, column.name, "is empty"))
    shape = _format(column)
    if shape:
        wrong, message = ~values.str.contains(shape[0]), shape[1]
    elif column.enum_values:
        wrong = ~values.is_in(list(column.enum_values))
        message = f"is not one of {', '.join(column.enum_values)}"
    else:
        return checks
    checks.append((~empty & wrong, column.name, column.name, f"value {{value!r}} {message}"))
    return checks


def _typed_checks(column: Column) -> list[Check]:
    """Checks of the typed value; ``_t_<name>`` holds the text, quoted in the message."""
    text = f"_t_{column.name}"
    checks: list[Check] = []
    shape = _format(column)
    if shape:  # e.g. 2026-02-30 has the date format but is no date
        checks.append(
            (
                pl.col(column.name).is_null() & pl.col(text).str.contains(shape[0]),
                column.name,
                text,
                f"value {{value!r}} is not a valid {column.type}",
            )
        )
    for domain, when_column, when_value in column.domains:
        condition = domain_condition(column, domain)
        rows = f" for {when_column} {when_value}" if when_column else ""
        if when_column:
            condition = condition & (pl.col(when_column) == when_value)
        checks.append(
            (condition, column.name, text, f"value {{value!r}} is not {DOMAIN_WORDS[domain]}{rows}")
        )
    return checks


def _cast(column: Column) -> pl.Expr:
    values = pl.when(pl.col(column.name).str.strip_chars() != "").then(pl.col(column.name))
    if column.type == "int":
        return values.cast(pl.Int64, strict=False).alias(column.name)
    if column.type in SCALES:
        return values.cast(pl.Decimal(38, SCALES[column.type]), strict=False).alias(column.name)
    if column.type == "date":
        return values.str.to_date("%Y-%m-%d", strict=False).alias(column.name)
    if column.type == "timestamp":
        return values.str.to_datetime("%Y-%m-%dT%H:%M:%S%.6f", time_unit="us", strict=False).alias(
            column.name
        )
    return values.alias(column.name)


def domain_condition(column: Column, domain: str) -> pl.Expr:
    """TRUE where a typed value lies outside ``domain`` (schemas.registry.DOMAINS)."""
    low, low_inclusive, high = DOMAINS[domain]
    value = pl.col(column.name)
    zero = Decimal(low) if column.type in SCALES else low
    outside = (value < zero) if low_inclusive else (value <= zero)
    if high is not None:
        outside = outside | (value > (Decimal(high) if column.type in SCALES else high))
    return value.is_not_null() & outside


def parse_checked(text_frame: pl.DataFrame, spec: FileSpec, source: str) -> Parsed:
    """Check every cell of a frame of text columns (plus ``_line``) against ``spec`` (format,
    enumeration, domain) and type it; every problem is kept, none stops the others."""
    missing = [c.name for c in spec.columns if c.name not in text_frame.columns]
    if missing:
        return Parsed(
            None, [Problem(source, HEADER, name, "column is missing") for name in missing]
        )
    problems = run_checks(
        text_frame, [c for col in spec.columns for c in _text_checks(col)], source
    )
    typed = text_frame.select(LINE, *(_cast(c) for c in spec.columns))
    typed_checks = [c for col in spec.columns for c in _typed_checks(col)]
    if typed_checks:
        with_text = typed.with_columns(
            text_frame[c.name].str.strip_chars().alias(f"_t_{c.name}") for c in spec.columns
        )
        problems += run_checks(with_text, typed_checks, source)
    return Parsed(typed, problems)


def parse_text_frame(text_frame: pl.DataFrame, spec: FileSpec, source: str) -> pl.DataFrame:
    """Check and type a frame of text columns (plus ``_line``) against ``spec``; raises
    :class:`InputError` with every problem."""
    parsed = parse_checked(text_frame, spec, source)
    if parsed.problems or parsed.frame is None:
        raise InputError(parsed.problems)
    return parsed.frame


def _not_utf8(data: bytes, source: str, header: list[str], shift: int = 0) -> list[Problem]:
    """Every line that is not UTF-8, with the field (by comma count) where its first bad byte is;
    rows numbered from the header's line plus ``shift``."""
    problems = []
    for number, line in enumerate(data.split(b"\n"), 1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as exc:
            index = line[: exc.start].count(b",")
            field = header[index] if number > 1 and index < len(header) else "-"
            where = HEADER if number == 1 else f"line {number + shift}"
            byte = line[exc.start : exc.start + 1].hex()
            problems.append(Problem(source, where, field, f"is not UTF-8 (byte 0x{byte})"))
    return problems


def _ragged(data: bytes, source: str, header: list[str], shift: int = 0) -> list[Problem]:
    """Every line whose number of fields differs from the header's (lines with quotes are left to
    the CSV reader); rows numbered from the header's line plus ``shift``."""
    lines = pl.read_csv(
        data,
        has_header=False,
        separator="\x1f",
        quote_char=None,
        new_columns=["text"],
        infer_schema=False,
    )
    fields = lines.with_row_index(LINE, offset=1).with_columns(
        pl.col("text").fill_null(""),
        (pl.col("text").fill_null("").str.count_matches(",", literal=True) + 1).alias("fields"),
    )
    wrong = fields.filter(
        (pl.col(LINE) > 1)
        & ~pl.col("text").str.contains('"', literal=True)
        & ((pl.col("fields") != len(header)) | (pl.col("text").str.strip_chars() == ""))
    )
    problems = []
    for number, n, text in wrong.select(LINE, "fields", "text").iter_rows():
        line = number + shift
        if not text.strip():
            problems.append(Problem(source, f"line {line}", "-", "is a blank line"))
            continue
        field = header[n] if n < len(header) else f"(field {n}, beyond the header's {len(header)})"
        problems.append(
            Problem(source, f"line {line}", field, f"has {n} fields, the header {len(header)}")
        )
    return problems


def parse_csv_file(path: Path, spec: FileSpec, source: str | None = None) -> Parsed:
    """Read a CSV file of ``spec`` and check all of it (UTF-8, header, field counts, cells); an
    absent optional file has no rows."""
    source = source or spec.path
    if not path.exists():
        if spec.optional:
            return Parsed(empty_table(spec), [])
        return Parsed(None, [Problem(source, "-", "-", "required file is missing")])
    return parse_csv_bytes(path.read_bytes(), spec, source)


def parse_csv_bytes(data: bytes, spec: FileSpec, source: str, first_line: int = 2) -> Parsed:
    """A CSV text of ``spec`` (its header line, then rows) checked like a file. ``first_line`` is the
    file's line number of the first row: a chunk of a larger file (edge.event_chunks) is reported
    with the file's own line numbers."""
    if not data.strip():
        return Parsed(None, [Problem(source, HEADER, "-", "file is empty")])
    first = data.split(b"\n", 1)[0].decode("utf-8", errors="replace").rstrip("\r")
    header = first.split(",")
    problems: list[Problem] = []
    shift = first_line - 2  # added to the number of every line after the header
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        problems += _not_utf8(data, source, header, shift)
        data = data.decode("utf-8", errors="replace").encode()
    problems += [
        Problem(source, HEADER, name, "column appears more than once in the header")
        for name in sorted({h for h in header if header.count(h) > 1})
    ]
    problems += _ragged(data, source, header, shift)
    try:
        text = pl.read_csv(data, infer_schema=False, truncate_ragged_lines=True)
    except pl.exceptions.PolarsError as exc:
        return Parsed(
            None, [*problems, Problem(source, "-", "-", f"not a readable CSV file: {exc}")]
        )
    text = text.with_row_index(LINE, offset=first_line).with_columns(pl.col(LINE).cast(pl.Int64))
    parsed = parse_checked(text, spec, source)
    return Parsed(parsed.frame, problems + parsed.problems)


def read_csv_table(path: Path, spec: FileSpec, source: str | None = None) -> pl.DataFrame:
    """Read a CSV file of ``spec`` into a typed frame; raises :class:`InputError` with every
    problem of the file."""
    parsed = parse_csv_file(path, spec, source)
    if parsed.problems or parsed.frame is None:
        raise InputError(parsed.problems)
    return parsed.frame


def parse_parquet_file(path: Path, spec: FileSpec, source: str | None = None) -> Parsed:
    """Read a Parquet file of ``spec``: each column is turned to text and checked like a CSV."""
    source = (source or spec.path).replace(".csv", ".parquet") + " (row)"
    try:
        raw = pl.read_parquet(path)
    except (OSError, pl.exceptions.PolarsError) as exc:
        return Parsed(None, [Problem(source, "-", "-", f"not a readable Parquet file: {exc}")])
    text = raw.select(
        pl.col(c).dt.strftime("%Y-%m-%dT%H:%M:%S%.6f")
        if raw.schema[c] == pl.Datetime
        else pl.col(c).cast(pl.String)
        for c in raw.columns
    )
    text = text.with_row_index(LINE, offset=1).with_columns(pl.col(LINE).cast(pl.Int64))
    return parse_checked(text, spec, source)


def empty_table(spec: FileSpec) -> pl.DataFrame:

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
