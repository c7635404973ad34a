"""A whole bundle checked in one pass: every problem of a bad day in one run (DATA_CONTRACT "A day
bundle"; SETTLEMENT_RULES §2-§5 for the breaks its trades show).

1. Every file of the bundle (reference, opening, events) is read and checked on its own: UTF-8,
   header, field counts, every cell's format, enumeration and domain (edge.tables, from
   ``schemas/``). A file's problems never stop the other files from being read.
2. Only then the checks across files (settlement.crosscheck, settlement.contract_checks): unknown
   ids, days, duplicates, margin rates, final prices, underlyings, tiers.
3. Then the rule breaks of the trades (settlement.trade_checks), on what is sound: an instrument
   whose reference or opening rows have problems is not checked against its limits, and the
   report says so once instead of listing consequences.

Everything found is raised together: :class:`InputError` when any input problem was found (the
breaks found too are in its list), else :class:`BreaksError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from edge.events import parse_topic, topic_file_spec, topic_rules
from edge.tables import parse_csv_file
from schemas.registry import EVENT_TOPICS, group_specs
from settlement.contract_checks import contract_checks
from settlement.crosscheck import Files, Specs, generated_checks
from settlement.errors import BreaksError, InputError, Problem
from settlement.model import LINE, Opening, Parsed, Reference
from settlement.trade_checks import trade_breaks

#: files whose bad rows make an instrument's §4 limits meaningless
LIMIT_INPUTS = (
    "reference/instruments.csv",
    "reference/products.csv",
    "opening/settlement_prices.csv",
    "reference/underlyings.csv",
)


REFERENCE = tuple(s.name for s in group_specs("reference"))


@dataclass(frozen=True)
class Checked:
    reference: Reference
    opening: Opening | None  # None when only the reference data was asked for
    events: dict[str, pl.DataFrame]


def bundle_specs(groups: tuple[str, ...], events: bool) -> Specs:
    specs: Specs = {s.name: s for g in groups for s in group_specs(g)}
    if events:
        specs.update({t: topic_file_spec(t) for t in EVENT_TOPICS})
    return specs


def parse_files(bundle: Path, specs: Specs) -> Files:
    """Step 1: every file read and checked on its own."""
    return {
        name: parse_topic(bundle, name)
        if name in EVENT_TOPICS
        else parse_csv_file(bundle / spec.path, spec)
        for name, spec in specs.items()
    }


def in_bundle_order(problems: list[Problem], specs: Specs) -> list[Problem]:
    """Grouped by file in bundle order, then by line, keeping the order found within a line."""
    order = {spec.path: n for n, spec in enumerate(specs.values())}

    def key(p: Problem) -> tuple[int, str, int]:
        line = p.record.removeprefix("line ").split(" ")[0]
        number = int(line) if line.isdigit() else 0 if p.record.startswith("line") else 1 << 62
        return (order.get(p.source, len(order)), p.source, number)

    return sorted(problems, key=key)


def _unsound_instruments(problems: list[Problem], files: Files) -> set[str]:
    """Instruments whose own, product, previous settlement or underlying rows have problems."""
    bad_lines: dict[str, set[int]] = {source: set() for source in LIMIT_INPUTS}
    for p in problems:
        line = p.record.removeprefix("line ")
        if p.source in bad_lines and line.isdigit():
            bad_lines[p.source].add(int(line))

    def ids(name: str, source: str, column: str) -> set[str]:
        frame = files[name].frame
        if frame is None:
            return set()
        rows = frame.filter(pl.col(LINE).is_in(sorted(bad_lines[source])))
        return set(rows[column].drop_nulls())

    instruments = files["instruments"].frame
    assert instruments is not None
    products = ids("products", "reference/products.csv", "product")
    products_frame = files["products"].frame
    if products_frame is not None:
        underlyings = ids("underlyings", "reference/underlyings.csv", "underlying")
        products |= set(
            products_frame.filter(pl.col("underlying").is_in(sorted(underlyings)))["product"]
        )
    return (
        ids("instruments", "reference/instruments.csv", "instrument_id")
        | ids("opening_settlement_prices", "opening/settlement_prices.csv", "instrument_id")
        | set(instruments.filter(pl.col("product").is_in(sorted(products)))["instrument_id"])
    )


def _frames(files: Files, specs: Specs, group: str) -> dict[str, pl.DataFrame]:
    found = {}
    for spec in group_specs(group):
        frame = files[spec.name].frame
        assert frame is not None
        found[spec.name.removeprefix("opening_")] = frame
    return found


def check_bundle(
    bundle: Path,
    day: date,
    *,
    events: bool = True,
    groups: tuple[str, ...] = ("reference", "opening"),
) -> Checked:
    """The bundle's reference data, opening state and (``events``) events, every problem of all
    of them raised at once (module docstring); nothing is returned unless the bundle is sound."""
    specs = bundle_specs(groups, events)
    files = parse_files(bundle, specs)
    problems = [p for parsed in files.values() for p in parsed.problems]
    problems += generated_checks(specs, files, day)
    if "reference" in groups:
        problems += contract_checks(specs, files, day)
    for topic in EVENT_TOPICS if events else ():
        frame = files[topic].frame
        if frame is not None:
            problems += topic_rules(frame, topic)
    breaks = _breaks(files, specs, problems, day) if events and "opening" in groups else []
    if problems:
        raise InputError(in_bundle_order(problems + breaks, specs))
    if breaks:
        raise BreaksError(in_bundle_order(breaks, specs))
    return Checked(
        Reference(**_frames(files, specs, "reference")),
        Opening(**_frames(files, specs, "opening")) if "opening" in groups else None,
        {t: files[t].frame for t in EVENT_TOPICS if events},  # type: ignore[misc]
    )


def _breaks(files: Files, specs: Specs, problems: list[Problem], day: date) -> list[Problem]:
    """Step 3, on whatever is sound enough to say something."""
    needed = [s.name for g in ("reference", "opening") for s in group_specs(g)] + ["trades"]
    unreadable = [specs[n].path for n in needed if files[n].frame is None]
    if unreadable:
        note = "the rule breaks of events/trades.csv (§2-§5) not checked: "
        return [
            Problem(
                "events/trades.csv", "-", "-", note + ", ".join(unreadable) + " could not be read"
            )
        ]
    reference = Reference(**_frames(files, specs, "reference"))
    opening = Opening(**_frames(files, specs, "opening"))
    trades = files["trades"].frame
    assert trades is not None
    sources_of_positions = {"events/trades.csv", "opening/positions.csv"}
    sound_positions = not any(p.source in sources_of_positions for p in problems)
    return trade_breaks(
        reference, opening, trades, day, _unsound_instruments(problems, files), sound_positions
    )


def check_against(
    bundle: Path, reference: Reference, day: date, names: tuple[str, ...]
) -> dict[str, pl.DataFrame]:
    """Some files of the bundle (opening or event files, by spec name) checked on their own and
    against known reference data; raises :class:`InputError` with every problem."""
    specs = bundle_specs(("reference", "opening"), events=True)
    files: Files = {n: Parsed(getattr(reference, n), []) for n in specs if n in REFERENCE}
    files.update(parse_files(bundle, {n: specs[n] for n in names}))
    problems = [p for n in names for p in files[n].problems]
    problems += generated_checks(specs, files, day, names)
    for name in names:
        frame = files[name].frame
        if frame is not None and name in EVENT_TOPICS:
            problems += topic_rules(frame, name)
    if problems:
        raise InputError(in_bundle_order(problems, specs))
    return {n: files[n].frame for n in names}  # type: ignore[misc]


def read_events(bundle: Path, reference: Reference, day: date) -> dict[str, pl.DataFrame]:
    """All three topics of a bundle, checked against ``reference``; raises :class:`InputError`
    naming every problem."""
    return check_against(bundle, reference, day, EVENT_TOPICS)
