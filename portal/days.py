"""Read-only views of what the prongs wrote, for the portal: days, versions, files, reports.

Every path is built from validated parts only: a day must be ``YYYY-MM-DD``, a version ``v<N>`` that
exists, a member an id present in that version's manifest, and a file name one the manifest lists for
that member. Nothing a request sends is ever joined to a path unchecked, so ``..``, absolute paths,
encoded separators or another member's file cannot name anything.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from portal.formatting import exchange_day

DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
VERSION = re.compile(r"^v[1-9]\d{0,3}$")
MEMBER = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class NotFound(Exception):
    """Nothing by that name for this caller (the same answer whether it exists for someone else)."""


class Tampered(RuntimeError):
    """A published file whose bytes do not match its manifest: it is never served."""


@dataclass(frozen=True)
class Sources:
    """Where the prongs write: published days, the close's snapshots, the ops readings, and the day
    bundles (reference data) they settled from."""

    out: Path
    snapshots: Path
    ops: Path
    bundles: Path

    @classmethod
    def under(cls, state: Path) -> Sources:
        return cls(state / "published", state / "snapshots", state / "ops", state / "bundles")


def _json(path: Path) -> dict[str, Any] | None:
    found: dict[str, Any] | None = json.loads(path.read_text()) if path.is_file() else None
    return found


def _day_dir(src: Sources, day: str) -> Path:
    if not DAY.match(day) or not (src.out / day).is_dir():
        raise NotFound(day)
    return src.out / day


def days(src: Sources) -> list[str]:
    if not src.out.is_dir():
        return []
    return sorted(
        (p.name for p in src.out.iterdir() if p.is_dir() and DAY.match(p.name)), reverse=True
    )


def versions(src: Sources, day: str) -> list[str]:
    day_dir = _day_dir(src, day)
    found = [p.name for p in day_dir.iterdir() if p.is_dir() and VERSION.match(p.name)]
    return sorted(found, key=lambda v: int(v[1:]))


def latest(src: Sources, day: str) -> str | None:
    path = _day_dir(src, day) / "LATEST"
    return path.read_text().strip() if path.is_file() else None


def status(src: Sources, day: str) -> dict[str, Any]:
    return _json(_day_dir(src, day) / "status.json") or {"trading_day": day}


def settled_by(manifest: dict[str, Any] | None, status: dict[str, Any]) -> dict[str, Any] | None:
    """Which path settled a version and why (``{"path": "stream"|"batch", "reason": ...}``): the
    version's own lineage, else the day's status (versions published before it was recorded)."""
    found = ((manifest or {}).get("lineage") or {}).get("settled_by") or status.get("settled_by")
    return found if isinstance(found, dict) else None


def breaks(src: Sources, day: str) -> dict[str, Any] | None:
    """``breaks.json``: the problems that stopped the day before anything was published."""
    return _json(_day_dir(src, day) / "breaks.json")


def manifest(src: Sources, day: str, version: str) -> dict[str, Any]:
    if not VERSION.match(version):
        raise NotFound(version)
    found = _json(_day_dir(src, day) / version / "manifest.json")
    if found is None:
        raise NotFound(version)
    return found


def changes(src: Sources, day: str, version: str) -> dict[str, Any] | None:
    manifest(src, day, version)
    return _json(src.out / day / version / "changes.json")


def reconciliation(src: Sources, day: str, version: str) -> dict[str, Any] | None:
    manifest(src, day, version)
    return _json(src.out / day / "audit" / version / "reconciliation.json")


def completeness(src: Sources, day: str) -> dict[str, Any] | None:
    _day_dir(src, day)
    return _json(src.snapshots / day / "completeness.json")


def sessions(src: Sources, day: str) -> dict[str, str]:
    """``{product: session}`` from the day's reference ``products.csv`` (empty when not there)."""
    _day_dir(src, day)
    path = src.bundles / day / "reference" / "products.csv"
    return (
        {r["product"]: r["session"] for r in read_csv(path.read_bytes())} if path.is_file() else {}
    )


def health(src: Sources) -> dict[str, Any] | None:
    return _json(src.ops / "health.json")


def health_history(src: Sources, day: str) -> list[dict[str, Any]]:
    """The ops DAG's readings of the day (``ops/health-<D>.jsonl``), oldest first."""
    path = src.ops / f"health-{day}.jsonl"
    return (
        [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        if path.is_file()
        else []
    )


def alerts(src: Sources, day: str) -> list[dict[str, Any]]:
    """Alerts of the day: the ops prong's (``ops/alerts.jsonl``, stamped with a time) and the jobs'
    surveillance and risk alerts collected from the ``alerts`` topic (``ops/stream_alerts.jsonl``)."""
    found = []
    for name in ("alerts.jsonl", "stream_alerts.jsonl"):
        path = src.ops / name
        if not path.is_file():
            continue
        for line in path.read_text().splitlines():
            try:
                alert = json.loads(line)
            except json.JSONDecodeError:
                continue
            stamp = alert.get("at")
            of_day = alert.get("trading_day") or (
                exchange_day(stamp) if isinstance(stamp, (int, float)) else None
            )
            if of_day == day:
                found.append(alert)
    return found


# --- one member's view ----------------------------------------------------------------------------
def member_files(src: Sources, day: str, version: str, member: str) -> dict[str, dict[str, Any]]:
    """``{file name: {sha256, rows}}`` of ``member``'s folder in the version, from its manifest."""
    return _files_of(manifest(src, day, version), member)


def _files_of(full: dict[str, Any], member: str) -> dict[str, dict[str, Any]]:
    if not MEMBER.match(member):
        raise NotFound(member)
    prefix = f"members/{member}/"
    files = {
        path.removeprefix(prefix): meta
        for path, meta in full["files"].items()
        if path.startswith(prefix) and "/" not in path.removeprefix(prefix)
    }
    if not files:
        raise NotFound(member)
    return files


def member_file(src: Sources, day: str, version: str, member: str, name: str) -> bytes:
    """The bytes of one listed file, checked against the manifest's SHA-256 before they are served."""
    files = member_files(src, day, version, member)
    if name not in files:
        raise NotFound(name)
    return _checked(src, day, version, f"members/{member}/{name}", files[name]["sha256"])


def exchange_file(src: Sources, day: str, version: str, name: str) -> bytes:
    """One file of the version's ``exchange/`` folder (the public settlement prices), checked
    against the manifest like every member file."""
    path = f"exchange/{name}"
    meta = manifest(src, day, version)["files"].get(path)
    if meta is None:
        raise NotFound(name)
    return _checked(src, day, version, path, meta["sha256"])


def _checked(src: Sources, day: str, version: str, path: str, sha: str) -> bytes:
    """The bytes of ``path`` (a key of the manifest's ``files``, already validated) if their SHA-256
    is the manifest's; :class:`Tampered` otherwise."""
    data = (src.out / day / version / path).read_bytes()
    if hashlib.sha256(data).hexdigest() != sha:
        raise Tampered(f"{day}/{version}/{path} does not match its manifest")
    return data


def member_manifest(src: Sources, day: str, version: str, member: str) -> dict[str, Any]:
    """The member's slice of the manifest: its files and its control totals, nobody else's."""
    return member_slice(manifest(src, day, version), day, member)


def member_slice(full: dict[str, Any], day: str, member: str) -> dict[str, Any]:
    """:func:`member_manifest` of an already read manifest."""
    return {
        "trading_day": full.get("trading_day", day),
        "version": full.get("version"),
        "member_id": member,
        "files": _files_of(full, member),
        "totals": (full.get("members") or {}).get(member, {}),
    }


def read_csv(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode())))
