"""Reading a day bundle's reference data and opening state into typed tables, with cross-checks.

A bundle is ``reference/``, ``opening/`` and ``events/`` for one trading day (DATA_CONTRACT: A day
bundle). The checks, all of them in one pass, are in settlement.validate: reference data that
contradicts itself (an instrument of an unknown product, an account of an unknown member, a futures
instrument without margin rates, an option without strike) is an input error naming the file, the
line and the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from schemas.registry import group_specs


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


def load_reference(bundle: Path, day: date) -> Reference:
    """The bundle's reference data, checked on its own (settlement.validate); raises
    :class:`~settlement.errors.InputError` with every problem."""
    from .validate import check_bundle

    return check_bundle(bundle, day, events=False, groups=("reference",)).reference


def load_opening(bundle: Path, reference: Reference) -> Opening:
    """The bundle's opening state, checked against ``reference`` (settlement.validate)."""
    from .validate import check_against

    names = tuple(spec.name for spec in group_specs("opening"))
    frames = check_against(bundle, reference, date.min, names)
    return Opening(**{n.removeprefix("opening_"): f for n, f in frames.items()})
