"""Streamed days under faults on the production cluster (issue 15 item 3; docs/reliability.md, Fault
campaign): three KRaft brokers and a Flink session cluster (JobManager, two TaskManagers) started by
``devtools.cluster``, the day's streaming session (``driver.session.open_session``) submitted to it,
the day played into Kafka at a paced rate in a thread, and one part SIGKILLed mid-session:

* the broker that leads the most ``trades`` partitions (restarted once the job commits again);
* the TaskManager running the job (Flink's restart strategy moves it to the other one);
* the JobManager (a session cluster without HA forgets its jobs: restarted, then the session is
  re-submitted from its newest retained checkpoint, ``open_session(restore=True)``).

Each case then closes the day from the stream (``close_from_stream``; the proof must say ``stream``,
not the batch fallback), settles and publishes it, and reconciles the published day with the
independent recompute from the raw events (audit/recompute.py, audit/reconcile.py): 0 differences,
0 events lost, 0 duplicated. Every wait is on state (offsets, REST answers, files, processes).

Minutes of JVM starts and Flink jobs: behind ``make chaos`` (marked slow too, so ``make test-fast``
leaves them out). Ports: DAYCLEAR_TEST_FAULTS_KAFKA_PORT (26092: brokers +0..2, controllers
+100..102) and DAYCLEAR_TEST_FAULTS_FLINK_REST (127.0.0.1:26081, RPC +1): below the
ephemeral port range (32768-60999), where a client's outgoing connection can take a killed
broker's port before it restarts ("Address already in use": seen on 39092)."""

from __future__ import annotations

import csv
import json
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import KafkaException

from audit.run import reconciled_differences
from devtools import cluster
from devtools.simulator import SimulationConfig, simulate
from driver.pipeline import publish_result, settle_snapshot
from driver.session import Session, job_running, open_session, stop_follower, stop_job
from driver.stream_close import close_from_stream
from edge.bundle import load_inputs
from jobs import flink_rest
from jobs.kafka_io import new_admin, offsets, produce_bundle
from jobs.stream_jobs import committed
from schemas.registry import EVENT_TOPICS
from tests.published import member_rows

pytestmark = [pytest.mark.slow, pytest.mark.chaos]

DAY = date(2026, 11, 23)
PREVIOUS = date(2026, 11, 20)
ACCOUNTS, TRADES = 300, 1200
#: the session lasts ~SESSION_S at this machine's pace; the kill lands a third of the way in
SESSION_S = 150.0
CHECKPOINT_MS = 3000


def _until(what: str, ready: Callable[[], Any], timeout: float = 300.0, step: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := ready()):
        assert time.monotonic() < deadline, f"{what} not within {timeout:.0f} s"
        time.sleep(step)
    return found


@pytest.fixture(scope="module")
def prod(tmp_path_factory: pytest.TempPathFactory) -> Iterator[cluster.Settings]:
    """The production topology without Airflow and the portal, pointed at by the environment."""
    rest = os.environ.get("DAYCLEAR_TEST_FAULTS_FLINK_REST", "127.0.0.1:26081")
    settings = cluster.Settings(
        state=tmp_path_factory.mktemp("cluster-faults") / "state",
        kafka_port=int(os.environ.get("DAYCLEAR_TEST_FAULTS_KAFKA_PORT", "26092")),
        rest_host=rest.rpartition(":")[0],
        rest_port=int(rest.rpartition(":")[2]),
        portal_port=0,
    )
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DAYCLEAR_FLINK_REST", settings.rest)
        env.setenv("DAYCLEAR_KAFKA_BOOTSTRAP", settings.bootstrap)
        for key, value in cluster.JOB_SETTINGS.items():
            env.setenv(key, value)
        try:
            cluster.up(settings, ["kafka", "flink"], timeout=600)
            yield settings
        finally:
            cluster.down(settings)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    folder = tmp_path_factory.mktemp("day") / "bundle"
    counts = simulate(SimulationConfig(day=DAY, accounts=ACCOUNTS, trades=TRADES, seed=15), folder)
    return folder, {t: counts[t] for t in EVENT_TOPICS}


# --- the job on the cluster, seen through its REST API and its consumer group ---------------------
def _jobs(settings: cluster.Settings) -> list[dict[str, Any]]:
    status, body = cluster._http_get(f"http://{settings.rest}/jobs/overview")
    return body["jobs"] if status == 200 and isinstance(body, dict) else []


def _running_job(settings: cluster.Settings) -> str | None:
    """The id of the job whose every task runs, if there is one."""
    for job in _jobs(settings):
        tasks = job.get("tasks", {})
        if job["state"] == "RUNNING" and tasks.get("running") == tasks.get("total", -1) > 0:
            return str(job["jid"])
    return None


def _total(found: dict[str, dict[int, int]]) -> int:
    return sum(o for t in EVENT_TOPICS for o in found.get(t, {}).values())


@dataclass
class Day:
    """One streamed day: its session, the feed thread and the figures of the fault."""

    settings: cluster.Settings
    bundle: Path
    counts: dict[str, int]
    root: Path
    session: Session | None = None
    base: int = 0
    feed: threading.Thread | None = None
    feed_error: list[BaseException] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def events(self) -> int:
        return sum(self.counts.values())

    @property
    def snapshot(self) -> Path:
        return self.root / "snapshots" / DAY.isoformat()

    def committed(self) -> int:
        """Records the session's group has committed; -1 while Kafka cannot say (the group's
        coordinator or a partition's leader moving off a killed broker)."""
        assert self.session is not None
        try:
            return committed(self.settings.bootstrap, self.session.group, EVENT_TOPICS)
        except KafkaException:
            return -1

    def produced(self) -> int:
        return _total(offsets(self.settings.bootstrap, "end")) - self.base

    def open(self, feed: bool = True) -> None:
        """A previous close at the topics' present end offsets (the day's range starts there), the
        session, and (``feed``) the feed once every task of the job runs."""
        bootstrap = self.settings.bootstrap
        before = offsets(bootstrap, "end")
        self.base = _total(before)
        previous = self.snapshot.with_name(PREVIOUS.isoformat()) / "completeness.json"
        previous.parent.mkdir(parents=True, exist_ok=True)
        previous.write_text(
            json.dumps(
                {
                    "trading_day": PREVIOUS.isoformat(),
                    "end_offsets": {
                        t: {str(p): o for p, o in e.items()} for t, e in before.items()
                    },
                }
            )
        )
        self.session = open_session(
            DAY, self.bundle, bootstrap, snapshot=self.snapshot, checkpoint_ms=CHECKPOINT_MS
        )
        _until("the job running on the cluster", self._submitted, 900)
        if not feed:
            return
        rate = self.events / SESSION_S

        def play() -> None:
            try:
                produce_bundle(self.bundle, bootstrap, DAY, rate=rate)
            except BaseException as exc:  # reported by the test
                self.feed_error.append(exc)

        self.feed = threading.Thread(target=play, daemon=True)
        self.feed.start()

    def restore(self) -> None:
        """Resume the session's run from its newest retained checkpoint, as an operator does
        (``dayclear session open --restore``)."""
        self.session = open_session(
            DAY,
            self.bundle,
            self.settings.bootstrap,
            snapshot=self.snapshot,
            restore=True,
            checkpoint_ms=CHECKPOINT_MS,
        )

    def _submitted(self) -> bool:
        """Is every task of the session's job running? Fails at once, with the driver's exit
        status and log, when the driver ended first."""
        assert self.session is not None and self.session.job is not None
        returncode = self.session.job.poll()
        assert returncode is None, (
            f"the session's driver ended with {returncode} before its job ran:"
            f" {self.session.paths.log.read_text()[-3000:]}"
        )
        return _running_job(self.settings) is not None

    def mid_session(self) -> None:
        """Until a third of the day is in Kafka and the job has committed some of it."""
        _until(
            "a third of the day produced and read",
            lambda: self.produced() >= self.events // 3 and self.committed() > self.base,
            900,
        )

    def recovered(self, killed: float, at_kill: int) -> None:
        """Time to recover: from the kill until a job runs every task and its group's committed
        offsets have moved past where they were at the kill."""
        _until(
            "the job running again and committing",
            lambda: _running_job(self.settings) and self.committed() > at_kill,
            900,
        )
        self.figures["time_to_recover_s"] = round(time.monotonic() - killed, 1)

    def close_settle_reconcile(self) -> None:
        assert self.feed is not None and self.session is not None
        self.feed.join(1800)
        assert not self.feed.is_alive(), "the feed did not finish"
        assert not self.feed_error, self.feed_error
        assert self.produced() == self.events, (self.produced(), self.events)
        record = close_from_stream(DAY, self.bundle, self.settings.bootstrap, self.snapshot, 900)
        # the stream closed the day: not the bounded batch job (close_stream_first's fallback)
        assert record["frozen_by"] == {"path": "stream", "reason": record["frozen_by"]["reason"]}  # type: ignore[index]
        assert record["frozen_by"]["path"] == "stream"
        assert record["complete"], record
        topics = record["topics"]
        assert isinstance(topics, dict)
        inputs = load_inputs(self.bundle, DAY)
        rendered = settle_snapshot(self.bundle, DAY, self.snapshot, inputs)
        publication = publish_result(
            rendered, self.snapshot, self.root / "published", {"source": "kafka", "fault": "chaos"}
        )
        legs = [(r["trade_id"], r["side"]) for r in member_rows(publication.folder, "trades")]
        expected = {
            (r["trade_id"], side)
            for r in csv.DictReader((self.bundle / "events" / "trades.csv").open())
            for side in ("BUY", "SELL")
        }
        in_kafka = sum(t["records_in_kafka"] for t in topics.values())
        aggregated = sum(t["records_aggregated"] for t in topics.values())
        dead = sum(t["dead_letters"] for t in topics.values())
        distinct_seq = sum(t["distinct_seq"] for t in topics.values())
        self.figures |= {
            "events_in": self.events,
            "records_in_kafka": in_kafka,
            "records_aggregated": aggregated,
            "dead_letters": dead,
            "legs_published": len(legs),
            "legs_expected": len(expected),
            "lost": in_kafka - aggregated - dead + len(expected - set(legs)),
            "duplicated": (aggregated - distinct_seq)
            + sum(n - 1 for n in Counter(legs).values() if n > 1),
            "frozen_by": record["frozen_by"],
            "restores": self.session.restores,
        }
        self.figures["differences"] = reconciled_differences(
            self.bundle, DAY, publication.folder, self.root / "recompute.duckdb"
        )
        print(f"fault figures {json.dumps(self.figures, sort_keys=True)}", flush=True)
        assert in_kafka == self.events
        assert dead == 0
        assert self.figures["lost"] == 0 and self.figures["duplicated"] == 0, self.figures
        assert sorted(legs) == sorted(expected)
        assert self.figures["differences"] == 0

    def stop(self) -> None:
        """What this day started (the job's driver and the journal follower), if still running,
        and every job left on the cluster: stopping a driver does not stop its job there."""
        if self.session is not None:
            stop_job(self.session)
            stop_follower(self.session)
        for job in _jobs(self.settings):
            if job["state"] not in ("FINISHED", "CANCELED", "FAILED"):
                flink_rest.cancel(self.settings.rest, str(job["jid"]))
        _until(
            "no job left running on the cluster",
            lambda: all(
                j["state"] in ("FINISHED", "CANCELED", "FAILED") for j in _jobs(self.settings)
            ),
            300,
        )


@pytest.fixture
def day(
    prod: cluster.Settings,
    bundle: tuple[Path, dict[str, int]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Day]:
    # one state folder for the module: each case's session is the next run of the day (r1, r2,
    # ...), with its own consumer group and aggregate topics on the shared cluster
    monkeypatch.setenv("DAYCLEAR_STATE", str(prod.state / "sessions"))
    streamed = Day(prod, bundle[0], bundle[1], tmp_path)
    try:
        yield streamed
    finally:
        streamed.stop()


def _group(pgid: int) -> list[int]:
    """The live processes of process group ``pgid``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            found.append(int(stat.parent.name))
    return found


def _kill(pid: int) -> float:
    """SIGKILL a part's process group; returns once every process of it is gone. A part is a start
    script and its JVM: the script dies first, and the JVM holds its ports until it has exited too
    (restarting the JobManager as soon as the script was gone found its REST port taken)."""
    os.killpg(pid, signal.SIGKILL)
    killed = time.monotonic()
    _until("the process group gone", lambda: not _group(pid), 120)
    return killed


# --- the cases -------------------------------------------------------------------------------------
def test_broker_leading_trades_killed_mid_session(day: Day) -> None:
    settings = day.settings
    day.open()
    day.mid_session()
    leaders = Counter(
        p.leader
        for p in new_admin(settings.bootstrap)
        .list_topics("trades", timeout=10)
        .topics["trades"]
        .partitions.values()
    )
    node = leaders.most_common(1)[0][0]
    victim = cluster.pid_of(settings, cluster.broker_name(node))
    assert victim is not None
    day.figures["produced_at_kill"] = day.produced()
    at_kill = day.committed()
    killed = _kill(victim)
    day.figures |= {"killed": f"kafka-{node}", "leader_of_trades_partitions": leaders[node]}
    day.recovered(killed, at_kill)
    # restart it later, while the day is still produced if it is: `up` starts what is missing
    cluster.start_broker(settings, node)
    _until(
        "the restarted broker back in every ISR",
        lambda: all(h.healthy for h in cluster.kafka_health(settings)),
        600,
    )
    day.figures["produced_at_restart"] = day.produced()
    day.close_settle_reconcile()


def test_taskmanager_killed_mid_session(day: Day) -> None:
    settings = day.settings
    day.open()
    day.mid_session()
    busy = [
        tm_id
        for tm_id, tm in (cluster.registered_taskmanagers(settings) or {}).items()
        if tm["freeSlots"] < tm["slotsNumber"]
    ]
    assert len(busy) == 1, busy  # parallelism 1, one slot-sharing group: one slot on one TM
    n = int(busy[0].rsplit("-", 1)[1])
    victim = cluster.pid_of(settings, cluster.taskmanager_name(n))
    assert victim is not None
    job_before = _running_job(settings)
    day.figures["produced_at_kill"] = day.produced()
    at_kill = day.committed()
    killed = _kill(victim)
    day.figures["killed"] = busy[0]
    day.recovered(killed, at_kill)
    assert _running_job(settings) == job_before  # the same job, restarted by its restart strategy
    assert job_running(day.session)  # type: ignore[arg-type]
    others = cluster.registered_taskmanagers(settings) or {}
    assert busy[0] not in others or others[busy[0]]["freeSlots"] == others[busy[0]]["slotsNumber"]
    cluster.start_taskmanager(settings, n)  # back to two for the next case, while the day goes on
    day.close_settle_reconcile()
    _until(  # a JVM start: minutes on the shared 2-core machine
        "both TaskManagers registered",
        lambda: all(h.healthy for h in cluster.flink_health(settings)),
        900,
    )


def test_jobmanager_killed_mid_session(day: Day) -> None:
    settings = day.settings
    day.open()
    day.mid_session()
    assert day.session is not None
    victim = cluster.pid_of(settings, cluster.jobmanager_name())
    assert victim is not None
    day.figures["produced_at_kill"] = day.produced()
    at_kill = day.committed()
    killed = _kill(victim)
    day.figures["killed"] = "flink-jobmanager"
    cluster.start_jobmanager(settings)
    # the new JobManager knows no job; the TaskManagers drop the old one's tasks and register again
    _until(
        "the JobManager back with both TaskManagers and every slot free",
        lambda: (
            all(h.healthy for h in cluster.flink_health(settings))
            and not _jobs(settings)
            and all(
                tm["freeSlots"] == tm["slotsNumber"]
                for tm in (cluster.registered_taskmanagers(settings) or {}).values()
            )
        ),
        600,
    )
    day.figures["jm_back_s"] = round(time.monotonic() - killed, 1)
    # no task runs now (a commit already on its way at the kill may have landed: seen, +1)
    idle = day.committed()
    # the driver of the lost job: it ends once its JobManager does not answer (or is stopped)
    driver_ended_by_itself = _wait_gone(day.session, 120)
    day.figures["driver_ended_by_itself"] = driver_ended_by_itself
    if not driver_ended_by_itself:
        stop_job(day.session)
    assert day.committed() == idle  # nothing committed while no job ran
    day.restore()
    log = day.session.paths.log
    _until(
        "the restored driver's first line", lambda: log.read_text().count("restoring from ") == 2
    )
    restored = log.read_text().split("restoring from ")[-1].splitlines()[0]
    day.figures["restored_from"] = Path(restored).name
    assert restored != "None"
    day.recovered(killed, at_kill)
    day.close_settle_reconcile()


def test_a_driver_killed_leaves_its_job_which_restore_and_stop_cancel(day: Day) -> None:
    """On a session cluster the job outlives its driver. A restore must not start a second job
    beside the orphan (two jobs writing the day's aggregate topics), and stopping the session must
    stop the job, not only the process that submitted it."""
    settings = day.settings
    day.open(feed=False)
    assert day.session is not None
    first = _until("the job's id recorded", lambda: _running_job(settings))
    assert json.loads(day.session.paths.job.read_text()) == {"job_id": first, "rest": settings.rest}
    _kill(day.session.pid)  # the driver (and the Python process group); not the job
    assert not job_running(day.session)
    assert _running_job(settings) == first, "the orphaned job runs on in the cluster"
    day.restore()
    assert {j["jid"]: j["state"] for j in _jobs(settings)}[first] == "CANCELED"
    second = _until("the restored job running", lambda: _running_job(settings))
    assert second != first
    assert [j["jid"] for j in _jobs(settings) if j["state"] == "RUNNING"] == [second]
    stop_job(day.session)
    assert {j["jid"]: j["state"] for j in _jobs(settings)}[second] == "CANCELED"


def _wait_gone(session: Session, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while job_running(session):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True
