"""Where dayclear keeps its local state: ``$DAYCLEAR_STATE``, by default the checkout's
``.state`` (whatever the working directory), laid out by :class:`StateLayout`, the one definition
of the folders under it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: The variable naming the exchange's ``holidays.csv`` (the trading-day timetable has no default).
HOLIDAYS_ENV = "DAYCLEAR_HOLIDAYS"


def state_dir() -> Path:
    """``$DAYCLEAR_STATE``, else the checkout's ``.state``: the one default (created if absent)."""
    path = Path(os.environ.get("DAYCLEAR_STATE", ROOT / ".state"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass(frozen=True)
class StateLayout:
    """The folders under a state folder: the day bundles, the close's snapshots, the published
    days, the streaming sessions, the ops readings, the portal's database, the embedded broker's
    and Airflow's homes, and the surveillance job's checkpoints."""

    root: Path

    @property
    def bundles(self) -> Path:
        return self.root / "bundles"

    def bundle(self, day: date) -> Path:
        return self.bundles / day.isoformat()

    @property
    def snapshots(self) -> Path:
        return self.root / "snapshots"

    def snapshot(self, day: date) -> Path:
        return self.snapshots / day.isoformat()

    @property
    def published(self) -> Path:
        return self.root / "published"

    def stream(self, day: date) -> Path:
        """The day's streaming session (dayclear.session)."""
        return self.root / "stream" / day.isoformat()

    @property
    def ops(self) -> Path:
        return self.root / "ops"

    @property
    def portal_db(self) -> Path:
        return self.root / "portal" / "portal.sqlite"

    @property
    def kafka(self) -> Path:
        return self.root / "kafka"

    @property
    def airflow(self) -> Path:
        return self.root / "airflow"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"


def state_layout() -> StateLayout:
    """The layout of :func:`state_dir`."""
    return StateLayout(state_dir())


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
