"""Publishing a settled day: ``OUT/<D>/v<N>/`` with ``LATEST`` (DATA_CONTRACT: Published settlement files).

Under the day's publication lock (publication/day_lock.py: one publisher of a day at a time), write
every file into a hidden temporary folder of this publisher's own, write ``manifest.json`` (SHA-256
and row count of every file, control totals per member and for the exchange, lineage), flush it to
disk, verify the folder against the manifest and stage the new ``LATEST``, then rename the folder
into place and ``LATEST`` over the old one: a published folder is complete or absent, after a crash
or a full disk too (edge/durable.py). A failed write removes the temporary folder and raises a
:class:`PublishError` naming the file; one left by a killed publisher is removed by the next
publisher of the day, under the lock.
A rerun whose files are byte-identical to the latest version publishes nothing new; a changed
result becomes the next version with ``changes.json`` naming what changed per member.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl

from edge.durable import (
    commit_file,
    link_or_copy,
    naming,
    replace_file,
    staged_file,
    sync_dir,
    sync_tree,
)
from edge.formats import csv_bytes, json_bytes, sorted_by_spec, text_csv_bytes, text_table
from edge.journal_files import journal_files
from publication.day_lock import publication_lock
from schemas.registry import file_spec
from settlement.eod import DayResult
from settlement.errors import Problem, PublishError, by_file

MEMBER_FILES = ("funds", "positions", "trades", "declaration_fees", "margin_calls")
CONTROL_TOTALS = {
    "balance": ("funds", "balance"),
    "margin": ("funds", "margin"),
    "total_mtm": ("funds", "total_mtm"),
    "trading_fees": ("funds", "trading_fees"),
    "declaration_fees": ("funds", "declaration_fees"),
    "margin_call": ("funds", "margin_call"),
}


@dataclass(frozen=True)
class Linked:
    """A file already written and hashed before the end of day (the intraday trade journal):
    published by a hard link (a copy across file systems), then verified like every other file."""

    path: Path
    sha256: str
    rows: int


Content = bytes | Linked


@dataclass(frozen=True)
class Publication:
    folder: Path
    version: int
    unchanged: bool
    manifest: dict[str, object]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _closing_files(result: DayResult) -> dict[str, bytes]:
    positions = file_spec("opening_positions")
    balances = file_spec("opening_balances")
    prices = file_spec("opening_settlement_prices")
    return {
        "closing/positions.csv": csv_bytes(result.closing_positions, positions),
        "closing/balances.csv": csv_bytes(result.closing_balances, balances),
        "closing/settlement_prices.csv": csv_bytes(result.closing_settlement_prices, prices),
    }


def render(
    result: DayResult, member_ids: list[str], trade_journal: Path | None = None
) -> tuple[dict[str, Content], dict[str, dict[str, str]]]:
    """All files of the version folder (bytes, or the finished trades.csv per member of the journal
    in ``trade_journal``, when ``result`` was settled from it), and the control totals per
    member."""
    files: dict[str, Content] = {
        "exchange/settlement_prices.csv": csv_bytes(
            result.settlement_prices, file_spec("settlement_prices")
        )
    }
    member_of = result.account_members
    totals: dict[str, dict[str, str]] = {m: {} for m in member_ids}
    for name in MEMBER_FILES:
        spec = file_spec(name)
        if name == "trades" and result.trades is None:
            if trade_journal is None:
                raise ValueError(
                    "the day was settled from a trade journal on disk: name its folder"
                )
            for path, (digest, rows) in journal_files(trade_journal).items():
                files[path] = Linked(trade_journal / path, digest, rows)
            continue
        typed = sorted_by_spec(
            getattr(result, name).join(member_of, on="account_id", how="left"), spec
        )
        text = text_table(typed, spec).with_columns(typed["member_id"])
        parts = text.partition_by("member_id", as_dict=True, include_key=False, maintain_order=True)
        empty = text.clear().drop("member_id")
        for member in member_ids:
            files[spec.path.format(member_id=member)] = text_csv_bytes(parts.get((member,), empty))
        if name == "funds":
            sums = typed.group_by("member_id").agg(
                pl.col(c).sum() for _, c in CONTROL_TOTALS.values()
            )
            by_member = {row["member_id"]: row for row in sums.iter_rows(named=True)}
            for member in member_ids:
                row = by_member.get(member, {})
                totals[member] = {
                    key: f"{Decimal(row.get(column) or 0):.2f}"
                    for key, (_, column) in CONTROL_TOTALS.items()
                }
    files.update(_closing_files(result))
    return files, totals


def _rows(data: bytes) -> int:
    return max(0, data.count(b"\n") - 1)


def _meta(content: Content) -> dict[str, object]:
    if isinstance(content, Linked):
        return {"sha256": content.sha256, "rows": content.rows}
    return {"sha256": sha256(content), "rows": _rows(content)}


def spooled(content: Content, target: Path) -> Linked:
    """``content`` written to ``target`` now, to be linked into the version folder later."""
    if isinstance(content, Linked):
        return content
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)
    return Linked(target, sha256(content), _rows(content))


def _put(content: Content, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with naming(target):
        if isinstance(content, Linked):
            link_or_copy(content.path, target)
        else:
            target.write_bytes(content)


def manifest_for(
    day: date,
    version: int,
    files: dict[str, Content],
    totals: dict[str, dict[str, str]],
    lineage: dict[str, object],
) -> dict[str, object]:
    exchange = {
        key: f"{sum(Decimal(t[key]) for t in totals.values()):.2f}" for key in CONTROL_TOTALS
    }
    return {
        "trading_day": day.isoformat(),
        "version": version,
        "files": {path: _meta(content) for path, content in sorted(files.items())},
        "members": totals,
        "exchange": exchange,
        "lineage": lineage,
    }


def verify_folder(folder: Path) -> None:
    """Re-read a version folder and check every file against its manifest."""
    manifest = json.loads((folder / "manifest.json").read_text())

    def matches(item: tuple[str, dict[str, object]]) -> str | None:
        path, meta = item
        data = (folder / path).read_bytes()  # linked journal files too: verified, not trusted
        return None if (sha256(data), _rows(data)) == (meta["sha256"], meta["rows"]) else path

    # hashlib releases the GIL on large buffers: a thread per core hashes files side by side
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        for bad in pool.map(matches, manifest["files"].items()):
            if bad is not None:
                raise OSError(f"{folder / bad}: content does not match manifest.json")
    for member, totals in manifest["members"].items():
        funds = pl.read_csv(folder / "members" / member / "funds.csv", infer_schema=False)
        for key, (_, column) in CONTROL_TOTALS.items():
            total = sum((Decimal(v) for v in funds[column].to_list()), Decimal("0"))
            if f"{total:.2f}" != totals[key]:
                raise OSError(
                    f"{folder}: member {member} control total {key} does not match its rows"
                )


def existing_versions(day_dir: Path) -> list[int]:
    return sorted(
        int(p.name[1:]) for p in day_dir.glob("v*") if p.is_dir() and p.name[1:].isdigit()
    )


def publish(
    result: DayResult,
    out: Path,
    member_ids: list[str],
    lineage: dict[str, object],
    reason: str = "",
    trade_journal: Path | None = None,
) -> Publication:
    """Render ``result`` for ``member_ids`` and publish it (see :func:`publish_files`)."""
    files, totals = render(result, member_ids, trade_journal)
    return publish_files(result.day, files, totals, out, lineage, reason)


def publish_files(
    day: date,
    files: dict[str, Content],
    totals: dict[str, dict[str, str]],
    out: Path,
    lineage: dict[str, object],
    reason: str = "",
    *,
    lock_timeout: float | None = None,
) -> Publication:
    """Publish rendered files as the day's next version (the module docstring says how), holding
    the day's publication lock from choosing the version to moving ``LATEST`` (publication/day_lock.py:
    a second publisher waits up to ``lock_timeout`` seconds, then refuses)."""
    day_dir = out / day.isoformat()
    with publication_lock(day_dir, day.isoformat(), lock_timeout):
        for stale in day_dir.glob(".v*.partial"):  # of a publisher killed before its rename
            shutil.rmtree(stale, ignore_errors=True)
        versions = existing_versions(day_dir)
        if versions:
            latest = day_dir / f"v{versions[-1]}"
            previous = json.loads((latest / "manifest.json").read_text())
            previous_hashes = {p: m["sha256"] for p, m in previous["files"].items()}
            if (
                previous_hashes == {p: _meta(c)["sha256"] for p, c in files.items()}
                and previous["lineage"] == lineage
            ):
                _point_latest(day_dir, latest.name)
                return Publication(latest, versions[-1], True, previous)
        version = (versions[-1] + 1) if versions else 1
        lineage = {**lineage, **({"reason": reason} if reason else {})}
        manifest = manifest_for(day, version, files, totals, lineage)
        final = day_dir / f"v{version}"
        # unique to this publisher: nobody else's temporary folder is ever written or removed
        tmp = day_dir / f".v{version}.{os.getpid()}-{secrets.token_hex(4)}.partial"
        try:
            latest_file = _write_version(tmp, files, manifest, versions, day_dir)
        except BaseException as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            if isinstance(exc, OSError):
                raise _not_published(day, final, day_dir, exc) from exc
            raise
        os.rename(tmp, final)
        sync_dir(day_dir)
        _pause_for_test("renamed", final)
        commit_file(latest_file, day_dir / "LATEST")
        return Publication(final, version, False, manifest)


def _write_version(
    tmp: Path,
    files: dict[str, Content],
    manifest: dict[str, object],
    versions: list[int],
    day_dir: Path,
) -> Path:
    """Everything of the version that needs disk space, in ``tmp``, flushed and verified, and the
    new ``LATEST`` staged beside the old one: after this only renames are left. Returns the staged
    ``LATEST``. An error names the file it was writing."""
    for path, content in files.items():
        _put(content, tmp / path)
    _pause_for_test("written", tmp)
    if versions:
        _put(json_bytes(_changes(day_dir / f"v{versions[-1]}", manifest)), tmp / "changes.json")
    _put(json_bytes(manifest), tmp / "manifest.json")
    sync_tree(tmp)
    verify_folder(tmp)
    latest_file = staged_file(day_dir / "LATEST", (f"v{manifest['version']}\n").encode())
    _pause_for_test("verified", tmp)
    return latest_file


def _not_published(day: date, final: Path, day_dir: Path, exc: OSError) -> PublishError:
    latest = day_dir / "LATEST"
    before = latest.read_text().strip() if latest.is_file() else "nothing (no version yet)"
    cause = f"writing {exc.filename}: {exc.strerror}" if exc.filename and exc.strerror else exc
    return PublishError(
        f"{day} could not be published as {final.name}: {cause}. "
        f"Nothing was published: LATEST still names {before}.",
        str(exc.filename or final),
    )


#: Test-only (tests/faults/): ``POINT:MARKER`` stops a publisher at POINT ("written": the files are
#: in its temporary folder; "verified": the folder is complete, flushed and verified, just before
#: its rename; "renamed": the version is in place, LATEST not moved yet). It writes the folder's
#: path to the file MARKER and goes on once the test deletes MARKER, or is killed there.
PAUSE_ENV = "DAYCLEAR_TEST_PUBLISH_PAUSE"


def _pause_for_test(point: str, folder: Path) -> None:
    hook = os.environ.get(PAUSE_ENV, "")
    if not hook.startswith(point + ":"):
        return
    marker = Path(hook.removeprefix(point + ":"))
    marker.write_text(str(folder))
    while marker.exists():
        time.sleep(0.01)


def _changes(previous_folder: Path, manifest: dict[str, object]) -> dict[str, object]:
    """What changed since the previous version, per member and for the exchange file."""
    previous = json.loads((previous_folder / "manifest.json").read_text())
    old, new = previous["files"], manifest["files"]
    assert isinstance(new, dict)
    changed = sorted(
        p
        for p in set(old) | set(new)
        if old.get(p, {}).get("sha256") != new.get(p, {}).get("sha256")
    )
    per_member: dict[str, list[str]] = {}
    for path in changed:
        if path.startswith("members/"):
            _, member, name = path.split("/", 2)
            per_member.setdefault(member, []).append(name)
    return {
        "from_version": previous["version"],
        "to_version": manifest["version"],
        "changed_files": changed,
        "members": per_member,
    }


def write_breaks_report(out: Path, day: str, kind: str, problems: list[Problem]) -> Path:
    """``OUT/<D>/breaks.json``: every problem that stopped the day (file, record, field, rule §),
    bad input and rule breaks alike, with the count per file (``files``).

    It sits beside the version folders, never inside one: nothing is published for the day."""
    day_dir = out / day
    report = {
        "trading_day": day,
        "kind": kind,
        "count": len(problems),
        "files": [{"file": f, "count": len(found)} for f, found in by_file(problems).items()],
        "problems": [p.as_dict() for p in problems],
    }
    replace_file(day_dir / "breaks.json", json_bytes(report))
    return day_dir / "breaks.json"


def _point_latest(day_dir: Path, name: str) -> None:
    replace_file(day_dir / "LATEST", (name + "\n").encode())
