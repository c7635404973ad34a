"""Reading a day bundle's reference data and opening state into typed tables, with cross-checks.

A bundle is ``reference/``, ``opening/`` and ``events/`` for one trading day (DATA_CONTRACT: A day
bundle). Reference data that contradicts itself (an instrument of an unknown product, an account of
an unknown member, a futures instrument without margin rates, an option without strike) is an
input error naming the file, the line and the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from schemas.registry import file_spec, group_specs

from .errors import InputError, Problem
from .tables import LINE, read_csv_table


@dataclass(frozen=True)
class Reference:
    holidays: pl.DataFrame
    products: pl.DataFrame
    declaration_tiers: pl.DataFrame
    instruments: pl.DataFrame
    margin_rates: pl.DataFrame
    members: pl.DataFrame
    accounts: pl.DataFrame
    underlyings: pl.DataFrame
    final_settlement_prices: pl.DataFrame


@dataclass(frozen=True)
class Opening:
    positions: pl.DataFrame
    balances: pl.DataFrame
    settlement_prices: pl.DataFrame


def _unknown(
    frame: pl.DataFrame, column: str, known: pl.Series, source: str, what: str
) -> list[Problem]:
    bad = frame.filter(pl.col(column).is_not_null() & ~pl.col(column).is_in(known.implode()))
    return [
        Problem(source, f"line {line}", column, f"unknown {what} {value!r}")
        for line, value in bad.select(LINE, column).head(50).iter_rows()
    ]


def _duplicates(frame: pl.DataFrame, key: list[str], source: str) -> list[Problem]:
    dup = frame.filter(pl.struct(key).is_duplicated())
    return [
        Problem(source, f"line {row[0]}", "+".join(key), f"duplicate key {row[1:]!r}")
        for row in dup.select(LINE, *key).head(50).iter_rows()
    ]


def load_reference(bundle: Path, day: date) -> Reference:
    tables = {
        spec.name: read_csv_table(bundle / spec.path, spec) for spec in group_specs("reference")
    }
    ref = Reference(**tables)
    problems: list[Problem] = []
    for spec in group_specs("reference"):
        if spec.key:
            problems += _duplicates(tables[spec.name], list(spec.key), spec.path)
    problems += _unknown(
        ref.instruments, "product", ref.products["product"], "reference/instruments.csv", "product"
    )
    problems += _unknown(
        ref.accounts, "member_id", ref.members["member_id"], "reference/accounts.csv", "member"
    )
    for name in ("margin_rates", "final_settlement_prices"):
        problems += _unknown(
            tables[name],
            "instrument_id",
            ref.instruments["instrument_id"],
            file_spec(name).path,
            "instrument",
        )
    problems += _unknown(
        ref.declaration_tiers,
        "product",
        ref.products["product"],
        "reference/declaration_tiers.csv",
        "product",
    )
    kinds = ref.instruments.join(ref.products.select("product", "kind"), on="product", how="left")
    options_without_strike = kinds.filter(
        (pl.col("kind") == "INDEX_OPTION")
        & (pl.col("strike").is_null() | pl.col("option_type").is_null())
    )
    problems += [
        Problem(
            "reference/instruments.csv",
            f"line {line}",
            "strike",
            "an option needs strike and option_type",
        )
        for line in options_without_strike[LINE].head(50)
    ]
    listed_futures = kinds.filter(
        (pl.col("kind") != "INDEX_OPTION") & (pl.col("last_trading_day") >= day)
    )
    rated = ref.margin_rates.select("instrument_id", "hedge_flag")
    for hedge in ("SPEC", "HEDGE"):
        have = rated.filter(pl.col("hedge_flag") == hedge)["instrument_id"]
        for line, instrument in (
            listed_futures.filter(~pl.col("instrument_id").is_in(have.implode()))
            .select(LINE, "instrument_id")
            .head(50)
            .iter_rows()
        ):
            problems.append(
                Problem(
                    "reference/instruments.csv",
                    f"line {line}",
                    "instrument_id",
                    f"no {hedge} margin rate in reference/margin_rates.csv for {instrument}",
                    "§7.1",
                )
            )
    if problems:
        raise InputError(problems)
    return ref


def load_opening(bundle: Path, reference: Reference) -> Opening:
    tables = {
        spec.name.removeprefix("opening_"): read_csv_table(bundle / spec.path, spec)
        for spec in group_specs("opening")
    }
    opening = Opening(**tables)
    problems: list[Problem] = []
    for spec in group_specs("opening"):
        problems += _duplicates(
            tables[spec.name.removeprefix("opening_")], list(spec.key), spec.path
        )
    known_instruments = reference.instruments["instrument_id"]
    known_accounts = reference.accounts["account_id"]
    problems += _unknown(
        opening.positions, "instrument_id", known_instruments, "opening/positions.csv", "instrument"
    )
    problems += _unknown(
        opening.positions, "account_id", known_accounts, "opening/positions.csv", "account"
    )
    problems += _unknown(
        opening.balances, "account_id", known_accounts, "opening/balances.csv", "account"
    )
    negative = opening.positions.filter((pl.col("long_qty") < 0) | (pl.col("short_qty") < 0))
    problems += [
        Problem(
            "opening/positions.csv",
            f"line {line}",
            "long_qty/short_qty",
            "a position is negative",
            "§1",
        )
        for line in negative[LINE].head(50)
    ]
    if problems:
        raise InputError(problems)
    return opening
