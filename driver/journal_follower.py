"""The trade journal built during the session, as the streaming job commits its legs.

The streaming pre-aggregation writes each leg once, matched (§5.1), to the run's append-only legs
topic (jobs/stream_preaggregate.py), in Kafka transactions committed with its checkpoints. The
follower reads that topic ``read_committed`` and, every :data:`SEGMENT_LEGS` legs or
:data:`SEGMENT_S` seconds, prices what it read into one journal segment
(:func:`edge.journal_files.write_segment`: fees §8.1, premiums §9, turnover, each member's
trades.csv rows, the per-position sums), under ``$DAYCLEAR_STATE/stream/<D>/journal/``::

    <first offset>-<end offset>/   one segment: the legs at offsets [first, end) of the topic

A segment is whole or absent, and its name says which offsets it holds, so the follower resumes
after the last one whatever stopped it. At the close (:mod:`driver.stream_close`) the follower
is stopped once the job has frozen, the close prices the last legs itself (:func:`catch_up`, the
same code) and merges the segments (:func:`edge.journal_files.finish_journal`): what remains
at the close is in proportion to positions, plus merging member runs already priced and rendered.

    python -m driver.journal_follower --day 2026-11-23
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from dayclear import logs
from driver.pipeline import JournalTerms, journal_terms
from driver.session import Session, job_running, read_session
from edge.bundle import load_inputs
from edge.journal_files import write_segment
from edge.tables import parse_text_frame
from jobs.kafka_io import TopicReader
from jobs.stream_preaggregate import LEGS, aggregate_topic
from jobs.stream_snapshot import text_frame
from schemas.registry import file_spec
from settlement.model import LINE

log = logging.getLogger(__name__)

#: A segment is written once this many legs are waiting, or :data:`SEGMENT_S` after the last one.
SEGMENT_LEGS = 200_000
SEGMENT_S = 15.0


@dataclass(frozen=True)
class Segment:
    """The folder of the legs at offsets [first, end) of the legs topic."""

    first: int
    end: int

    @property
    def name(self) -> str:
        return f"{self.first:012d}-{self.end:012d}"


def segments(folder: Path) -> list[Path]:
    """The complete segments in ``folder``, in offset order (a hidden ``.partial`` one is not)."""
    if not folder.exists():
        return []
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def resume_offset(folder: Path) -> int:
    """The legs topic offset after the last complete segment (0 when there is none)."""
    done = segments(folder)
    return int(done[-1].name.split("-")[1]) if done else 0


@dataclass
class Follower:
    """Reads one session's legs topic from where its segments end and writes segments."""

    session: Session
    terms: JournalTerms
    folder: Path

    def __post_init__(self) -> None:
        self.topic = aggregate_topic(self.session.group, self.session.day.isoformat(), LEGS)
        self.spec = file_spec(LEGS)
        self.folder.mkdir(parents=True, exist_ok=True)
        for stale in self.folder.glob(".*.partial"):
            shutil.rmtree(stale)
        self.first = resume_offset(self.folder)
        self.reader = TopicReader(
            self.session.bootstrap, [self.topic], start={(self.topic, 0): self.first}
        )
        self.waiting: list[dict[str, object]] = []
        self.last_segment = time.monotonic()

    def poll(self, idle_s: float = 1.0) -> int:
        """Read what is committed now, up to a segment's worth; returns the legs read."""
        records = self.reader.read(idle_s, limit=max(1, SEGMENT_LEGS - len(self.waiting)))
        self.waiting.extend(json.loads(v) for m in records if (v := m.value()) is not None)
        return len(records)

    def due(self) -> bool:
        return len(self.waiting) >= SEGMENT_LEGS or (
            bool(self.waiting) and time.monotonic() - self.last_segment >= SEGMENT_S
        )

    def write(self) -> Segment | None:
        """The waiting legs priced into one segment, up to where the reader stands."""
        end = self.reader.positions[(self.topic, 0)]
        if end == self.first:
            return None
        segment = Segment(self.first, end)
        text = text_frame(self.spec, self.waiting)
        numbered = text.with_row_index(LINE, offset=1).with_columns(pl.col(LINE).cast(pl.Int64))
        legs = parse_text_frame(numbered, self.spec, f"{self.topic} offsets {segment.name}")
        write_segment(
            legs,
            self.terms.instruments,
            self.terms.account_members,
            self.folder / segment.name,
            legs_text=text.sort(pl.col("seq").cast(pl.Int64), pl.col("leg_no").cast(pl.Int64)),
        )
        log.info("journal segment %s: %d legs", segment.name, len(self.waiting))
        self.first, self.waiting, self.last_segment = end, [], time.monotonic()
        return segment

    def close(self) -> None:
        self.reader.close()


class LegsBehind(RuntimeError):
    """The legs topic could not be read to its end (the close then falls back)."""


def catch_up(session: Session, terms: JournalTerms, idle_s: float = 30.0) -> list[Path]:
    """Price every committed leg not in a segment yet, a segment per :data:`SEGMENT_LEGS` (the
    close, once the job has frozen and the follower is stopped); returns all the segments, in
    offset order. Raises :class:`LegsBehind` if the topic is not read to its end."""
    folder = session.paths.journal
    follower = Follower(session, terms, folder)
    try:
        while follower.poll(idle_s=idle_s):
            if len(follower.waiting) >= SEGMENT_LEGS:
                follower.write()
        behind = follower.reader.behind()
        if behind:
            raise LegsBehind(f"the legs topic stopped short: {', '.join(behind)}")
        follower.write()
    finally:
        follower.close()
    return segments(folder)


def follow(session: Session, stopping: Callable[[], bool], poll_s: float = 1.0) -> None:
    """Write segments as legs are committed until ``stopping()``, or until the session's job is
    gone and nothing more comes (a restore starts a new follower); what was read but not yet
    written is read again by the next follower or by the close."""
    terms = journal_terms(load_inputs(session.bundle, session.day), session.day)
    follower = Follower(session, terms, session.paths.journal)
    log.info(
        "journal of %s: following %s from offset %d", session.day, follower.topic, follower.first
    )
    try:
        while not stopping():
            if not follower.poll(idle_s=poll_s):
                if not job_running(session):
                    log.info("journal of %s: the job is gone; stopping", session.day)
                    break
                time.sleep(poll_s)
            if follower.due():
                follower.write()
    finally:
        follower.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--day", required=True, type=date.fromisoformat)
    args = parser.parse_args(argv)
    logs.setup(args.day)
    session = read_session(args.day)
    if session is None:
        raise SystemExit(f"no streaming session of {args.day}")
    stop = False

    def on_term(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    follow(session, lambda: stop)


if __name__ == "__main__":
    main()
