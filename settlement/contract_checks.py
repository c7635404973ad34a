"""What DATA_CONTRACT and SETTLEMENT_RULES say of a bundle's files together, beyond what a column
declares in ``schemas/`` (settlement.crosscheck): the day is a trading day (§2), margin rates for
every listed future (§7.1), a final price exactly for the instruments at their last trading day
(§3.6, §9), the underlying's closes for listed options (§4, §7.2), declaration tiers without gaps
(§8.2), a D-1 settlement price for every instrument held at D-1 and no position in an expired
instrument (§9). A ``seq`` may have gaps (a busted trade, a corrected bundle: docs/decisions.md).

A check against a file that could not be read whole is skipped and says so once.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from settlement.calendar import is_trading_day
from settlement.crosscheck import Files, Specs, lines_of, skipped, unreadable
from settlement.errors import Problem
from settlement.model import LINE


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
