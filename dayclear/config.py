"""dayclear's configuration, in one place: every ``DAYCLEAR_*`` environment variable with its
default, where the local state lives (:class:`StateLayout`, the one definition of the folders under
it), the broker, the Flink cluster, the deployed threshold files and the JVM's environment.

Run from a checkout, the defaults point into the checkout (``.state``, ``target/``, ``deploy/``).
Installed elsewhere (a built wheel), the state defaults to ``$XDG_STATE_HOME/dayclear`` and the jars
and threshold files come from ``$DAYCLEAR_JARS`` and ``$DAYCLEAR_DEPLOY``. The exchange's time zone
is a rule, not a setting: ``settlement.calendar.EXCHANGE_TZ_NAME`` (SETTLEMENT_RULES §3).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib.metadata import version
from pathlib import Path

#: The folder holding the packages: the checkout's root when run from a checkout.
ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Setting:
    """One environment variable: its name, its default (None: unset means "not configured") and
    what it sets."""

    name: str
    default: str | None
    meaning: str

    def get(self) -> str | None:
        return os.environ.get(self.name) or self.default


STATE = Setting("DAYCLEAR_STATE", None, "the local state folder (default: see state_dir)")
HOLIDAYS = Setting(
    "DAYCLEAR_HOLIDAYS", None, "the exchange's holidays.csv (required by the scheduler)"
)
KAFKA_BOOTSTRAP = Setting("DAYCLEAR_KAFKA_BOOTSTRAP", None, "the brokers (host:port,...)")
KAFKA_PORT = Setting("DAYCLEAR_KAFKA_PORT", "19092", "the embedded broker's port")
FLINK_REST = Setting("DAYCLEAR_FLINK_REST", None, "a Flink session cluster (host:port)")
FLINK_REST_PORT = Setting("DAYCLEAR_FLINK_REST_PORT", None, "the mini-cluster's REST port")
JARS = Setting("DAYCLEAR_JARS", None, "the Maven-built jars (default: the checkout's target/)")
DEPLOY = Setting("DAYCLEAR_DEPLOY", None, "the threshold files (default: the checkout's deploy/)")
SETTLEMENT_START = Setting(
    "DAYCLEAR_SETTLEMENT_START", "2026-11-02", "the settlement DAG's first trading day"
)
SETTLEMENT_END = Setting("DAYCLEAR_SETTLEMENT_END", None, "last day the scheduler runs")
PUBLISH_LOCK_TIMEOUT = Setting(
    "DAYCLEAR_PUBLISH_LOCK_TIMEOUT", "300", "seconds a publication waits for the day's lock"
)
PORTAL_BASE_URL = Setting(
    "DAYCLEAR_PORTAL_BASE_URL", None, "the portal's public base URL (default: the address served)"
)
PORTAL_TRUSTED_PROXIES = Setting(
    "DAYCLEAR_PORTAL_TRUSTED_PROXIES", "", "addresses whose X-Forwarded-For is trusted"
)
PORTAL_SECURE_COOKIE = Setting("DAYCLEAR_PORTAL_SECURE_COOKIE", None, "1: cookies only over TLS")
CLUSTER_FLINK_REST = Setting(
    "DAYCLEAR_FLINK_REST", "127.0.0.1:28081", "the cluster's JobManager REST (dayclear cluster up)"
)
CLUSTER_KAFKA_PORT = Setting("DAYCLEAR_CLUSTER_KAFKA_PORT", "29092", "the cluster's first broker")
CLUSTER_PORTAL_PORT = Setting("DAYCLEAR_CLUSTER_PORTAL_PORT", "8300", "the cluster's portal port")
POSTGRES_PORT = Setting("DAYCLEAR_POSTGRES_PORT", "25432", "Airflow's PostgreSQL port")
AIRFLOW_PORT = Setting("DAYCLEAR_AIRFLOW_PORT", "28080", "Airflow's API server port")
SMOKE_KNOWN_ANSWERS = Setting("DAYCLEAR_SMOKE_KNOWN_ANSWERS", "on", "off: skip the known answers")

#: Every setting, for ``dayclear config`` and docs/operations.
SETTINGS = (
    STATE, HOLIDAYS, KAFKA_BOOTSTRAP, KAFKA_PORT, FLINK_REST, FLINK_REST_PORT, JARS, DEPLOY,
    SETTLEMENT_START, SETTLEMENT_END, PUBLISH_LOCK_TIMEOUT, PORTAL_BASE_URL,
    PORTAL_TRUSTED_PROXIES, PORTAL_SECURE_COOKIE, SMOKE_KNOWN_ANSWERS, CLUSTER_KAFKA_PORT,
    CLUSTER_PORTAL_PORT, POSTGRES_PORT, AIRFLOW_PORT,
)  # fmt: skip

#: The variable naming the exchange's ``holidays.csv`` (the trading-day timetable has no default).
HOLIDAYS_ENV = HOLIDAYS.name


def in_checkout() -> bool:
    """True when the packages run from a checkout (its ``pyproject.toml`` beside them)."""
    return (ROOT / "pyproject.toml").is_file()


def state_dir() -> Path:
    """``$DAYCLEAR_STATE``; else the checkout's ``.state`` (whatever the working directory); else,
    installed, ``$XDG_STATE_HOME/dayclear``. The one default (created if absent)."""
    named = STATE.get()
    if named:
        path = Path(named)
    elif in_checkout():
        path = ROOT / ".state"
    else:
        xdg = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
        path = Path(xdg) / "dayclear"
    path.mkdir(parents=True, exist_ok=True)
    return path


def kafka_port() -> int:
    """The embedded broker's port (``dayclear kafka start``)."""
    return int(KAFKA_PORT.get() or "19092")


def kafka_bootstrap() -> str:
    """The project's Kafka: ``DAYCLEAR_KAFKA_BOOTSTRAP`` (a comma-separated broker list, e.g. the
    three brokers of ``dayclear cluster up``), else the embedded broker on ``DAYCLEAR_KAFKA_PORT``."""
    return KAFKA_BOOTSTRAP.get() or f"127.0.0.1:{kafka_port()}"


def flink_rest() -> str | None:
    """The Flink session cluster's REST address (host:port), or None for an in-process
    mini-cluster."""
    return FLINK_REST.get()


def jars_dir() -> Path:
    """The Maven-built jars (``make jars``): ``kafka-libs/`` and ``flink-libs/``."""
    return Path(JARS.get() or ROOT / "target")


def deploy_file(name: str) -> Path:
    """One of the deployed threshold files (``deploy/``): ops thresholds, surveillance thresholds,
    risk limits."""
    return Path(DEPLOY.get() or ROOT / "deploy") / name


OPS_THRESHOLDS = "ops_thresholds.json"
SURVEILLANCE_THRESHOLDS = "surveillance_thresholds.json"
RISK_LIMITS = "risk_limits.json"


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
        """The day's streaming session (driver.session)."""
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

    return {
        **os.environ,
        "JAVA_HOME": java_home(),
        "PYTHONPATH": str(ROOT),
        "JVM_ARGS": os.environ.get("JVM_ARGS", FLINK_JVM_ARGS),
    }


@cache
def code_version() -> str:
    """The package version plus the git commit when run from a checkout (the manifests' lineage
    and every log record name it)."""
    if not in_checkout():
        return version("dayclear")
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    except OSError:
        commit = ""
    return f"{version('dayclear')}+{commit}" if commit else version("dayclear")
