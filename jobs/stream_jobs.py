"""Starting, watching and stopping the continuously running jobs (jobs/surveillance.py,
jobs/stream_preaggregate.py) from Python: the demo, the tests and the benchmark run them the same
way, each in its own process group."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from dayclear.config import ROOT, flink_env, state_dir
from jobs import kafka_io

GROUP = "dayclear-surveillance"
PREAGGREGATE_GROUP = "dayclear-preaggregate-stream"
#: The pre-aggregation's checkpoint interval (docs/decisions.md, Streaming: every checkpoint of the
#: heap state writes all of it, and the state grows with the day).
PREAGGREGATE_CHECKPOINT_MS = 10_000


def start_surveillance(
    bootstrap: str,
    day: str,
    checkpoints: Path,
    log: Path,
    *,
    group: str = GROUP,
    cancel_threshold: int | None = None,
    checkpoint_ms: int = 1000,
    restore: bool = False,
    parallelism: int = 1,
) -> subprocess.Popen[bytes]:
    args = ["--bootstrap", bootstrap, "--day", day, "--checkpoints", str(checkpoints)]
    args += ["--checkpoint-ms", str(checkpoint_ms), "--group", group]
    args += ["--parallelism", str(parallelism)]
    if cancel_threshold is not None:
        args += ["--cancel-threshold", str(cancel_threshold)]
    if restore:
        args.append("--restore")
    return _start("jobs.surveillance", args, log)


def start_preaggregation(
    bootstrap: str,
    day: str,
    staging: Path,
    freeze: Path,
    checkpoints: Path,
    log: Path,
    *,
    group: str = PREAGGREGATE_GROUP,
    start_offsets: Path | None = None,
    checkpoint_ms: int = PREAGGREGATE_CHECKPOINT_MS,
    restore: bool = False,
) -> subprocess.Popen[bytes]:
    """The streaming pre-aggregation job (jobs/stream_preaggregate.py) for ``day``; it stops by itself
    once the close has written the end offsets to ``freeze`` and it has reached them."""
    args = ["--bootstrap", bootstrap, "--day", day, "--staging", str(staging)]
    args += ["--freeze", str(freeze), "--checkpoints", str(checkpoints), "--group", group]
    args += ["--checkpoint-ms", str(checkpoint_ms)]
    if start_offsets is not None:
        args += ["--start-offsets", str(start_offsets)]
    if restore:
        args.append("--restore")
    return _start("jobs.stream_preaggregate", args, log)


def start_journal_follower(day: str, log: Path) -> subprocess.Popen[bytes]:
    """The journal follower (driver/journal_follower.py) of the day's recorded session, with the
    state folder made absolute (it runs in the project's folder)."""
    return _start(
        "driver.journal_follower",
        ["--day", day],
        log,
        {"DAYCLEAR_STATE": str(state_dir().absolute())},
    )


def start_risk_monitor(
    bootstrap: str,
    day: str,
    bundle: Path,
    log: Path,
    *,
    group: str = PREAGGREGATE_GROUP,
    interval: float = 2.0,
    until: Path | None = None,
) -> subprocess.Popen[bytes]:
    """The risk monitor (jobs/risk_monitor.py) following the streaming run ``group``."""
    args = ["--bootstrap", bootstrap, "--day", day, "--bundle", str(bundle), "--group", group]
    args += ["--interval", str(interval)]
    if until is not None:
        args += ["--until", str(until)]
    return _start("jobs.risk_monitor", args, log)


def _start(
    module: str, args: list[str], log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as handle:
        return subprocess.Popen(
            [sys.executable, "-m", module, *args],
            cwd=ROOT,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**flink_env(), **(env or {})},
        )


def stop(job: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    """Stop the job's whole process group (SIGKILL stands for a crash)."""
    if job.poll() is None:
        os.killpg(job.pid, sig)
    job.wait(30)


def group_offsets(bootstrap: str, group: str) -> dict[tuple[str, int], int]:
    """The group's committed offset per (topic, partition) (none before its first checkpoint)."""

    return kafka_io.group_offsets(bootstrap, group)


def committed(bootstrap: str, group: str, topics: tuple[str, ...]) -> int:
    """Records of ``topics`` the group has committed (0 before its first checkpoint)."""
    offsets = group_offsets(bootstrap, group)
    return sum(o for (topic, _), o in offsets.items() if topic in topics)


def wait_caught_up(
    bootstrap: str,
    group: str,
    topics: tuple[str, ...],
    records: int,
    job: subprocess.Popen[bytes],
    timeout: float = 600,
) -> list[tuple[float, int]]:
    """Poll the group's committed offsets until they cover ``records``; returns the readings."""
    readings: list[tuple[float, int]] = []
    deadline = time.perf_counter() + timeout
    while True:
        done, now = committed(bootstrap, group, topics), time.perf_counter()
        if done:
            readings.append((now, done))
        if done >= records:
            return readings
        if now > deadline or job.poll() is not None:
            raise RuntimeError(f"the job of group {group} did not catch up ({done} of {records})")
        time.sleep(0.5)
