"""Reading a day bundle's reference data and opening state into typed tables, with cross-checks.

A bundle is ``reference/``, ``opening/`` and ``events/`` for one trading day (DATA_CONTRACT: A day
bundle). The checks, all of them in one pass, are in edge.validate: reference data that
contradicts itself (an instrument of an unknown product, an account of an unknown member, a futures
instrument without margin rates, an option without strike) is an input error naming the file, the
line and the field.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from edge.validate import check_against, check_bundle
from schemas.registry import group_specs
from settlement.model import Inputs, Opening, Reference


def load_reference(bundle: Path, day: date) -> Reference:
    """The bundle's reference data, checked on its own (edge.validate); raises
    :class:`~settlement.errors.InputError` with every problem."""
    return check_bundle(bundle, day, events=False, groups=("reference",)).reference


def load_opening(bundle: Path, reference: Reference) -> Opening:
    """The bundle's opening state, checked against ``reference`` (edge.validate)."""
    names = tuple(spec.name for spec in group_specs("opening"))
    frames = check_against(bundle, reference, date.min, names)
    return Opening(**{n.removeprefix("opening_"): f for n, f in frames.items()})


def load_inputs(bundle: Path, day: date) -> Inputs:
    """The bundle's reference data and opening state, every problem of them raised at once."""
    checked = check_bundle(bundle, day, events=False)
    assert checked.opening is not None
    return Inputs(checked.reference, checked.opening)
