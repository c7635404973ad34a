"""The model's types: the tables a day is settled from, typed, with no file or folder in them.
The edge (``edge/``) parses files into these; the rules (this package) take them as arguments."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from settlement.errors import Problem


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


@dataclass(frozen=True)
class Inputs:
    """A day's reference data and opening state, checked together."""

    reference: Reference
    opening: Opening


@dataclass(frozen=True)
class Aggregates:
    legs: pl.DataFrame
    instrument_minutes: pl.DataFrame
    instrument_day: pl.DataFrame
    declarations: pl.DataFrame
    funds: pl.DataFrame
    control: pl.DataFrame
    dead_letters: pl.DataFrame  # refused by the gate at the close; counted, never settled


LINE = "_line"


@dataclass(frozen=True)
class Parsed:
    """A file checked on its own: the typed frame (cells that failed a check are null) and every
    problem found. ``frame`` is None when the file cannot be read whole (missing, empty, a column
    missing from the header): checks of other files against it are then skipped, once, by name."""

    frame: pl.DataFrame | None
    problems: list[Problem]
