"""Checks across a bundle's files, after every file was checked on its own (DATA_CONTRACT).

Generated from ``schemas/`` (edge.tables parses; this module joins): every column that
``references`` another file's column is looked up in it (every account has a member, every
instrument a product, every event's account and instrument exist); ``same_day`` dates are the
bundle's day; ``on_tick`` prices are multiples of the product's tick; ``places_from`` prices have
no more places than the product's ``settle_decimals``; every ``key`` is unique. What the contract
says of files together beyond columns is in settlement.contract_checks.

Checks against a file that could not be read whole are skipped and say so once.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from schemas.registry import Column, FileSpec
from settlement.errors import Problem
from settlement.model import LINE, Parsed
from settlement.numbers import PRICE_SCALE, plain_text, units

#: the file specs of a bundle by name (reference, opening and event files) and their parses
Specs = dict[str, FileSpec]
Files = dict[str, Parsed]


def lines_of(
    frame: pl.DataFrame, condition: pl.Expr, field: str, source: str, message: str
) -> list[Problem]:
    """A problem per row where ``condition`` holds; ``message`` is formatted with the row's columns."""
    return [
        Problem(source, f"line {row[LINE]}", field, message.format(**row))
        for row in frame.filter(condition).iter_rows(named=True)
    ]


def skipped(source: str, field: str, what: str, because: str) -> Problem:
    """The one note that says a check was not made, and why."""
    return Problem(source, "-", field, f"{what} not checked: {because}")


def unreadable(specs: Specs, name: str) -> str:
    return f"{specs[name].path} could not be read (its problems are listed)"


def _references(specs: Specs, files: Files, name: str, column: Column) -> list[Problem]:
    target, target_column = column.references.split(".")
    frame, source = files[name].frame, specs[name].path
    assert frame is not None
    known = files[target].frame
    if known is None:
        return [skipped(source, column.name, "references", unreadable(specs, target))]
    noun = target_column.removesuffix("_id")
    return lines_of(
        frame,
        pl.col(column.name).is_not_null()
        & ~pl.col(column.name).is_in(known[target_column].drop_nulls().implode()),
        column.name,
        source,
        f"unknown {noun} {{{column.name}!r}} (not in {specs[target].path})",
    )


def _same_day(frame: pl.DataFrame, column: Column, source: str, day: date) -> list[Problem]:
    value = pl.col(column.name)
    on = value.dt.date() if column.type == "timestamp" else value
    return lines_of(
        frame,
        value.is_not_null() & (on != day),
        column.name,
        source,
        f"{{{column.name}}} is not in the bundle's day {day}",
    )


def product_terms(files: Files) -> pl.DataFrame | None:
    """instrument_id -> product, tick, settle_decimals; None if either file is unreadable."""
    instruments, products = files["instruments"].frame, files["products"].frame
    if instruments is None or products is None:
        return None
    return instruments.select("instrument_id", "product").join(
        products.select("product", "tick", "settle_decimals"), on="product", how="inner"
    )


def _price_grid(
    specs: Specs, files: Files, name: str, column: Column, terms: pl.DataFrame | None
) -> list[Problem]:
    """``on_tick`` and ``places_from``: the price against its product's tick or decimals."""
    frame, source = files[name].frame, specs[name].path
    assert frame is not None
    what = "ticks" if column.on_tick else "decimal places"
    if terms is None:
        return [skipped(source, column.name, what, unreadable(specs, "instruments"))]
    joined = frame.join(
        terms if name != "instruments" else terms.drop("instrument_id").unique("product"),
        on="instrument_id" if name != "instruments" else "product",
        how="inner",
    ).with_columns(
        units(pl.col(column.name), PRICE_SCALE).alias("_u"),
        plain_text(units(pl.col(column.name), PRICE_SCALE), PRICE_SCALE).alias("_price"),
        plain_text(units(pl.col("tick"), PRICE_SCALE), PRICE_SCALE).alias("_tick"),
    )
    if column.on_tick:
        tick_u = units(pl.col("tick"), PRICE_SCALE)
        wrong = (tick_u > 0) & (pl.col("_u") % tick_u != 0)
        message = "price {_price} is not on the tick {_tick} of {product}"
    else:
        step = pl.lit(10, pl.Int128).pow(
            PRICE_SCALE - pl.col("settle_decimals").clip(0, PRICE_SCALE)
        )
        wrong = pl.col("_u") % step != 0
        message = "{_price} has more places than {product}'s settle_decimals {settle_decimals}"
    return lines_of(joined, pl.col("_u").is_not_null() & wrong, column.name, source, message)


def _duplicates(frame: pl.DataFrame, key: tuple[str, ...], source: str) -> list[Problem]:
    keyed = frame.filter(pl.all_horizontal(pl.col(k).is_not_null() for k in key))
    if keyed.height == keyed.select(pl.struct(key).n_unique()).item():
        return []
    first = keyed.group_by(key).agg(pl.col(LINE).min().alias("_first"))
    again = keyed.join(first, on=list(key)).filter(pl.col(LINE) != pl.col("_first")).sort(LINE)
    return [
        Problem(
            source,
            f"line {row[LINE]}",
            "+".join(key),
            f"duplicate key {tuple(row[k] for k in key)!r} (first on line {row['_first']})",
        )
        for row in again.iter_rows(named=True)
    ]


def generated_checks(
    specs: Specs, files: Files, day: date, names: tuple[str, ...] | None = None
) -> list[Problem]:
    """Every check the schemas declare across files, for every readable file (of ``names``)."""
    problems: list[Problem] = []
    terms = product_terms(files)
    for name, spec in specs.items():
        if names is not None and name not in names:
            continue
        frame = files[name].frame
        if frame is None:
            continue
        if spec.key:
            problems += _duplicates(frame, spec.key, spec.path)
        for column in spec.columns:
            if column.references:
                problems += _references(specs, files, name, column)
            if column.same_day:
                problems += _same_day(frame, column, spec.path, day)
            if column.on_tick or column.places_from:
                problems += _price_grid(specs, files, name, column, terms)
    return problems
