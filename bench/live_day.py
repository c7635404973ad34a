"""The live session, measured: the streaming pre-aggregation as the production path, one command.

For each size (accounts, trades; 20 order messages per trade, the simulator's mix), on a broker of
its own (the embedded KRaft broker on port 19492, state in ``--work``):

* **producer**: the day's events into Kafka unpaced (jobs.kafka_io.produce_bundle), events/s;
* **(a) backlog**: the streaming pre-aggregation (driver.session.open_session, the production
  start) started over that backlog: sustained events/s from its consumer group's committed offsets
  (first commit to caught up), and where the time goes (busy / back-pressured ms per second of each
  Flink task, bench/flink_profile.py, sampled half-way);
* **(c) close -> LATEST**: the stream-first close (driver.stream_close.close_from_stream: end
  offsets, freeze, fold, journal, proof), then the end of day and the publication, each step timed,
  with the peak RSS of this process and of the job's JVM;
* **reconciliation**: the published day against the independent batch-only recompute from the raw
  events (audit/recompute.py + audit/reconcile.py): differences must be 0;
* **(b) paced** (``--rate``, default the design day's 29,000 events/s): a fresh broker, the session
  (the job and its journal follower), the surveillance job and the risk monitor started first,
  then the day played at that rate: consumer lag of the pre-aggregation sampled every second
  (records behind the end offsets, in seconds of the feed), its p99 and max and whether it grows,
  and the CPU each process used (the feed: this process alone).

Figures go to stdout and to ``bench/results/live_day-<accounts>-<trades>.json``.

    .venv/bin/python bench/live_day.py [--accounts 20000 --trades 10000] [--rate 29000] [--no-paced]
    .venv/bin/python bench/live_day.py --sizes 2000x4000,20000x10000,20000x50000
    .venv/bin/python bench/live_day.py --accounts 100000 --trades 500000 --paced-only
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flink_profile import CpuMeter, peak_rss_mib, task_metrics

DAY = date(2026, 11, 23)
PORT = 19492
REST_PORT = 18492
RESULTS = Path(__file__).resolve().parent / "results"
log = logging.getLogger("live_day")


def _rss_mib() -> float:
    """This process's peak resident size so far (VmHWM), MiB. Not ``ru_maxrss``: Linux carries that
    across fork and exec, so a spawned child would report its parent's peak (the bench process's,
    which has read the whole bundle to produce it)."""
    return peak_rss_mib(os.getpid(), tree=False)


class _PeakRss:
    """The streaming job's peak resident size (its process tree: the Python driver and the JVM it
    launched), sampled every half second from the session's start until :meth:`stop`: the job ends
    during the close, and its high-water mark goes with it."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak = pid, 0.0
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stopped.wait(0.5):
            self.peak = max(self.peak, peak_rss_mib(self.pid) if self.pid else 0.0)

    def stop(self) -> float:
        self._stopped.set()
        self._thread.join()
        return self.peak


def _commit() -> str:
    root = Path(__file__).resolve().parent.parent
    found = subprocess.run(
        ["git", "rev-parse", "--short=12", "HEAD"], cwd=root, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=root, capture_output=True).stdout
    return found + ("+uncommitted" if dirty.strip() else "")


def _fresh_broker(work: Path) -> str:
    from devtools import kafka_broker

    kafka_broker.stop()
    shutil.rmtree(work / "kafka", ignore_errors=True)
    broker = kafka_broker.start()
    kafka_broker.create_topics(broker.bootstrap)
    return broker.bootstrap


def _bundle(work: Path, accounts: int, trades: int) -> tuple[Path, dict[str, int]]:
    from devtools.simulator import SimulationConfig, simulate

    bundle = work / f"bundle-{accounts}-{trades}"
    counts_file = bundle / "counts.json"
    if not counts_file.exists():
        shutil.rmtree(bundle, ignore_errors=True)
        counts = simulate(SimulationConfig(day=DAY, accounts=accounts, trades=trades), bundle)
        counts_file.write_text(json.dumps(counts))
    counts = json.loads(counts_file.read_text())
    return bundle, {t: counts[t] for t in ("orders", "trades", "fund_movements")}


def _committed(bootstrap: str, group: str) -> int:
    from jobs.stream_jobs import committed
    from schemas.registry import EVENT_TOPICS

    return committed(bootstrap, group, EVENT_TOPICS)


def _close(bundle: Path, bootstrap: str, snapshot: Path, out: Path) -> dict[str, Any]:
    """(c) in a fresh process: the stream-first close (end offsets, freeze, fold, journal, proof),
    the end of day and the publication, each step's wall time and this process's peak RSS after
    it (the high-water mark so far: a step's own peak is at most its figure)."""
    from driver.pipeline import publish_result, settle_snapshot
    from driver.stream_close import close_from_stream
    from edge.bundle import load_inputs

    steps: dict[str, float] = {}
    rss: dict[str, float] = {}
    started = mark = time.perf_counter()

    def done(step: str) -> None:
        nonlocal mark
        steps[step] = round(time.perf_counter() - mark, 2)
        rss[step] = _rss_mib()
        mark = time.perf_counter()

    record = close_from_stream(DAY, bundle, bootstrap, snapshot)
    done("freeze_fold_journal_proof_s")
    rendered = settle_snapshot(bundle, DAY, snapshot, load_inputs(bundle, DAY))
    done("end_of_day_s")
    shutil.rmtree(out / DAY.isoformat(), ignore_errors=True)
    publication = publish_result(rendered, snapshot, out, {"source": "kafka", "bench": "live_day"})
    done("publication_s")
    return {
        "close_to_latest_s": round(time.perf_counter() - started, 1),
        "close_steps_s": steps,
        "close_steps_peak_rss_mib": rss,
        "close_process_peak_rss_mib": _rss_mib(),
        "complete": record["complete"],
        "folder": str(publication.folder),
    }


def backlog_and_close(work: Path, accounts: int, trades: int, checkpoint_ms: int) -> dict[str, Any]:
    """Producer rate, (a) the backlog rate and its profile, (c) close -> LATEST, reconciliation."""
    from audit.run import reconciled_differences
    from driver.session import open_session
    from jobs.kafka_io import offsets, produce_bundle

    bootstrap = _fresh_broker(work)
    bundle, counts = _bundle(work, accounts, trades)
    events = sum(counts.values())
    base = sum(o for parts in offsets(bootstrap, "end").values() for o in parts.values())
    started = time.perf_counter()
    produce_bundle(bundle, bootstrap, DAY)
    producer_rate = events / (time.perf_counter() - started)
    log.info("produced %s events at %.0f events/s", f"{events:,}", producer_rate)

    snapshot = work / "snapshots" / DAY.isoformat()
    shutil.rmtree(snapshot, ignore_errors=True)
    session = open_session(DAY, bundle, bootstrap, snapshot=snapshot, checkpoint_ms=checkpoint_ms)
    job_rss = _PeakRss(session.pid)
    readings: list[tuple[float, int]] = []
    profile: list[dict[str, Any]] = []
    launched = time.perf_counter()
    while True:
        done = _committed(bootstrap, session.group) - base
        now = time.perf_counter()
        if done > 0:
            readings.append((now, done))
        if not profile and done >= events // 2:
            profile = task_metrics(REST_PORT)
        if done >= events:
            break
        if session.job is not None and session.job.poll() is not None:
            raise RuntimeError(f"the streaming job ended early; see {session.paths.log}")
        if now - launched > max(7200, events / 5_000):  # 5,000 events/s: 1/5 of the last rates
            raise TimeoutError(
                f"the backlog was not read in {now - launched:.0f} s ({done} of {events})"
            )
        time.sleep(0.5)
    (t0, n0), (t1, n1) = readings[0], readings[-1]
    backlog_rate = (n1 - n0) / (t1 - t0) if t1 > t0 else float("nan")
    log.info("(a) backlog: %.0f events/s over %s events", backlog_rate, f"{n1 - n0:,}")

    # the close runs in a process of its own, as the settlement DAG's task does: its peak RSS is the
    # close's, not this process's (which has read the bundle to produce it)
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        closed = pool.submit(_close, bundle, bootstrap, snapshot, work / "published").result()
    job_peak = job_rss.stop()
    log.info("(c) close -> LATEST %.1f s %s", closed["close_to_latest_s"], closed["close_steps_s"])
    folder = Path(closed.pop("folder"))
    reconciled = reconciled_differences(bundle, DAY, folder, work / "recompute.duckdb")
    return {
        "producer_events_per_s": round(producer_rate),
        "backlog_events_per_s": round(backlog_rate),
        "backlog_first_commit_after_launch_s": round(t0 - launched, 1),
        "backlog_profile": profile,
        **closed,
        "close_peak_rss_mib": max(closed["close_process_peak_rss_mib"], job_peak),
        "job_peak_rss_mib": job_peak,
        "jvm_args": os.environ.get("JVM_ARGS", ""),
        "reconciled_differences": reconciled,
        "counts": counts,
    }


def paced(
    work: Path, accounts: int, trades: int, rate: float, checkpoint_ms: int
) -> dict[str, Any]:
    """(b): the jobs first, then the day played at ``rate`` events/s; lag and CPU per process."""
    from devtools import kafka_broker
    from driver.session import open_session, stop_job
    from jobs.kafka_io import offsets, produce_bundle
    from jobs.stream_jobs import start_risk_monitor, start_surveillance, stop, wait_caught_up
    from schemas.registry import EVENT_TOPICS

    bootstrap = _fresh_broker(work)
    bundle, counts = _bundle(work, accounts, trades)
    events = sum(counts.values())
    session = open_session(DAY, bundle, bootstrap, snapshot=work / "paced-snapshots" / "x",
                           checkpoint_ms=checkpoint_ms)  # fmt: skip
    rest = os.environ.pop("DAYCLEAR_FLINK_REST_PORT")  # one job per REST port
    surveillance = start_surveillance(
        bootstrap, DAY.isoformat(), work / "paced-surveillance", work / "surveillance.log",
        group="bench-surveillance",
    )  # fmt: skip
    os.environ["DAYCLEAR_FLINK_REST_PORT"] = rest
    risk = None
    try:
        _wait_running(int(rest), session.job)  # the day starts once the job is reading
        risk = start_risk_monitor(
            bootstrap, DAY.isoformat(), bundle, work / "risk_monitor.log", group=session.group
        )
        broker = kafka_broker.status()
        meter = CpuMeter(
            {
                "preaggregation": session.pid,
                "journal_follower": session.journal_pid,
                "surveillance": surveillance.pid,
                "risk_monitor": risk.pid,
                "feed": os.getpid(),
            }
            | ({"broker": broker.pid} if broker else {}),
            alone=frozenset({"feed"}),  # this process; the jobs above are its children
        )
        lags: list[tuple[float, int]] = []
        stop_sampling = threading.Event()

        def sample() -> None:
            while not stop_sampling.is_set():
                ends = offsets(bootstrap, "end")
                produced = sum(o for t in EVENT_TOPICS for o in ends.get(t, {}).values())
                lags.append((time.monotonic(), produced - _committed(bootstrap, session.group)))
                stop_sampling.wait(1.0)

        meter.start()
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        started = time.perf_counter()
        produce_bundle(bundle, bootstrap, DAY, rate=rate)
        played = time.perf_counter() - started
        wait_caught_up(bootstrap, session.group, EVENT_TOPICS, events, session.job, 1800)  # type: ignore[arg-type]
        stop_sampling.set()
        sampler.join(5)
        cpu = meter.shares()
    finally:
        if risk is not None:
            stop(risk)
        stop(surveillance)
        stop_job(session)
    behind_s = [max(0, n) / rate for _, n in lags]
    half = len(behind_s) // 2
    return {
        "paced_rate_asked": rate,
        "paced_events_per_s": round(events / played),
        "paced_lag_p99_s": round(statistics.quantiles(behind_s, n=100)[98], 2)
        if len(behind_s) > 2
        else None,
        "paced_lag_max_s": round(max(behind_s), 2) if behind_s else None,
        "paced_lag_mean_first_half_s": round(statistics.mean(behind_s[:half]), 2) if half else None,
        "paced_lag_mean_second_half_s": round(statistics.mean(behind_s[half:]), 2)
        if half
        else None,
        "paced_cpu_cores": cpu,
    }


def _wait_running(port: int, job: subprocess.Popen[bytes] | None, timeout: float = 900) -> None:
    """Until every task of the job serving REST on ``port`` is running."""
    deadline = time.monotonic() + timeout
    while not (tasks := task_metrics(port)) or any(
        r["status"] not in ("RUNNING", "FINISHED") for r in tasks
    ):
        if job is not None and job.poll() is not None:
            raise RuntimeError("the streaming job ended before it ran")
        if time.monotonic() > deadline:
            raise TimeoutError("the streaming job did not start")
        time.sleep(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--trades", type=int, default=10_000)
    parser.add_argument("--sizes", help="several sizes, e.g. 2000x4000,20000x10000")
    parser.add_argument("--rate", type=float, default=29_000.0)
    parser.add_argument("--no-paced", action="store_true")
    parser.add_argument(
        "--paced-only", action="store_true", help="(b) alone, added to the size's last figures"
    )
    parser.add_argument("--checkpoint-ms", type=int, default=10_000)
    parser.add_argument("--work", type=Path)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    work = args.work or Path(tempfile.mkdtemp(prefix="dayclear-live-day-"))
    work.mkdir(parents=True, exist_ok=True)
    os.environ["DAYCLEAR_STATE"] = str(work)
    os.environ["DAYCLEAR_KAFKA_PORT"] = str(PORT)
    os.environ["DAYCLEAR_FLINK_REST_PORT"] = str(REST_PORT)
    sizes = (
        [tuple(int(x) for x in s.split("x")) for s in args.sizes.split(",")]
        if args.sizes
        else [(args.accounts, args.trades)]
    )
    from devtools import kafka_broker

    RESULTS.mkdir(exist_ok=True)
    try:
        for accounts, trades in sizes:
            target = RESULTS / f"live_day-{accounts}-{trades}.json"
            result: dict[str, Any] = {"commit": _commit(), "accounts": accounts, "trades": trades}
            if args.paced_only:
                result = json.loads(target.read_text()) | {"paced_commit": _commit()}
            else:
                result |= backlog_and_close(work, accounts, trades, args.checkpoint_ms)
                result["orders"] = result["counts"]["orders"]
            if not args.no_paced:
                result |= paced(work, accounts, trades, args.rate, args.checkpoint_ms)
            target.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
            log.info("%s\n%s", target, json.dumps(result, indent=1, sort_keys=True))
    finally:
        kafka_broker.stop()


if __name__ == "__main__":
    main()
