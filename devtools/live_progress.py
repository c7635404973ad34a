"""The demo's live session line: where the played day stands and how the jobs follow it.

While :func:`jobs.kafka_io.produce_bundle` plays the day, one line shows the simulated exchange
clock, the feed's events/s, the consumer lag of each job (records the job's group has not committed
yet) and the alerts raised so far::

    clock 10:42:17  701 events/s  42,118 of 84,112 sent  lag pre-aggregation 1,204, surveillance 310  alerts 17

On a terminal the line is redrawn in place (carriage return); otherwise it is written as a plain line
every few seconds, so a log stays readable. The Kafka readings (end offsets, the groups' committed
offsets, new records on the ``alerts`` topic) come from :class:`LiveStatus`, a background thread
that asks at most once a second; the feed's progress callback only formats what it last saw, so
the producer's loop never waits on the broker.

:func:`records_behind` and :func:`live_line` are pure (tests/test_live_progress.py).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TextIO

from confluent_kafka import TopicPartition

from jobs.kafka_io import FeedProgress, end_offsets, group_offsets, new_consumer, offsets
from schemas.registry import ALERTS_TOPIC

log = logging.getLogger(__name__)

Offsets = Mapping[str, Mapping[int, int]]


def records_behind(
    ends: Offsets,
    committed: Mapping[tuple[str, int], int],
    starts: Offsets,
    topics: Iterable[str],
) -> int:
    """Records of ``topics`` up to ``ends`` that the group has not committed: per partition the end
    offset minus the group's committed offset, or minus where the job started reading (``starts``,
    0 when not given) while the group has committed nothing there yet. Never negative."""
    behind = 0
    for topic in topics:
        for partition, end in ends.get(topic, {}).items():
            done = committed.get((topic, partition), starts.get(topic, {}).get(partition, 0))
            behind += max(0, end - done)
    return behind


def clock_text(clock: datetime | None) -> str:
    """The simulated exchange time as HH:MM:SS (``--:--:--`` before the first event)."""
    return clock.strftime("%H:%M:%S") if clock is not None else "--:--:--"


def _count(value: int | None) -> str:
    return "?" if value is None else f"{value:,}"


def live_line(
    progress: FeedProgress,
    events_per_second: float,
    lags: Mapping[str, int | None],
    alerts: int | None,
) -> str:
    """The live line for one moment of the feed; ``lags`` by job name (None: not read yet), in the
    order given; ``alerts`` None until the first reading."""
    lag = ", ".join(f"{job} {_count(records)}" for job, records in lags.items())
    return (
        f"clock {clock_text(progress.clock)}  {events_per_second:,.0f} events/s  "
        f"{progress.sent:,} of {progress.total:,} sent  lag {lag or '-'}  alerts {_count(alerts)}"
    )


@dataclass(frozen=True)
class FollowedGroup:
    """A job's consumer group, the topics it reads and where it started reading them."""

    group: str
    topics: tuple[str, ...]
    starts: Mapping[str, Mapping[int, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class Reading:
    """What :class:`LiveStatus` saw last: records behind per job, alerts since it started."""

    lags: Mapping[str, int | None]
    alerts: int | None


class AlertCounter:
    """Counts the records that reach the ``alerts`` topic after it was made, read_committed (a
    transaction's commit markers take offsets too, so end offsets alone would overcount)."""

    def __init__(self, bootstrap: str) -> None:

        ends = end_offsets(bootstrap, [ALERTS_TOPIC])[ALERTS_TOPIC]
        self.consumer = new_consumer(bootstrap)
        self.consumer.assign([TopicPartition(ALERTS_TOPIC, p, o) for p, o in ends.items()])
        self.count = 0

    def poll(self, timeout: float = 0.2) -> int:
        """Count what has come since the last call; returns the count so far."""
        while True:
            messages = self.consumer.consume(10_000, timeout)
            self.count += sum(1 for m in messages if m.error() is None)
            if not any(m.error() is None for m in messages):
                return self.count

    def close(self) -> None:
        self.consumer.close()


class LiveStatus:
    """A background thread reading the jobs' lag and the alerts, at most once every ``every_s``."""

    def __init__(
        self, bootstrap: str, jobs: Mapping[str, FollowedGroup], every_s: float = 1.0
    ) -> None:
        self.bootstrap, self.jobs, self.every_s = bootstrap, dict(jobs), every_s
        self.reading = Reading({name: None for name in self.jobs}, None)
        self._alerts: AlertCounter | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="live-status", daemon=True)

    def start(self) -> LiveStatus:
        """Note where the alerts topic ends now (alerts are counted from here) and start reading."""
        self._alerts = AlertCounter(self.bootstrap)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def read_once(self, alerts: AlertCounter | None) -> Reading:
        """One reading of every job's lag and of the alerts (``None`` where it could not read)."""
        ends = offsets(self.bootstrap, "end")
        lags = {
            name: records_behind(
                ends, group_offsets(self.bootstrap, job.group), job.starts, job.topics
            )
            for name, job in self.jobs.items()
        }
        return Reading(lags, alerts.poll() if alerts is not None else None)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                began = time.monotonic()
                try:
                    self.reading = self.read_once(self._alerts)
                except Exception as exc:  # only the line depends on it: keep the last reading
                    log.debug("live status reading failed: %s", exc)
                self._stop.wait(max(0.0, self.every_s - (time.monotonic() - began)))
        finally:
            if self._alerts is not None:
                self._alerts.close()


class ProgressLine:
    """The feed's progress callback: the live line, in place on a terminal, else every ``every_s``."""

    def __init__(self, status: LiveStatus, out: TextIO, every_s: float = 5.0) -> None:
        self.status, self.out, self.every_s = status, out, every_s
        self.live = out.isatty()
        #: the last report of the feed (its clock is the simulated time of the last event sent)
        self.last: FeedProgress | None = None
        self._previous: FeedProgress | None = None
        self._written = -float("inf")
        self._width = 0

    def _rate(self, progress: FeedProgress) -> float:
        """Events/s since the previous report; the whole feed's average at the first and the last."""
        previous, self._previous = self._previous, progress
        done = progress.sent == progress.total
        if previous is None or done or progress.elapsed_s <= previous.elapsed_s:
            return progress.events_per_second
        return (progress.sent - previous.sent) / (progress.elapsed_s - previous.elapsed_s)

    def __call__(self, progress: FeedProgress) -> None:
        self.last, reading = progress, self.status.reading
        line = live_line(progress, self._rate(progress), reading.lags, reading.alerts)
        last = progress.sent == progress.total
        if self.live:
            self.out.write("\r" + line.ljust(self._width) + ("\n" if last else ""))
            self._width = len(line)
            self.out.flush()
        elif last or time.monotonic() - self._written >= self.every_s:
            self._written = time.monotonic()
            self.out.write(line + "\n")
            self.out.flush()


#: How long the demo's trading session takes to play (wall time), whatever the size of the day.
PLAY_SECONDS = 120.0


def play_rate(events: int, seconds: float = PLAY_SECONDS) -> float:
    """The events/s that plays ``events`` in about ``seconds`` (at least one event a second)."""
    return max(1.0, events / seconds)
