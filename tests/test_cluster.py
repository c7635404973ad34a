"""``dayclear cluster``: the production topology, for real. Three KRaft brokers keep every partition
of the day's topics on three in-sync replicas; with one broker SIGKILLed, acks=all producing still
works (min.insync.replicas 2) and ``status`` says which broker is down; restarted, the cluster is
healthy again; ``down`` leaves no process behind.

Minutes of JVM starts on a shared 2-core machine: behind ``make chaos``. Ports:
DAYCLEAR_TEST_CLUSTER_KAFKA_PORT (29092: brokers +0..2, controllers +100..102),
DAYCLEAR_TEST_FLINK_REST (127.0.0.1:28081) and DAYCLEAR_TEST_CLUSTER_PORTAL_PORT (28300)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from devtools import cluster
from jobs.kafka_io import Sender, end_offsets

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.chaos


def _dayclear(
    env: dict[str, str], *args: str, timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dayclear.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=timeout,
    )


def _processes_of(state: Path) -> list[int]:
    """Every process whose command line names the cluster's state folder."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if str(state).encode() in cmdline and cluster.alive(int(entry.name)):
                found.append(int(entry.name))
    return found


def _until(what: str, ready, timeout: float = 120.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not ready():
        assert time.monotonic() < deadline, f"{what} not within {timeout:.0f} s"
        time.sleep(0.5)


def test_cluster_up_survives_a_broker_killed_and_comes_down_clean(tmp_path: Path) -> None:
    state = tmp_path / "state"
    env = {
        **os.environ,
        "DAYCLEAR_STATE": str(state),
        "DAYCLEAR_CLUSTER_KAFKA_PORT": os.environ.get("DAYCLEAR_TEST_CLUSTER_KAFKA_PORT", "29092"),
        "DAYCLEAR_FLINK_REST": os.environ.get("DAYCLEAR_TEST_FLINK_REST", "127.0.0.1:28081"),
        "DAYCLEAR_CLUSTER_PORTAL_PORT": os.environ.get(
            "DAYCLEAR_TEST_CLUSTER_PORTAL_PORT", "28300"
        ),
    }
    settings = cluster.Settings(
        state=state,
        kafka_port=int(env["DAYCLEAR_CLUSTER_KAFKA_PORT"]),
        rest_host=env["DAYCLEAR_FLINK_REST"].rpartition(":")[0],
        rest_port=int(env["DAYCLEAR_FLINK_REST"].rpartition(":")[2]),
        portal_port=int(env["DAYCLEAR_CLUSTER_PORTAL_PORT"]),
    )
    # Airflow and PostgreSQL have their own test (devtools/airflow_services.py)
    up = ["cluster", "up", "--without", "airflow"]
    try:
        started = _dayclear(env, *up)
        assert started.returncode == 0, started.stdout + started.stderr

        status = _dayclear(env, "cluster", "status")
        assert status.returncode == 0, status.stdout
        names = [line.split()[0] for line in status.stdout.splitlines()]
        assert names == [
            "kafka-1", "kafka-2", "kafka-3", "kafka-topics",
            "flink-jm", "flink-tm-1", "flink-tm-2", "portal",
        ]  # fmt: skip
        assert "2 TaskManagers" in status.stdout

        in_sync = cluster.partitions_in_sync(settings.bootstrap, ["trades"])["trades"]
        assert in_sync and all(replicas == isr == 3 for replicas, isr in in_sync)

        before = sum(end_offsets(settings.bootstrap, ["trades"])["trades"].values())

        # SIGKILL the broker that leads trades[0]
        from jobs.kafka_io import new_admin

        leader = new_admin(settings.bootstrap).list_topics("trades", timeout=10)
        node = leader.topics["trades"].partitions[0].leader
        victim = cluster.pid_of(settings, cluster.broker_name(node))
        assert victim is not None
        os.killpg(victim, signal.SIGKILL)
        _until("the broker gone", lambda: not cluster.alive(victim), 30)

        # acks=all still goes through on the two replicas left (min.insync.replicas 2)
        sender = Sender(settings.bootstrap, **{"message.timeout.ms": 120_000})
        for i in range(200):
            sender.send("trades", {"n": i}, key=f"k{i}")
        sender.close()  # raises if any record was not acknowledged by the in-sync replicas
        _until(  # the controller fences the broker (broker.session.timeout.ms) and shrinks the ISRs
            "the in-sync replicas down to 2",
            lambda: all(
                isr == 2
                for _, isr in cluster.partitions_in_sync(settings.bootstrap, ["trades"])["trades"]
            ),
        )
        after = end_offsets(settings.bootstrap, ["trades"])["trades"]  # from the new leaders
        assert sum(after.values()) - before == 200, after

        down = _dayclear(env, "cluster", "status")
        assert down.returncode != 0
        line = next(x for x in down.stdout.splitlines() if x.startswith(f"kafka-{node} "))
        assert "DOWN" in line and "not running" in line, down.stdout
        assert "kafka-topics     DOWN" in down.stdout

        # restart it: `up` again starts what is missing and waits for the replicas to catch up
        again = _dayclear(env, *up)
        assert again.returncode == 0, again.stdout + again.stderr
        healthy = _dayclear(env, "cluster", "status")
        assert healthy.returncode == 0, healthy.stdout
        assert all(
            replicas == isr == 3
            for replicas, isr in cluster.partitions_in_sync(settings.bootstrap, ["trades"])[
                "trades"
            ]
        )
    finally:
        stopped = _dayclear(env, "cluster", "down")
    assert stopped.returncode == 0, stopped.stderr
    assert _processes_of(state) == []
    assert not list((state / "cluster").glob("*.pid"))
