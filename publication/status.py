"""The status of a trading day, as staff and the portal see it: ``OUT/<D>/status.json``.

Each prong records its own part (stream completeness, settlement, audit, smoke); a version is
**final** only when it is settled, its audit passed and its post-publication smoke passed. A failed
audit or smoke therefore blocks the final mark. Updates are atomic (write, then rename) and
serialised by a lock on ``OUT/<D>/.status.lock``: under the scheduler the audit and smoke DAGs,
triggered by the same publication, mark the same day at the same time, and an unlocked
read-merge-write would lose one prong's record (the day would never be final).
"""

from __future__ import annotations

import fcntl
import json
from pathlib import Path
from typing import Any

from edge.durable import replace_file
from edge.formats import json_bytes


def status_path(out: Path, day: str) -> Path:
    return out / day / "status.json"


def read_status(out: Path, day: str) -> dict[str, Any]:
    path = status_path(out, day)
    return json.loads(path.read_text()) if path.exists() else {"trading_day": day}


def mark(out: Path, day: str, **fields: Any) -> dict[str, Any]:
    """Merge ``fields`` into the day's status and recompute ``final``, under the day's lock."""
    path = status_path(out, day)
    path.parent.mkdir(parents=True, exist_ok=True)
    with (path.parent / ".status.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        status = read_status(out, day)
        status.update(fields)
        version = status.get("settled_version")
        status["final"] = bool(
            version
            and status.get("audit", {}).get("version") == version
            and status["audit"].get("passed")
            and status.get("smoke", {}).get("version") == version
            and status["smoke"].get("passed")
        )
        replace_file(path, json_bytes(status))
    return status
