"""Where a running Flink job spends its time: busy and back-pressured milliseconds per second of
every task (chain of operators), read from the job's REST API, and the CPU of whole processes.

A job started with ``DAYCLEAR_FLINK_REST_PORT`` set serves its REST API on that port
(jobs/streaming.py). ``busyTimeMsPerSecond`` near 1,000 with ``backPressuredTimeMsPerSecond`` near 0
is the bottleneck; tasks upstream of it show back-pressure instead.
"""

from __future__ import annotations

import json
import math
import os
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

METRICS = ("busyTimeMsPerSecond", "backPressuredTimeMsPerSecond", "numRecordsInPerSecond")


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.load(answer)


def _number(value: object) -> float:
    """A metric's value; 0 where Flink has none yet (absent, or NaN before a task's first
    measurement)."""
    number = float(value or 0)  # type: ignore[arg-type]
    return 0.0 if math.isnan(number) else number


def task_metrics(port: int) -> list[dict[str, Any]]:
    """Per task of the (one) running job: name, busy ms/s, back-pressured ms/s, records in/s;
    busiest first. Empty when no job runs there."""
    base = f"http://127.0.0.1:{port}"
    try:
        jobs = [j for j in _get(f"{base}/jobs")["jobs"] if j["status"] == "RUNNING"]
    except OSError:
        return []
    if not jobs:
        return []
    job = jobs[0]["id"]
    rows = []
    for vertex in _get(f"{base}/jobs/{job}")["vertices"]:
        found = _get(
            f"{base}/jobs/{job}/vertices/{vertex['id']}/subtasks/metrics?get={','.join(METRICS)}"
        )
        values = {m["id"]: _number(m.get("max")) for m in found}
        rows.append(
            {
                "task": vertex["name"][:160],
                "status": vertex["status"],
                "busy_ms_per_s": round(values.get(METRICS[0], 0.0)),
                "backpressured_ms_per_s": round(values.get(METRICS[1], 0.0)),
                "records_in_per_s": round(values.get(METRICS[2], 0.0), 1),
            }
        )
    return sorted(rows, key=lambda r: -r["busy_ms_per_s"])


@dataclass
class CpuMeter:
    """CPU seconds used by processes (and their children) between :meth:`start` and :meth:`shares`.
    The names in ``alone`` are measured without their children (the bench process itself, whose
    children are the jobs it started)."""

    pids: dict[str, int]
    alone: frozenset[str] = frozenset()
    began: float = 0.0
    first: dict[str, float] | None = None

    def _used(self, name: str) -> float:
        return _cpu(self.pids[name], tree=name not in self.alone)

    def start(self) -> None:
        self.began, self.first = time.monotonic(), {n: self._used(n) for n in self.pids}

    def shares(self) -> dict[str, float]:
        """Cores used on average per process since :meth:`start` (1.0 = one core all the time)."""
        assert self.first is not None
        wall = time.monotonic() - self.began
        return {n: round((self._used(n) - self.first[n]) / wall, 2) for n in self.pids}


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (a Flink job's Python driver and its JVM)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(children.get(p, []))
    return found


def _cpu(pid: int, tree: bool = True) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for p in _tree(pid) if tree else [pid]:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def peak_rss_mib(pid: int, tree: bool = True) -> float:
    """The largest resident size any process of ``pid``'s tree (or ``pid`` alone) has reached so
    far (VmHWM), MiB."""
    peak = 0
    for p in _tree(pid) if tree else [pid]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except OSError:
            continue
    return round(peak / 1024, 1)
