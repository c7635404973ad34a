"""The production path, step by step, shared by ``dayclear replay``, the demo and the Airflow DAGs.

check bundle -> stage events -> pre-aggregate (Flink, its own process) -> settle (pure EOD) -> publish.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from dayclear.config import ROOT, code_version, flink_env
from driver.shards import Rendered, settle_in_shards
from edge.aggregates import read_aggregates
from edge.bundle import load_inputs
from edge.events import topic_file_spec
from edge.journal_files import JournalOnDisk, build_journal, read_journal
from edge.validate import check_bundle, read_events
from jobs.staging import write_staged
from publication.publish import Publication, publish_files, sha256, write_breaks_report
from schemas.registry import file_spec
from settlement.errors import BreaksError, DayclearError
from settlement.instruments import instrument_table
from settlement.model import Inputs

SPOOL = ".eod_spool"


def stage_bundle(
    bundle: Path,
    day: date,
    staging: Path,
    inputs: Inputs,
    with_events: bool = True,
    events: dict[str, pl.DataFrame] | None = None,
) -> dict[str, int]:
    """Check the bundle's events (unless ``events`` were checked already) and write them (and
    the opening positions) for the Flink job."""
    counts: dict[str, int] = {}
    if with_events:
        events = events or read_events(bundle, inputs.reference, day)
        for topic, frame in events.items():
            write_staged(frame, topic_file_spec(topic), staging / f"{topic}.csv")
            counts[topic] = frame.height
    write_staged(
        inputs.opening.positions, file_spec("opening_positions"), staging / "opening_positions.csv"
    )
    return counts


def run_preaggregation(
    staging: Path,
    snapshot: Path,
    *,
    bootstrap: str | None = None,
    end_offsets: Path | None = None,
    start_offsets: Path | None = None,
    day: date | None = None,
    log: Path | None = None,
) -> None:
    """Run ``jobs.preaggregate`` on a Flink mini-cluster in a child process."""
    cmd = [
        sys.executable,
        "-m",
        "jobs.preaggregate",
        "--staging",
        str(staging),
        "--out",
        str(snapshot),
    ]
    if bootstrap:
        cmd += ["--bootstrap", bootstrap]
        if end_offsets:
            cmd += ["--end-offsets", str(end_offsets)]
        if start_offsets:
            cmd += ["--start-offsets", str(start_offsets)]
        if day:
            cmd += ["--day", day.isoformat()]
    env = flink_env()
    log = log or snapshot.with_name(snapshot.name + ".flink.log")
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as handle:
        done = subprocess.run(cmd, env=env, stdout=handle, stderr=subprocess.STDOUT, cwd=ROOT)
    if done.returncode != 0:
        tail = "\n".join(log.read_text().splitlines()[-25:])
        raise RuntimeError(
            f"pre-aggregation job failed (exit {done.returncode}); log {log}:\n{tail}"
        )


#: The folders of a bundle that price a day, without its events.
TERMS = ("reference", "opening")


def bundle_fingerprint(
    bundle: Path, folders: tuple[str, ...] = (*TERMS, "events")
) -> dict[str, str]:
    """SHA-256 of every file of the bundle's ``folders`` (by default reference, opening and
    events): the lineage of a published day. Only the folders asked for are read."""
    return {
        str(p.relative_to(bundle)): sha256(p.read_bytes())
        for p in sorted(bundle.glob("*/*"))
        if p.is_file() and p.parent.name in folders
    }


def lineage(
    bundle: Path,
    settled_by: object,
    *,
    end_offsets: object = None,
    events: dict[str, int] | None = None,
) -> dict[str, object]:
    """The manifest's ``lineage`` of a published day, for either path that settles one: from Kafka
    (``end_offsets``, the close's: the bundle's events were not read, so its inputs are the
    reference data and opening state) or from the bundle (``events``: the rows it staged; its
    inputs are every folder). Then the code version and the path that settled it."""
    if end_offsets is not None:
        source: dict[str, object] = {
            "source": "kafka",
            "end_offsets": end_offsets,
            "inputs": bundle_fingerprint(bundle, TERMS),
        }
    else:
        source = {"source": "bundle", "inputs": bundle_fingerprint(bundle), "events": events}
    return {**source, "code_version": code_version(), "settled_by": settled_by}


@dataclass(frozen=True)
class JournalTerms:
    """What pricing legs into the journal needs of the day's inputs (edge.journal_files)."""

    instruments: pl.DataFrame
    account_members: pl.DataFrame
    member_ids: list[str]


def journal_terms(inputs: Inputs, day: date) -> JournalTerms:
    reference = inputs.reference
    return JournalTerms(
        instrument_table(reference, inputs.opening, day),
        reference.accounts.select("account_id", "member_id"),
        reference.members["member_id"].sort().to_list(),
    )


def build_snapshot_journal(snapshot: Path, inputs: Inputs, day: date) -> Path:
    """The trade journal of a frozen snapshot (edge.journal_files): intraday work, done
    here at the latest when the end of day finds none. Returns the snapshot."""
    terms = journal_terms(inputs, day)
    build_journal(snapshot, terms.instruments, terms.account_members, terms.member_ids)
    return snapshot


def snapshot_journal(snapshot: Path, inputs: Inputs, day: date) -> JournalOnDisk:
    """The snapshot's trade journal, built now if the close did not build it."""
    if read_journal(snapshot, members=[]) is None:
        build_snapshot_journal(snapshot, inputs, day)
    return JournalOnDisk(snapshot)


def spool_of(snapshot: Path) -> Path:
    """Where this process spools the member files it settles from ``snapshot``: a folder of its
    own, so that two settlements of the same snapshot at once (the settlement task started twice)
    never write or remove each other's files."""
    return snapshot / SPOOL / f"{socket.gethostname()}-{os.getpid()}"


def _clear_dead_spools(snapshot: Path) -> None:
    """The spools of settlements on this host whose process is gone (killed before it published)."""
    host = socket.gethostname()
    for folder in (snapshot / SPOOL).glob(f"{host}-*"):
        pid = folder.name.removeprefix(f"{host}-")
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def settle_snapshot(
    bundle: Path, day: date, snapshot: Path, inputs: Inputs | None = None
) -> Rendered:
    """The day's files from its frozen snapshot, settled shard by shard of members
    (driver.shards); member files are spooled under ``<snapshot>/.eod_spool/<host>-<pid>``."""
    inputs = inputs or load_inputs(bundle, day)
    _clear_dead_spools(snapshot)
    rendered, breaks = settle_in_shards(
        day,
        inputs.reference,
        inputs.opening,
        read_aggregates(snapshot, legs=False),
        snapshot_journal(snapshot, inputs, day),
        inputs.reference.members["member_id"].sort().to_list(),
        spool_of(snapshot),
    )
    if breaks or rendered is None:
        shutil.rmtree(spool_of(snapshot), ignore_errors=True)
        raise BreaksError(breaks)
    return rendered


def publish_result(
    rendered: Rendered, snapshot: Path, out: Path, lineage: dict[str, object], reason: str = ""
) -> Publication:
    """Publish the rendered day (publication.publish) and clear this process's spool of the
    snapshot, published or not (a rerun settles again)."""
    try:
        return publish_files(rendered.day, rendered.files, rendered.totals, out, lineage, reason)
    finally:
        shutil.rmtree(spool_of(snapshot), ignore_errors=True)


def replay(
    bundle: Path, day: date, out: Path, work: Path, reason: str = "", *, settled_by: str = "replay"
) -> Publication:
    """Settle a bundle through the production pre-aggregation and end-of-day code and publish it.
    The bundle is checked whole first (edge.validate): a bad day stops with every problem
    in ``OUT/<D>/breaks.json`` and nothing published. The lineage says it was settled by the batch path, for ``settled_by`` ("replay", "re-issue")."""
    try:
        checked = check_bundle(bundle, day)
        assert checked.opening is not None
        inputs = Inputs(checked.reference, checked.opening)
        staging = work / "staging"
        counts = stage_bundle(bundle, day, staging, inputs, events=checked.events)
        snapshot = work / "snapshot"
        run_preaggregation(staging, snapshot)
        rendered = settle_snapshot(bundle, day, snapshot, inputs)
    except DayclearError as exc:
        write_breaks_report(out, day.isoformat(), exc.kind, exc.problems)
        raise
    batch = {"path": "batch", "reason": settled_by}
    return publish_result(rendered, snapshot, out, lineage(bundle, batch, events=counts), reason)


def summary(publication: Publication) -> str:
    manifest = publication.manifest
    totals = manifest["exchange"]
    assert isinstance(totals, dict)
    files = manifest["files"]
    assert isinstance(files, dict)
    accounts = sum(meta["rows"] for path, meta in files.items() if path.endswith("/funds.csv"))
    calls = sum(meta["rows"] for path, meta in files.items() if path.endswith("/margin_calls.csv"))
    lines = [
        f"published {publication.folder}"
        + (" (unchanged: identical to the latest version)" if publication.unchanged else ""),
        f"  accounts settled: {accounts}   margin calls: {calls}",
        "  exchange totals: " + json.dumps(totals, sort_keys=True),
    ]
    return "\n".join(lines)
