"""Consecutive simulated trading days, each opening from the previous day's published closing state.

Used by ``dayclear simulate-days`` and the five-day test: simulate D from D-1's ``closing/`` folder,
settle it through the production path (``replay``), and go on with the next trading day.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

from devtools.simulator import SimulationConfig, load_continuation, simulate
from devtools.universe import HOLIDAYS
from driver.pipeline import replay
from publication.publish import Publication
from settlement.calendar import trading_days


def next_days(start: date, count: int) -> list[date]:
    holidays = {date.fromisoformat(d) for d in HOLIDAYS}
    days = []
    for day in trading_days(start, date(start.year + 1, 12, 31), holidays):
        days.append(day)
        if len(days) == count:
            break
    return days


def settle_days(
    first: SimulationConfig, count: int, bundles: Path, out: Path, work: Path
) -> list[Publication]:
    publications: list[Publication] = []
    previous_bundle: Path | None = None
    for day in next_days(first.day, count):
        bundle = bundles / day.isoformat()
        continuation = (
            load_continuation(previous_bundle, publications[-1].folder)
            if previous_bundle and publications
            else None
        )
        simulate(replace(first, day=day), bundle, continuation)
        publications.append(replay(bundle, day, out, work / day.isoformat()))
        previous_bundle = bundle
    return publications
