"""Checks across a bundle's files, after every file was checked on its own (DATA_CONTRACT).

Generated from ``schemas/`` (settlement.tables parses; this module joins): every column that
``references`` another file's column is looked up in it (every account has a member, every
instrument a product, every event's account and instrument exist); ``same_day`` dates are the
bundle's day; ``on_tick`` prices are multiples of the product's tick; ``places_from`` prices have
no more places than the product's ``settle_decimals``; every ``key`` is unique. Then what the
contract says of files together: the day is a trading day (§2), margin rates for every listed
future (§7.1), a final price exactly for the instruments at their last trading day (§3.6, §9), the
underlying's closes for listed options (§4, §7.2), declaration tiers without gaps (§8.2),
a D-1 settlement price for every instrument held at D-1, no position in an expired instrument (§9)
and each topic's ``seq`` running 1, 2, ... without a gap (docs/decisions.md).

Checks against a file that could not be read whole are skipped and say so once.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from schemas.registry import Column, FileSpec

from .calendar import is_trading_day
from .errors import Problem
from .numbers import PRICE_SCALE, plain_text, units
from .tables import LINE, Parsed

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


def seq_gaps(frame: pl.DataFrame, source: str) -> list[Problem]:
    seqs = frame["seq"].drop_nulls().unique().sort()
    if seqs.is_empty():
        return []
    gaps = pl.DataFrame({"seq": seqs}).with_columns(
        pl.col("seq").shift(1, fill_value=0).alias("prev")
    )
    return [
        Problem(
            source,
            "-",
            "seq",
            f"seq {prev + 1} to {seq - 1} missing: seq runs 1, 2, ... without a gap",
        )
        for seq, prev in gaps.filter(pl.col("seq") > pl.col("prev") + 1).iter_rows()
    ]


def contract_checks(specs: Specs, files: Files, day: date) -> list[Problem]:
    """What the contract says of several files together (module docstring)."""
    problems: list[Problem] = []
    ref = {n: files[n].frame for n in files}
    ref.setdefault("opening_positions", None)
    holidays = ref["holidays"]
    if holidays is not None and not is_trading_day(day, holidays["date"].drop_nulls().to_list()):
        problems.append(
            Problem("reference/holidays.csv", "-", "date", f"{day} is not a trading day [§2]", "§2")
        )
    instruments, products = ref["instruments"], ref["products"]
    if instruments is None or products is None:
        which = "instruments" if instruments is None else "products"
        return [
            *problems,
            skipped(
                "reference/instruments.csv",
                "-",
                "margin rates, final prices, underlyings, strikes",
                unreadable(specs, which),
            ),
        ]
    kinds = instruments.join(
        products.select("product", "kind", "underlying", "decl_scope"), on="product", how="inner"
    )
    source = "reference/instruments.csv"
    is_option = pl.col("kind") == "INDEX_OPTION"
    problems += lines_of(
        kinds,
        is_option & (pl.col("strike").is_null() | pl.col("option_type").is_null()),
        "strike",
        source,
        "option {instrument_id} needs strike and option_type",
    )
    rates = ref["margin_rates"]
    listed_futures = kinds.filter(~is_option & (pl.col("last_trading_day") >= day))
    if rates is None:
        problems.append(
            skipped(source, "instrument_id", "margin rates", unreadable(specs, "margin_rates"))
        )
    else:
        for hedge in ("SPEC", "HEDGE"):
            have = rates.filter(pl.col("hedge_flag") == hedge)["instrument_id"].implode()
            problems += [
                Problem(p.source, p.record, p.field, p.message, "§7.1")
                for p in lines_of(
                    listed_futures,
                    ~pl.col("instrument_id").is_in(have),
                    "instrument_id",
                    source,
                    f"no {hedge} margin rate in reference/margin_rates.csv for {{instrument_id}}",
                )
            ]
    finals = ref["final_settlement_prices"]
    if finals is None:
        problems.append(
            skipped(
                source,
                "last_trading_day",
                "final prices",
                unreadable(specs, "final_settlement_prices"),
            )
        )
    else:
        have = finals["instrument_id"].implode()
        problems += [
            Problem(p.source, p.record, p.field, p.message, "§3.6")
            for p in lines_of(
                kinds,
                (pl.col("last_trading_day") == day) & ~pl.col("instrument_id").is_in(have),
                "last_trading_day",
                source,
                "{instrument_id} expires today but has no row in reference/final_settlement_prices.csv",
            )
        ]
        expiring = kinds.filter(pl.col("last_trading_day") == day)["instrument_id"].implode()
        problems += lines_of(
            finals,
            pl.col("instrument_id").is_in(instruments["instrument_id"].implode())
            & ~pl.col("instrument_id").is_in(expiring),
            "instrument_id",
            "reference/final_settlement_prices.csv",
            "{instrument_id} does not expire on "
            + str(day)
            + ": a final price only for instruments at their last trading day",
        )
    problems += _underlyings(specs, ref, kinds, day)
    problems += _tiers(specs, ref, products)
    problems += _held(specs, ref, kinds, day)
    for topic in ("orders", "trades", "fund_movements"):
        if topic in files and (frame := files[topic].frame) is not None:
            problems += seq_gaps(frame, specs[topic].path)
    return problems


def _underlyings(
    specs: Specs, ref: dict[str, pl.DataFrame | None], kinds: pl.DataFrame, day: date
) -> list[Problem]:
    underlyings = ref["underlyings"]
    options = kinds.filter((pl.col("kind") == "INDEX_OPTION") & (pl.col("last_trading_day") >= day))
    if underlyings is None:
        return [
            skipped(
                "reference/products.csv",
                "underlying",
                "underlying closes",
                unreadable(specs, "underlyings"),
            )
        ]
    have = underlyings.filter(pl.col("trading_day") == day)["underlying"].implode()
    missing = options.filter(~pl.col("underlying").is_in(have)).unique("product").sort("product")
    return [
        Problem(
            "reference/underlyings.csv",
            "-",
            "underlying",
            f"no row of {day} for {u!r}, the underlying of the listed options of {p}",
            "§7.2",
        )
        for p, u in missing.select("product", "underlying").iter_rows()
    ]


def _tiers(
    specs: Specs, ref: dict[str, pl.DataFrame | None], products: pl.DataFrame
) -> list[Problem]:
    tiers = ref["declaration_tiers"]
    if tiers is None:
        return [
            skipped(
                "reference/products.csv",
                "decl_scope",
                "declaration tiers",
                unreadable(specs, "declaration_tiers"),
            )
        ]
    problems = []
    source = "reference/declaration_tiers.csv"
    for product in (
        products.filter(pl.col("decl_scope").is_in(["INSTRUMENT", "PRODUCT"]))["product"]
        .unique()
        .sort()
    ):
        rows = tiers.filter(pl.col("product") == product).sort("above_msgs")
        if rows.is_empty():
            continue  # the file is optional: no tiers, no declaration fee (docs/decisions.md)
        bound = 0
        for line, above, up_to in rows.select(LINE, "above_msgs", "up_to_msgs").iter_rows():
            if above != bound:
                problems.append(
                    Problem(
                        source,
                        f"line {line}",
                        "above_msgs",
                        f"{product}'s tiers leave a gap or overlap: above_msgs {above}, the tier before ends at {bound}",
                        "§8.2",
                    )
                )
            bound = up_to
            if up_to is None:
                break
        if (
            bound is not None
            or rows.height > rows.filter(pl.col("up_to_msgs").is_not_null()).height + 1
        ):
            line = rows[LINE][-1]
            problems.append(
                Problem(
                    source,
                    f"line {line}",
                    "up_to_msgs",
                    f"{product}'s tiers must end with one open tier (up_to_msgs empty)",
                    "§8.2",
                )
            )
    return problems


def _held(
    specs: Specs, ref: dict[str, pl.DataFrame | None], kinds: pl.DataFrame, day: date
) -> list[Problem]:
    positions, prices = ref["opening_positions"], ref.get("opening_settlement_prices")
    if positions is None:
        return []
    source = "opening/positions.csv"
    held = positions.join(
        kinds.select("instrument_id", "last_trading_day"), on="instrument_id", how="inner"
    )
    problems = [
        Problem(p.source, p.record, p.field, p.message, "§9")
        for p in lines_of(
            held,
            pl.col("last_trading_day") < day,
            "instrument_id",
            source,
            "position of {account_id} in {instrument_id}, expired on {last_trading_day}",
        )
    ]
    if prices is None:
        return [
            *problems,
            skipped(
                source,
                "instrument_id",
                "D-1 settlement prices",
                unreadable(specs, "opening_settlement_prices"),
            ),
        ]
    problems += lines_of(
        held,
        (pl.col("last_trading_day") >= day)
        & ~pl.col("instrument_id").is_in(prices["instrument_id"].implode()),
        "instrument_id",
        source,
        "{instrument_id} is held at D-1 but has no row in opening/settlement_prices.csv",
    )
    return problems
