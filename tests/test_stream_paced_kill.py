"""A kill of the streaming job during a paced session loses nothing and duplicates nothing (the
live-session issue, item 6): the day is played into the real broker at a steady rate while the
session's pre-aggregation runs; part way, the job is SIGKILLed and the session restored from its
newest checkpoint, as an operator (or a restart strategy) would; the close then freezes the day from
the stream, and its aggregates equal the file-fed batch run's, table by table.

Slow (a paced day of 90 s plus two job starts): behind ``make chaos``."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from datetime import date
from pathlib import Path

import pytest

from devtools.simulator import SimulationConfig, simulate
from driver.session import open_session, read_session, stop_job
from driver.stream_close import close_from_stream
from jobs.kafka_io import offsets, produce_bundle
from jobs.stream_jobs import committed
from schemas.registry import EVENT_TOPICS
from tests.same_aggregates import assert_same_as_file_fed

pytestmark = [pytest.mark.slow, pytest.mark.chaos]
DAY = date(2026, 12, 1)
PLAY_S = 90  # how long the paced feed plays the day


def _wait(condition, what: str, timeout: float = 600) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.25)


def test_a_job_killed_mid_session_and_restored_settles_the_same_day(kafka, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bundle = tmp_path / "bundle"
    counts = simulate(
        SimulationConfig(day=DAY, accounts=300, members=15, trades=1200, seed=41), bundle
    )
    events = sum(counts.values())
    before = offsets(kafka.bootstrap, "end")
    session = open_session(
        DAY, bundle, kafka.bootstrap, snapshot=tmp_path / "snapshots" / "x", checkpoint_ms=1000
    )
    feed_error: list[BaseException] = []

    def play() -> None:
        try:
            produce_bundle(bundle, kafka.bootstrap, DAY, rate=events / PLAY_S)
        except BaseException as exc:  # reported by the test thread
            feed_error.append(exc)

    feed = threading.Thread(target=play, daemon=True)
    try:  # the day starts once the job runs, as the session opens before the first event
        log = session.paths.log
        _wait(lambda: log.exists() and "running as" in log.read_text(), "the job to run")
        feed.start()
        already = sum(before.get(t, {}).get(p, 0) for t in EVENT_TOPICS for p in before.get(t, {}))
        third = already + events // 3
        _wait(
            lambda: committed(kafka.bootstrap, session.group, EVENT_TOPICS) >= third,
            "a checkpoint past a third of the day",
        )
        assert feed.is_alive(), "the feed ended before the kill: play the day slower"
        os.kill(session.pid, signal.SIGKILL)  # mid-session, while the feed plays on
        _wait(lambda: session.job is not None and session.job.poll() is not None, "the kill")
        restored = open_session(DAY, bundle, kafka.bootstrap, restore=True, checkpoint_ms=1000)
        feed.join(600)
        assert not feed_error, feed_error
        snapshot = tmp_path / "snapshots" / DAY.isoformat()
        record = close_from_stream(DAY, bundle, kafka.bootstrap, snapshot)
    finally:
        if (current := read_session(DAY)) is not None:
            stop_job(current)

    assert restored.restores == 1
    text = restored.paths.log.read_text()
    assert text.count("restoring from file:") + text.count("restoring from /") == 1, text[-4000:]
    assert record["complete"], record
    topics = record["topics"]
    assert isinstance(topics, dict)
    for topic, n in counts.items():
        assert topics[topic]["records_aggregated"] == n, topic  # nothing lost, nothing twice
        # the broker may hold earlier tests' days: refused as closed days, never as repeats
        reasons = set(topics[topic]["dead_letter_reasons"])
        assert reasons <= {f"trading day is not the open day {DAY} (closed or future day)"}
    assert_same_as_file_fed(bundle, DAY, snapshot, tmp_path / "batch")
    assert json.loads((snapshot / "completeness.json").read_text())["complete"]
