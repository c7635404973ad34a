"""Where dayclear keeps its local state (overridable with DAYCLEAR_STATE)."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def state_dir() -> Path:
    path = Path(os.environ.get("DAYCLEAR_STATE", ROOT / ".state"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def java_home() -> str:
    if os.environ.get("JAVA_HOME"):
        return os.environ["JAVA_HOME"]
    for candidate in sorted(Path("/usr/lib/jvm").glob("java-17-openjdk*")):
        return str(candidate)
    return ""
