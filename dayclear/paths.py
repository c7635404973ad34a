"""Where dayclear keeps its local state (overridable with DAYCLEAR_STATE)."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: The variable naming the exchange's ``holidays.csv`` (the trading-day timetable has no default).
HOLIDAYS_ENV = "DAYCLEAR_HOLIDAYS"


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


#: JVM options of the Flink jobs' JVM (PyFlink reads ``JVM_ARGS``): Flink's generated operator
#: code for the gate's checks has methods larger than the JIT's 8,000-byte limit; without this flag
#: HotSpot never compiles them and they run interpreted, milliseconds per record.
FLINK_JVM_ARGS = "-XX:-DontCompileHugeMethods"


def flink_env() -> dict[str, str]:
    """The environment a Flink job's process starts with: Java 17, the project on the path, and
    :data:`FLINK_JVM_ARGS` (unless ``JVM_ARGS`` is set already)."""
    import os

    return {
        **os.environ,
        "JAVA_HOME": java_home(),
        "PYTHONPATH": str(ROOT),
        "JVM_ARGS": os.environ.get("JVM_ARGS", FLINK_JVM_ARGS),
    }
