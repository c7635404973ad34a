"""The one write step from typed result tables to the published text (DATA_CONTRACT conventions).

Money with 2 places, otr with 4, prices with the product's settle_decimals (more where a trade or
final price has more places), integers plain, timestamps with microseconds, no exponents.
"""

from __future__ import annotations

import json

import polars as pl

from schemas.registry import FileSpec

MAX_PRICE_PLACES = 6


def price_text(column: str, places: pl.Expr) -> pl.Expr:
    """Plain text of a Decimal price with at least ``places`` decimals (trailing zeros trimmed beyond):
    the fraction at MAX_PRICE_PLACES, cut after max(places, its last non-zero digit)."""
    parts = (
        pl.col(column)
        .cast(pl.Decimal(38, MAX_PRICE_PLACES))
        .cast(pl.String)
        .str.split_exact(".", 1)
    )
    whole = parts.struct.field("field_0")
    frac = parts.struct.field("field_1").fill_null("")
    keep = pl.max_horizontal(places, frac.str.strip_chars_end("0").str.len_chars())
    return (
        pl.when(pl.col(column).is_null())
        .then(pl.lit(None, pl.String))
        .when(keep == 0)
        .then(whole)
        .otherwise(pl.concat_str(whole, pl.lit("."), frac.str.slice(0, keep)))
        .alias(column)
    )


def text_table(frame: pl.DataFrame, spec: FileSpec) -> pl.DataFrame:
    """The published columns of ``spec`` as text, in order (``settle_decimals`` drives prices)."""
    exprs = []
    for c in spec.columns:
        if c.type == "price":
            exprs.append(price_text(c.name, pl.col("settle_decimals")))
        elif c.type == "timestamp":
            exprs.append(pl.col(c.name).dt.strftime("%Y-%m-%dT%H:%M:%S%.6f"))
        elif c.type == "date":
            exprs.append(pl.col(c.name).dt.strftime("%Y-%m-%d"))
        else:
            exprs.append(pl.col(c.name).cast(pl.String))
    return frame.select(exprs)


def sorted_by_spec(frame: pl.DataFrame, spec: FileSpec) -> pl.DataFrame:
    """The DATA_CONTRACT sort order of the file, so reruns give byte-identical files."""
    return frame.sort(list(spec.sort_by), maintain_order=True) if spec.sort_by else frame


def json_bytes(value: object) -> bytes:
    """Every JSON document dayclear writes (manifests, reports, status): keys sorted, one-space
    indent, a final newline, so that a rerun writes the same bytes."""
    return (json.dumps(value, indent=1, sort_keys=True) + "\n").encode("utf-8")


def text_csv_bytes(text: pl.DataFrame) -> bytes:
    """CSV bytes of an already formatted text table: ``\n`` line ends, empty for missing."""
    csv = text.write_csv(line_terminator="\n", quote_style="necessary", null_value="")
    return csv.encode("utf-8")


def csv_bytes(frame: pl.DataFrame, spec: FileSpec) -> bytes:
    return text_csv_bytes(text_table(sorted_by_spec(frame, spec), spec))
