"""The stream-first close: freeze the day from its running session, else from the bounded batch job.

:func:`close_from_stream` writes the close's end offsets to the session's freeze file, waits on the
job's own signals (``freeze.json.done``, its process) until it has reached them and stopped with a
final savepoint, folds its aggregate topics (:func:`jobs.stream_snapshot.freeze_snapshot`) into
a hidden folder beside the snapshot, finishes the trade journal priced during the session
(:mod:`driver.journal_follower`: the last legs priced, the segments merged), writes the
completeness proof there, and only then renames it into place. When the stream cannot give a
complete snapshot it raises :class:`StreamUnavailable` with the reason and leaves the snapshot as it
was.

:func:`close_stream_first` is what the settlement DAG runs: the stream first, and on
:class:`StreamUnavailable` the bounded batch job (:func:`driver.close.close_day`), logging why.
Either way the proof records which path froze the snapshot and why (``frozen_by``); the end of
day carries that into the manifest's lineage and the day's status as ``settled_by``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from datetime import date
from pathlib import Path

import polars as pl

from driver.close import COMPLETENESS, close_day, completeness, send_dead_letters
from driver.journal_follower import catch_up
from driver.pipeline import TERMS, JournalTerms, bundle_fingerprint, journal_terms
from driver.session import (
    Offsets,
    Session,
    job_running,
    offsets_json,
    offsets_of,
    read_session,
    session_paths,
    stop_follower,
    stop_job,
)
from edge.aggregates import read_aggregate
from edge.bundle import load_inputs
from edge.durable import link_or_copy, replace_file, sync_dir, sync_tree
from edge.formats import json_bytes
from edge.journal_files import JOURNAL, finish_journal, publish_journal
from jobs.kafka_io import offsets
from jobs.stream_jobs import committed
from jobs.stream_preaggregate import LEGS
from jobs.stream_snapshot import freeze_snapshot
from schemas.registry import EVENT_TOPICS, file_spec, group_specs

log = logging.getLogger(__name__)

#: How long the close waits for the job to reach the end offsets and stop (docs/decisions.md).
DEFAULT_TIMEOUT_S = 300.0
STREAM_REASON = "the streaming job reached the close's end offsets and its proof is complete"


class StreamUnavailable(Exception):
    """The stream cannot close the day: no session, its job is not running, it did not reach the
    close's offsets in time, or its snapshot's proof is not complete. ``reason`` says which."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def close_from_stream(
    day: date, bundle: Path, bootstrap: str, snapshot: Path, timeout: float = DEFAULT_TIMEOUT_S
) -> dict[str, object]:
    """Freeze ``day`` from its running session into ``snapshot``; returns the completeness record.

    If the job already froze at an earlier attempt's offsets (``freeze.json.done`` is there), those
    offsets are the close's and only the fold is done again."""
    session = read_session(day)
    if session is None:
        raise StreamUnavailable(f"no streaming session of {day} ({session_paths(day).record})")
    if session.bootstrap != bootstrap:
        raise StreamUnavailable(f"the session of {day} reads {session.bootstrap}, not {bootstrap}")
    paths = session.paths
    if paths.done.exists():
        end = offsets_of(json.loads(paths.freeze.read_text()))
        log.info("the streaming job of %s had frozen already; folding its topics again", day)
    else:
        if not job_running(session):
            raise StreamUnavailable(
                f"the streaming job of {day} (pid {session.pid}) is not running"
            )
        end = offsets(bootstrap, "end")
        replace_file(paths.freeze, json_bytes(offsets_json(end)))
        log.info("close of %s: end offsets %s written to %s", day, end, paths.freeze)
        _wait_frozen(session, end, timeout)
    record = _fold(session, bundle, end, snapshot)
    send_dead_letters(read_aggregate(snapshot, "agg_dead_letters"), bootstrap)
    log.info("%s frozen from the stream into %s", day, snapshot)
    return record


def close_stream_first(
    day: date, bundle: Path, bootstrap: str, snapshot: Path, timeout: float = DEFAULT_TIMEOUT_S
) -> dict[str, object]:
    """The close: from the stream, else (:class:`StreamUnavailable`) from the bounded batch job.
    Returns the completeness record; its ``frozen_by`` says which path and why."""
    try:
        return close_from_stream(day, bundle, bootstrap, snapshot, timeout)
    except StreamUnavailable as exc:
        log.warning(
            "the stream cannot close %s (%s): falling back to the bounded batch job", day, exc
        )
        if (session := read_session(day)) is not None:
            stop_job(session)  # a driver gone may leave its job running on a session cluster
            stop_follower(session)  # its segments are not used: the batch job prices the legs
        return close_day(bundle, day, bootstrap, snapshot, reason=f"stream unavailable: {exc}")


def _wait_frozen(session: Session, end: Offsets, timeout: float) -> None:
    """Until the job writes ``freeze.json.done``; it does so once its group has committed ``end``
    and its final savepoint is taken. Gives up when the job is gone or ``timeout`` has passed (the
    job is then stopped, so that the fallback has the machine)."""
    paths = session.paths
    deadline = time.monotonic() + timeout
    while not paths.done.exists():
        if not job_running(session):
            if paths.done.exists():  # it wrote the file and exited between the two checks
                break
            raise StreamUnavailable(
                f"the streaming job of {session.day} stopped before it reached the close's offsets"
                f" (see {paths.log})"
            )
        if time.monotonic() > deadline:
            behind = _records_behind(session, end)
            stop_job(session)
            raise StreamUnavailable(
                f"the streaming job of {session.day} did not reach the close's offsets within"
                f" {timeout:g} s ({behind} records behind); the job was stopped"
            )
        time.sleep(0.5)


def _records_behind(session: Session, end: Offsets) -> str:
    """How far the group's committed offsets are from ``end``, for the reason (best effort)."""
    try:
        done = committed(session.bootstrap, session.group, EVENT_TOPICS)
    except Exception:  # only the message depends on it
        return "unknown"
    return str(sum(o for t in EVENT_TOPICS for o in end.get(t, {}).values()) - done)


def _fold(session: Session, bundle: Path, end: Offsets, snapshot: Path) -> dict[str, object]:
    """The job's topics folded, with journal and proof, into a hidden folder renamed to
    ``snapshot`` once complete and on disk; nothing is left behind when it is not complete."""
    day = session.day
    work = snapshot.with_name(f".{snapshot.name}.stream.partial")
    shutil.rmtree(work, ignore_errors=True)
    stop_follower(session)  # the job has frozen: what is left of its legs, the close prices
    try:
        # the reference data and opening state price a leg; the events are not read
        same_terms = bundle_fingerprint(session.bundle, TERMS) == bundle_fingerprint(bundle, TERMS)
    except OSError as exc:
        raise StreamUnavailable(f"the session's bundle cannot be read: {exc}") from exc
    if not same_terms:
        raise StreamUnavailable(
            f"the session priced its legs with the reference data of {session.bundle}, which"
            f" differs from the close's {bundle}"
        )
    terms = journal_terms(load_inputs(bundle, day), day)
    try:
        tables = [s.name for s in group_specs("aggregates") if s.name != LEGS]
        freeze_snapshot(session.bootstrap, session.group, day.isoformat(), work, tables)
        segments = catch_up(session, terms)
    except Exception as exc:  # the fold's own errors (Kafka client, a stuck topic): no snapshot
        shutil.rmtree(work, ignore_errors=True)
        raise StreamUnavailable(f"folding the aggregate topics failed: {exc}") from exc
    try:
        try:
            _finish_journal(segments, work, terms)
        except StreamUnavailable:
            raise
        except Exception as exc:  # the batch job prices the legs again instead
            raise StreamUnavailable(f"merging the journal's segments failed: {exc}") from exc
        record = completeness(day, session.start_offsets, end, work)
        if not record["complete"]:
            raise StreamUnavailable(f"the stream's completeness proof fails: {_failed(record)}")
        record["frozen_by"] = {"path": "stream", "reason": STREAM_REASON}
        replace_file(work / COMPLETENESS, json_bytes(record))
        sync_tree(work)  # on disk before the end of day may rely on it (edge/durable.py)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    shutil.rmtree(snapshot, ignore_errors=True)
    os.replace(work, snapshot)
    sync_dir(snapshot.parent)
    return record


def _finish_journal(segments: list[Path], snapshot: Path, terms: JournalTerms) -> None:
    """The snapshot's legs and journal from the segments priced during the session: each
    segment's legs linked in as one part of ``agg_legs``, and the segments merged."""
    legs_folder = snapshot / file_spec(LEGS).path.removesuffix(".csv")
    legs_folder.mkdir(parents=True, exist_ok=True)
    for segment in segments:
        link_or_copy(segment / "legs.csv", legs_folder / f"part-{segment.name}")
    work = snapshot / f".{JOURNAL}.partial"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    finish_journal(segments, work, terms.instruments, terms.account_members, terms.member_ids)
    priced = json.loads((work / "manifest.json").read_text())["legs"]
    control = read_aggregate(snapshot, "agg_control").filter(pl.col("topic") == "trades")
    legs = 2 * int(control["records"].sum())
    if priced != legs:  # a leg lost (an expired transaction) or twice (a restore past a freeze)
        raise StreamUnavailable(
            f"the journal's segments hold {priced} legs, the job admitted {legs // 2} trades"
        )
    publish_journal(work, snapshot)


def _failed(record: dict[str, object]) -> str:
    """``topic: check, check`` for every failing check of a completeness record."""
    topics = record["topics"]
    assert isinstance(topics, dict)
    failing = {
        topic: [check for check, ok in t["checks"].items() if not ok] for topic, t in topics.items()
    }
    return "; ".join(f"{t}: {', '.join(c)}" for t, c in failing.items() if c)
