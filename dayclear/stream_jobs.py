"""Starting, watching and stopping the continuously running job (jobs/surveillance.py) from Python:
the demo, the tests and the benchmark run it the same way, in its own process group."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from .paths import ROOT, java_home

GROUP = "dayclear-surveillance"


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
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as handle:
        return subprocess.Popen(
            [sys.executable, "-m", "jobs.surveillance", *args],
            cwd=ROOT,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "JAVA_HOME": java_home(), "PYTHONPATH": str(ROOT)},
        )


def stop(job: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    """Stop the job's whole process group (SIGKILL stands for a crash)."""
    if job.poll() is None:
        os.killpg(job.pid, sig)
    job.wait(30)


def committed(bootstrap: str, group: str, topics: tuple[str, ...]) -> int:
    """Records of ``topics`` the group has committed (0 before its first checkpoint)."""
    from kafka import KafkaAdminClient

    from .stream_health import committed_offsets

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        offsets = committed_offsets(admin, group)
    finally:
        admin.close()
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
            raise RuntimeError(f"the surveillance job did not catch up ({done} of {records})")
        time.sleep(0.5)
