"""A trading session's streaming pre-aggregation, from the open to the close.

Each day's session lives in one fixed folder, ``$DAYCLEAR_STATE/stream/<D>/``::

    session.json         the run: trading day, run number, consumer group, job pid, bootstrap,
                         bundle, start offsets, restores
    staging/             what the job reads besides the topics (close.stage_for_gate)
    start_offsets.json   where the day's range begins: the previous close's end offsets, else the
                         topics' beginning
    freeze.json          the close's end offsets (written by the close, read by the job)
    freeze.json.done     written by the job once it has reached them and stopped with a savepoint
    checkpoints/         the job's retained checkpoints and its final savepoint
    job.log              the job's output
    journal/             the trade journal's segments, priced during the session from the legs the
                         job commits (driver/journal_follower.py)
    journal.log          the journal follower's output

:func:`open_session` stages the inputs, records the start offsets, creates the run's aggregate
topics and starts ``jobs/stream_preaggregate.py`` and the journal follower; the close
(:mod:`driver.stream_close`) freezes it. Every fresh run of a day gets its own consumer group
(``dayclear-preaggregate-stream-<D>-r<N>``), which also names its aggregate topics, so a run never
reads a crashed run's committed offsets or aggregates; ``restore`` resumes the same run from its
newest checkpoint instead.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

from dayclear.config import state_layout
from driver.close import previous_close, stage_for_gate
from edge.bundle import load_inputs
from edge.durable import replace_file
from edge.formats import json_bytes
from jobs import flink_rest
from jobs.kafka_io import offsets
from jobs.stream_jobs import (
    PREAGGREGATE_CHECKPOINT_MS,
    PREAGGREGATE_GROUP,
    start_journal_follower,
    start_preaggregation,
)
from jobs.stream_preaggregate import create_topics, job_record

log = logging.getLogger(__name__)

Offsets = dict[str, dict[int, int]]


class SessionError(Exception):
    """A session cannot be opened as asked (one is running already, nothing to restore)."""


@dataclass(frozen=True)
class SessionPaths:
    """The fixed layout of one day's session."""

    root: Path

    @property
    def record(self) -> Path:
        return self.root / "session.json"

    @property
    def staging(self) -> Path:
        return self.root / "staging"

    @property
    def start_offsets(self) -> Path:
        return self.root / "start_offsets.json"

    @property
    def freeze(self) -> Path:
        return self.root / "freeze.json"

    @property
    def done(self) -> Path:
        return self.root / "freeze.json.done"

    @property
    def job(self) -> Path:
        """The driver's record of its Flink job (id, and the session cluster's REST address)."""
        return job_record(self.freeze)

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def log(self) -> Path:
        return self.root / "job.log"

    @property
    def journal(self) -> Path:
        return self.root / "journal"

    @property
    def journal_log(self) -> Path:
        return self.root / "journal.log"


def session_paths(day: date) -> SessionPaths:
    return SessionPaths(state_layout().stream(day).absolute())


@dataclass(frozen=True)
class Session:
    """One run of a day's streaming pre-aggregation, as recorded in its ``session.json``."""

    day: date
    run: int
    group: str
    pid: int
    bootstrap: str
    bundle: Path
    start_offsets: Offsets
    restores: int = 0
    #: the journal follower's pid (driver/journal_follower.py), 0 before it is started
    journal_pid: int = 0
    #: the job's process, only in the process that started it (tests stop it through this)
    job: subprocess.Popen[bytes] | None = field(default=None, compare=False, repr=False)

    @property
    def paths(self) -> SessionPaths:
        return session_paths(self.day)

    def as_json(self) -> dict[str, object]:
        return {
            "trading_day": self.day.isoformat(),
            "run": self.run,
            "group": self.group,
            "pid": self.pid,
            "bootstrap": self.bootstrap,
            "bundle": str(self.bundle),
            "start_offsets": offsets_json(self.start_offsets),
            "restores": self.restores,
            "journal_pid": self.journal_pid,
        }


def read_session(day: date) -> Session | None:
    """The day's session as recorded, or None when none was opened."""
    path = session_paths(day).record
    if not path.exists():
        return None
    raw = json.loads(path.read_text())
    return Session(
        day=date.fromisoformat(raw["trading_day"]),
        run=int(raw["run"]),
        group=raw["group"],
        pid=int(raw["pid"]),
        bootstrap=raw["bootstrap"],
        bundle=Path(raw["bundle"]),
        start_offsets=offsets_of(raw["start_offsets"]),
        restores=int(raw.get("restores", 0)),
        journal_pid=int(raw.get("journal_pid", 0)),
    )


def open_session(
    day: date,
    bundle: Path,
    bootstrap: str,
    *,
    snapshot: Path | None = None,
    restore: bool = False,
    checkpoint_ms: int = PREAGGREGATE_CHECKPOINT_MS,
) -> Session:
    """Start the day's streaming pre-aggregation and return once it is started.

    A fresh run stages ``bundle``'s reference ids and opening positions, starts the day's range at
    the end offsets of the latest close before ``day`` among the snapshots beside ``snapshot``
    (default ``$DAYCLEAR_STATE/snapshots/<D>``), else at the topics' beginning, and clears what an
    earlier run of the day left. ``restore`` resumes the recorded run from its newest checkpoint."""
    paths = session_paths(day)
    previous = read_session(day)
    if previous is not None and job_running(previous):
        raise SessionError(f"the session of {day} is running already (pid {previous.pid})")
    if previous is not None:  # its driver is gone; on a session cluster its job may not be
        cancel_cluster_job(previous)
    if restore:
        if previous is None:
            raise SessionError(f"no session of {day} to restore ({paths.record} is missing)")
        if previous.bootstrap != bootstrap:
            raise SessionError(f"the session of {day} reads {previous.bootstrap}, not {bootstrap}")
        job = _start(previous, paths, bootstrap, checkpoint_ms, restore=True)
        session = replace(previous, pid=job.pid, restores=previous.restores + 1, job=job)
        stop_follower(previous)  # a follower of the crashed run may still be reading
    else:
        run = previous.run + 1 if previous is not None else 1
        if previous is not None:
            stop_follower(previous)  # it may still be pricing the previous run's legs
        shutil.rmtree(paths.root, ignore_errors=True)
        stage_for_gate(bundle, day, paths.staging, load_inputs(bundle, day))
        snapshot = snapshot or state_layout().snapshot(day)
        start = previous_close(snapshot, day) or offsets(bootstrap, "beginning")
        replace_file(paths.start_offsets, json_bytes(offsets_json(start)))
        session = Session(
            day=day,
            run=run,
            group=f"{PREAGGREGATE_GROUP}-{day.isoformat()}-r{run}",
            pid=0,
            bootstrap=bootstrap,
            bundle=bundle.resolve(),  # the follower reads it from another working directory
            start_offsets=start,
        )
        create_topics(bootstrap, session.group, day.isoformat())
        job = _start(session, paths, bootstrap, checkpoint_ms, restore=False)
        session = replace(session, pid=job.pid, job=job)
    replace_file(paths.record, json_bytes(session.as_json()))
    follower = start_journal_follower(day.isoformat(), paths.journal_log)  # reads the record
    session = replace(session, journal_pid=follower.pid)
    replace_file(paths.record, json_bytes(session.as_json()))
    log.info(
        "session of %s: run %d, group %s, job pid %d%s",
        day,
        session.run,
        session.group,
        session.pid,
        " (restored)" if restore else "",
    )
    return session


def _start(
    session: Session, paths: SessionPaths, bootstrap: str, checkpoint_ms: int, *, restore: bool
) -> subprocess.Popen[bytes]:
    return start_preaggregation(
        bootstrap,
        session.day.isoformat(),
        paths.staging,
        paths.freeze,
        paths.checkpoints,
        paths.log,
        group=session.group,
        start_offsets=paths.start_offsets,
        checkpoint_ms=checkpoint_ms,
        restore=restore,
    )


def _alive(pid: int, module: bytes, argument: str) -> bool:
    """Is ``pid`` a running (not zombie) ``python -m module`` process given ``argument``? A pid
    can be reused once the process is gone, hence the command line check. Reads ``/proc`` (Linux),
    because the caller (a DAG task, a later command) is usually not its parent and cannot wait on
    it."""
    proc = Path("/proc") / str(pid)
    try:
        stat = (proc / "stat").read_text()
        command = (proc / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    state = stat.rsplit(")", 1)[-1].split()[0]
    return state not in {"Z", "X"} and module in command and argument.encode() in command


def job_running(session: Session) -> bool:
    """Is the session's job alive: its pid a running ``jobs.stream_preaggregate`` process of this
    session's freeze file?"""
    return _alive(session.pid, b"jobs.stream_preaggregate", str(session.paths.freeze))


def follower_running(session: Session) -> bool:
    """Is the session's journal follower alive?"""
    return session.journal_pid > 0 and _alive(
        session.journal_pid, b"driver.journal_follower", session.day.isoformat()
    )


def _stop(pid: int, running: Callable[[], bool], grace_s: float) -> None:
    """SIGTERM the process group of ``pid``, then SIGKILL if it is still there after ``grace_s``."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if not running():
            return
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace_s
        while running() and time.monotonic() < deadline:
            time.sleep(0.2)


def stop_job(session: Session, grace_s: float = 30) -> None:
    """Stop the session's job: its whole process group (the Python driver and, on the embedded
    mini-cluster, its JVM), then the job itself where it runs on a session cluster."""
    _stop(session.pid, lambda: job_running(session), grace_s)
    cancel_cluster_job(session, grace_s)


def cancel_cluster_job(session: Session, grace_s: float = 30) -> None:
    """Cancel the session's job on the session cluster it was submitted to, if any. Its driver
    gone (stopped, or killed) does not stop it there; left running, it would compete with a
    restored run for the same topics, or with the fallback for the machine."""
    try:
        record = json.loads(session.paths.job.read_text())
    except FileNotFoundError:
        return  # not started yet, or an embedded run that recorded nothing
    if not record.get("rest"):
        return
    try:
        state = flink_rest.cancel(record["rest"], record["job_id"], timeout=max(grace_s, 60))
    except flink_rest.FlinkRestError as exc:  # no JobManager answers, or the job would not end:
        # said loudly, and the caller goes on (a fallback close must not stop here)
        log.warning(
            "session of %s: cluster job %s not cancelled: %s", session.day, record["job_id"], exc
        )
        return
    log.info("session of %s: cluster job %s is %s", session.day, record["job_id"], state)


def stop_follower(session: Session, grace_s: float = 30) -> None:
    """Stop the session's journal follower; a segment it was writing is whole or absent."""
    _stop(session.journal_pid, lambda: follower_running(session), grace_s)


def offsets_json(found: Offsets) -> dict[str, dict[str, int]]:
    """Offsets as JSON has them (partitions as text keys), partitions in order."""
    return {t: {str(p): o for p, o in sorted(parts.items())} for t, parts in found.items()}


def offsets_of(raw: dict[str, dict[str, int]]) -> Offsets:
    """Offsets read back from JSON."""
    return {t: {int(p): int(o) for p, o in parts.items()} for t, parts in raw.items()}
