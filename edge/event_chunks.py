"""A day's event files a chunk of lines at a time, for a feed of a day larger than memory
(DATA_CONTRACT "A day bundle", "Events"; jobs.kafka_io.produce_bundle).

:func:`check_events_in_chunks` checks the three event files exactly as edge.validate.check_against
does the whole files: the same parse step, the same generated checks against the reference data and
the same topic rules, each on one chunk, with the file's own line numbers. The ``seq`` key's
duplicates, the one check across the whole file, cannot occur in a file in strictly increasing
``seq`` order, which the feed in chunks needs anyway: a file that is not is read whole instead, and
checked there. Every problem of the day is listed, as for a whole file; a header's problems, seen
by every chunk, once. Nothing is sent before the whole day has passed.

:func:`event_chunks` then hands a topic over a chunk at a time, in file order, parsed again (the
second read of the file is cheaper than holding it). One record per line is assumed: the event
files have no quoted cells spanning lines (the CSV reader of a chunk would report one).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import polars as pl

from edge.events import topic_file_spec, topic_rules
from edge.tables import parse_csv_bytes
from edge.validate import REFERENCE, bundle_specs, in_bundle_order
from schemas.registry import EVENT_TOPICS
from settlement.crosscheck import Files, generated_checks
from settlement.errors import InputError, Problem
from settlement.model import Parsed, Reference

#: lines per chunk: ~110 MB of order lines, a few hundred MB once parsed
CHUNK_ROWS = 1_000_000


@dataclass(frozen=True)
class CheckedInChunks:
    """What the check pass learnt: whether every file is in strictly increasing ``seq`` order (a
    chunked feed needs it; edge.validate's whole-file read sorts instead), and if so the rows of
    each topic."""

    counts: dict[str, int]
    in_seq_order: bool


def csv_files(bundle: Path) -> dict[str, Path] | None:
    """The bundle's event files if all three are CSV (a Parquet file is read whole), else None."""
    paths = {t: bundle / "events" / f"{t}.csv" for t in EVENT_TOPICS}
    if any(not p.exists() or p.with_suffix(".parquet").exists() for p in paths.values()):
        return None
    return paths


def csv_chunks(path: Path, rows: int) -> Iterator[tuple[bytes, int]]:
    """A CSV file as texts of its header and up to ``rows`` lines each, with the file's line number
    of each text's first row; a file of a header alone is one text, an empty file an empty one."""
    with path.open("rb") as f:
        header = f.readline()
        first, sent = 2, False
        while lines := list(itertools.islice(f, rows)):
            if not lines[-1].endswith(b"\n"):
                lines[-1] += b"\n"
            yield header + b"".join(lines), first
            first, sent = first + len(lines), True
        if not sent:
            yield header, first


def _parsed_chunks(path: Path, topic: str, rows: int | None) -> Iterator[Parsed]:
    spec = topic_file_spec(topic)
    for text, first in csv_chunks(path, CHUNK_ROWS if rows is None else rows):
        yield parse_csv_bytes(text, spec, spec.path, first)


def check_events_in_chunks(
    paths: dict[str, Path], reference: Reference, day: date, rows: int | None = None
) -> CheckedInChunks:
    """The event files checked as :func:`edge.validate.check_against` checks them, ``rows`` lines
    at a time (default :data:`CHUNK_ROWS`); raises :class:`InputError` with every problem, in the
    bundle's order.

    ``seq`` is unique when every file is in strictly increasing ``seq`` order, as the exchange
    writes it: no row needs to be kept to find duplicates. As soon as a file is not, this stops and
    says so (``in_seq_order`` False) without raising: the caller reads the day whole, whose check
    lists every problem, the duplicates included."""
    specs = bundle_specs(("reference", "opening"), events=True)
    known: Files = {n: Parsed(getattr(reference, n), []) for n in specs if n in REFERENCE}
    problems: list[Problem] = []
    counts = dict.fromkeys(EVENT_TOPICS, 0)
    for topic in EVENT_TOPICS:
        unkeyed = specs | {topic: replace(specs[topic], key=())}  # unique when in seq order
        last_seq: int | None = None
        for parsed in _parsed_chunks(paths[topic], topic, rows):
            problems += parsed.problems
            frame = parsed.frame
            if frame is None:
                continue
            seq = frame["seq"].drop_nulls()
            if seq.len():
                if not (seq.diff().drop_nulls() > 0).all() or (
                    last_seq is not None and seq[0] <= last_seq
                ):
                    return CheckedInChunks(counts, in_seq_order=False)
                last_seq = seq[-1]
            problems += generated_checks(unkeyed, known | {topic: parsed}, day, (topic,))
            problems += topic_rules(frame, topic)
            counts[topic] += frame.height
    if problems:
        raise InputError(in_bundle_order(list(dict.fromkeys(problems)), specs))
    return CheckedInChunks(counts, in_seq_order=True)


def event_chunks(path: Path, topic: str, rows: int | None = None) -> Iterator[pl.DataFrame]:
    """A checked topic file's typed rows, ``rows`` at a time in file order."""
    for parsed in _parsed_chunks(path, topic, rows):
        if parsed.problems or parsed.frame is None:  # checked before: the file changed since
            raise InputError(parsed.problems)
        yield parsed.frame
