"""Kafka at the edge, through one client for the whole project: confluent-kafka (librdkafka).

Why this client: ``docs/benchmarks.md`` "Feeding Kafka" (bench/feed.py) and ``docs/decisions.md``.

* Producing: :func:`new_producer` (idempotent, acks=all: a retried batch is never written twice;
  keys partitioned with the Java client's murmur2, so a key lands where Flink and kafka-python put
  it), :class:`Sender` (send/flush/close of JSON values, raising on any failed delivery) and
  :func:`produce_bundle`, the fast path that feeds a bundle's day in the exchange's order, as fast
  as it can or paced at a given events/s (wire encoding: :mod:`jobs.wire`).
* Reading: :func:`new_consumer` (read_committed by default, never commits unless given a group),
  :class:`TopicReader` (every partition from the beginning, or from given offsets, up to the last
  stable offsets),
  :func:`end_offsets`, :func:`beginning_offsets`, :func:`offsets` and :func:`group_offsets`.
* Administration: :func:`new_admin`, :func:`partition_counts` and :func:`create_topics`.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol

import polars as pl
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    IsolationLevel,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    NewTopic,
    OffsetSpec,
)

from edge.bundle import load_reference
from edge.event_chunks import check_events_in_chunks, csv_files, event_chunks
from edge.validate import read_events
from jobs.wire import day_feed, feed_in_chunks, piece, piece_of, piece_rows
from jobs.wire import wire_records as wire_records  # re-exported: the row-wise reference
from schemas.registry import EVENT_TOPICS
from settlement.model import Reference

log = logging.getLogger(__name__)

PRODUCER_SETTINGS: dict[str, Any] = {
    "enable.idempotence": True,  # exactly once per producer session; implies acks=all
    "acks": "all",
    "partitioner": "murmur2_random",  # the Java client's key -> partition (librdkafka's is CRC32)
    "linger.ms": 10,
    "batch.size": 1_000_000,
    "queue.buffering.max.messages": 1_000_000,
    "queue.buffering.max.kbytes": 1_048_576,
    "delivery.report.only.error": True,  # no report per delivered record: failures only
    "compression.type": "lz4",  # half the broker's CPU per event on a 2-core machine it shares
}
FLUSH_TIMEOUT_S = 120.0


class KafkaDeliveryError(RuntimeError):
    """Records the broker did not take (after librdkafka's own retries), or still queued."""


class Produces(Protocol):
    """The part of a confluent-kafka ``Producer`` the feed uses (a fake in the tests)."""

    def produce(
        self, topic: str, value: str | bytes | None = ..., key: str | bytes | None = ...
    ) -> None: ...

    def poll(self, timeout: float = ...) -> int: ...

    def flush(self, timeout: float = ...) -> int: ...


def _log_settings() -> dict[str, Any]:
    return {"logger": logging.getLogger("confluent_kafka")}


def new_producer(bootstrap: str, **settings: Any) -> Producer:
    """An idempotent acks=all producer; ``settings`` (librdkafka names, e.g. ``compression.type``,
    ``on_delivery``) add to or override :data:`PRODUCER_SETTINGS`."""
    return Producer(
        {"bootstrap.servers": bootstrap, **PRODUCER_SETTINGS, **_log_settings(), **settings}
    )


def _failed(errors: list[str], what: str) -> KafkaDeliveryError:
    shown = "; ".join(errors[:5]) + (f"; ... and {len(errors) - 5} more" if len(errors) > 5 else "")
    return KafkaDeliveryError(f"{len(errors)} {what} not delivered: {shown}")


def finish(producer: Produces, errors: list[str], timeout: float = FLUSH_TIMEOUT_S) -> None:
    """Wait for every queued record; raise :class:`KafkaDeliveryError` if any was not delivered."""
    left = producer.flush(timeout)
    if left:
        errors = [*errors, f"{left} still queued after {timeout:.0f} s"]
    if errors:
        raise _failed(errors, "record(s)")


class Sender:
    """A producer with the send/flush/close shape: values are bytes, text or JSON-able objects
    (encoded compactly), keys text; :meth:`flush` raises if any record was not delivered."""

    def __init__(self, bootstrap: str, **settings: Any) -> None:
        self.errors: list[str] = []
        self.producer = new_producer(bootstrap, on_delivery=self._delivered, **settings)

    def _delivered(self, error: KafkaError | None, message: Message) -> None:
        if error is not None:
            self.errors.append(f"{message.topic()}[{message.partition()}]: {error.str()}")

    def send(self, topic: str, value: Any = None, key: str | bytes | None = None) -> None:
        payload = (
            value
            if value is None or isinstance(value, bytes | str)
            else json.dumps(value, separators=(",", ":"))
        )
        _produce(self.producer, topic, payload, key)
        self.producer.poll(0)

    def flush(self, timeout: float = FLUSH_TIMEOUT_S) -> None:
        errors, self.errors = self.errors, []
        finish(self.producer, errors, timeout)

    def close(self) -> None:
        """Flush (raising if anything was not delivered), then release the client."""
        try:
            self.flush()
        finally:
            self.producer.close()


def producer(bootstrap: str) -> Sender:
    """The project's producer for a few records at a time (alerts, dead letters): a :class:`Sender`."""
    return Sender(bootstrap)


def _produce(producer: Produces, topic: str, value: Any, key: Any) -> None:
    while True:
        try:
            producer.produce(topic, value, key)
            return
        except BufferError:  # the local queue is full: let librdkafka send some first
            producer.poll(0.05)


# --- the feed ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FeedProgress:
    """Where a feed stands: ``clock`` is the ts of the last event sent (the simulated clock)."""

    clock: datetime | None
    sent: int
    total: int
    elapsed_s: float

    @property
    def events_per_second(self) -> float:
        return self.sent / self.elapsed_s if self.elapsed_s > 0 else 0.0


UNPACED_BATCH = 20_000
PACED_TICK_S = 0.01  # a paced feed sends a batch every 10 ms at most


def _send_batch(producer: Produces, batch: pl.DataFrame) -> None:
    """Produce a slice of the feed: values and keys handed over as bytes, the topic once per run
    of one topic (the hot loop: about a microsecond of Python per event)."""
    keys = batch["key"].cast(pl.Binary).to_list()
    values = batch["value"].cast(pl.Binary).to_list()
    produce, at = producer.produce, 0
    for n, topic in batch.select(pl.col("topic").cast(pl.String).rle()).unnest("topic").iter_rows():
        for key, value in zip(keys[at : at + n], values[at : at + n], strict=True):
            try:
                produce(topic, value, key)
            except BufferError:  # the local queue is full: let librdkafka send some first
                _produce(producer, topic, value, key)
        at += n
    producer.poll(0)


def send_feed(
    producer: Produces,
    feed: pl.DataFrame | Iterable[pl.DataFrame],
    *,
    total: int | None = None,
    rate: float | None = None,
    progress: Callable[[FeedProgress], None] | None = None,
    progress_every_s: float = 0.5,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, int]:
    """Send a feed (:func:`jobs.wire.day_feed`, or consecutive frames of one and their ``total``
    rows, :func:`jobs.wire.feed_in_chunks`) in its order; returns the records per topic.

    Unpaced (``rate`` None) it sends as fast as the producer takes them. Paced, batch ``i`` of the
    feed is due at ``start + first_event_of_batch / rate`` and waits for that instant, so a slow
    batch is caught up by the next ones instead of shifting the rest of the day (no drift). Every
    ``progress_every_s`` and at the end, ``progress`` gets a :class:`FeedProgress`. Delivery is
    confirmed (flush) before the last report; a record not delivered raises
    :class:`KafkaDeliveryError`."""
    if rate is not None and rate <= 0:
        raise ValueError(f"rate must be positive, not {rate}")
    frames: Iterable[pl.DataFrame]
    if isinstance(feed, pl.DataFrame):
        total, frames = feed.height, [feed]
    elif total is None:
        raise ValueError("a feed given as frames needs its total")
    else:
        frames = feed
    step = UNPACED_BATCH if rate is None else max(1, min(UNPACED_BATCH, int(rate * PACED_TICK_S)))
    start = clock()
    reported = start
    last_ts: datetime | None = None
    begin = 0
    counts = dict.fromkeys(EVENT_TOPICS, 0)
    for frame in frames:
        for n, topic_count in frame.group_by("topic").len().iter_rows():
            counts[str(n)] += topic_count
        for at in range(0, frame.height, step):
            batch = frame.slice(at, step)
            if rate is not None:
                wait = start + begin / rate - clock()
                if wait > 0:
                    sleep(wait)
            _send_batch(producer, batch)
            begin += batch.height
            last_ts = batch["ts"][-1]
            now = clock()
            if progress is not None and now - reported >= progress_every_s:
                progress(FeedProgress(last_ts, begin, total, now - start))
                reported = now
    left = producer.flush(FLUSH_TIMEOUT_S)
    if left:
        raise KafkaDeliveryError(f"{left} record(s) still queued after {FLUSH_TIMEOUT_S:.0f} s")
    if progress is not None:
        progress(FeedProgress(last_ts, total, total, clock() - start))
    return counts


def produce_bundle(
    bundle: Path,
    bootstrap: str,
    day: date,
    part: tuple[int, int] = (0, 1),
    *,
    rate: float | None = None,
    progress: Callable[[FeedProgress], None] | None = None,
) -> dict[str, int]:
    """Send a bundle's checked events to their topics, the three topics merged in ``ts`` order (ties
    by topic, then seq), unpaced or at ``rate`` events/s; returns the counts sent per topic.

    ``part`` ``(k, n)`` sends only the k-th of n consecutive slices of that merged feed (a day sent
    in pieces, each later in the day than the one before)."""
    reference = load_reference(bundle, day)
    frames, total = _checked_feed(bundle, reference, day, part)
    errors: list[str] = []

    def delivered(error: KafkaError | None, message: Message) -> None:
        errors.append(f"{message.topic()}[{message.partition()}]: {error}")

    sender = new_producer(bootstrap, on_delivery=delivered)
    counts = send_feed(sender, frames, total=total, rate=rate, progress=progress)
    if errors:
        raise _failed(errors, "event(s)")
    return counts


#: a day whose event files are larger than this is checked and fed a chunk at a time
#: (edge.event_chunks): it may be larger than memory
FEED_IN_MEMORY_BYTES = 512 * 1024 * 1024


def _checked_feed(
    bundle: Path, reference: Reference, day: date, part: tuple[int, int]
) -> tuple[Iterable[pl.DataFrame], int]:
    """The bundle's checked feed (its part ``part``) as frames, and their rows in all: the files
    read whole when they are small, else checked and read a chunk at a time (CSV files in ``seq``
    order; otherwise the whole files after all, with a warning)."""
    paths = csv_files(bundle)
    if paths is not None and sum(p.stat().st_size for p in paths.values()) > FEED_IN_MEMORY_BYTES:
        checked = check_events_in_chunks(paths, reference, day)
        if checked.in_seq_order:
            chunks = {t: event_chunks(paths[t], t) for t in EVENT_TOPICS}
            total = sum(checked.counts.values())
            return piece_of(feed_in_chunks(chunks), total, part), len(piece_rows(total, part))
        log.warning("%s: the event files are not in seq order; they are read whole", bundle)
    feed = piece(day_feed(read_events(bundle, reference, day)), part)
    return [feed], feed.height


# --- administration and offsets ------------------------------------------------------------------
def new_admin(bootstrap: str, **settings: Any) -> AdminClient:
    """An admin client; librdkafka's notices below warnings (e.g. on closing) left out."""
    return AdminClient({"bootstrap.servers": bootstrap, "log_level": 4, **settings})


def partition_counts(bootstrap: str, timeout: float = 10.0) -> dict[str, int]:
    """Every topic on the broker (internal ones left out) with its number of partitions."""
    return _partition_counts(new_admin(bootstrap), timeout)


def _partition_counts(admin: AdminClient, timeout: float = 10.0) -> dict[str, int]:
    metadata = admin.list_topics(timeout=timeout)
    return {
        name: len(topic.partitions)
        for name, topic in sorted(metadata.topics.items())
        if not name.startswith("__")
    }


def create_topics(
    bootstrap: str,
    partitions: Mapping[str, int],
    timeout: float = 30.0,
    replication: int = -1,
    config: Mapping[str, Mapping[str, str]] | None = None,
) -> list[str]:
    """Create the topics of ``partitions`` (name -> partition count) that do not exist yet; returns
    the names created. ``replication`` -1 takes the brokers' ``default.replication.factor`` (1 on the
    embedded broker, 3 on ``dayclear cluster``, where ``min.insync.replicas`` is 2). ``config``
    gives a topic its own settings (name -> Kafka topic configs)."""
    admin = new_admin(bootstrap)
    existing = _partition_counts(admin, timeout)
    new = [
        NewTopic(name, n, replication, config=dict((config or {}).get(name, {})))
        for name, n in partitions.items()
        if name not in existing
    ]
    if not new:
        return []
    created = []
    for name, future in admin.create_topics(new, request_timeout=timeout).items():
        try:
            future.result()
            created.append(name)
        except KafkaException as exc:  # made meanwhile by someone else: fine
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
    return created


READY_TIMEOUT_S = 30.0
_NOT_READY = {
    KafkaError.LEADER_NOT_AVAILABLE,
    KafkaError.NOT_LEADER_FOR_PARTITION,
    KafkaError.UNKNOWN_TOPIC_OR_PART,
    KafkaError.COORDINATOR_NOT_AVAILABLE,
    KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
    KafkaError.NOT_COORDINATOR,
}


def _not_ready(exc: KafkaException) -> bool:
    """A fresh broker or topic still settling: leaders, coordinators (worth asking again)."""
    error = exc.args[0] if exc.args else None
    return isinstance(error, KafkaError) and (error.code() in _NOT_READY or error.retriable())


def _list_offsets(
    bootstrap: str, topics: Iterable[str], spec: OffsetSpec, level: IsolationLevel
) -> dict[str, dict[int, int]]:
    topics = list(topics)
    admin = new_admin(bootstrap)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while missing := [t for t in topics if t not in (counts := _partition_counts(admin))]:
        if time.monotonic() > deadline:  # waited for a job that creates its topics as it starts
            raise KeyError(f"no such topic(s) on {bootstrap}: {', '.join(missing)}")
        time.sleep(0.5)
    wanted = {TopicPartition(t, p): spec for t in topics for p in range(counts[t])}
    while True:
        found = admin.list_offsets(wanted, isolation_level=level)
        try:
            result: dict[str, dict[int, int]] = {t: {} for t in topics}
            for tp, future in found.items():
                result[tp.topic][tp.partition] = int(future.result().offset)
            invalid = [
                f"{t}[{p}]" for t, parts in result.items() for p, o in parts.items() if o < 0
            ]
            if not invalid:
                return {t: dict(sorted(parts.items())) for t, parts in result.items()}
            # a partition whose leader just died answers OFFSET_INVALID (-1001) until a new one leads
            if time.monotonic() > deadline:
                raise KafkaException(
                    KafkaError(KafkaError.LEADER_NOT_AVAILABLE, f"no offsets for {invalid}")
                )
            time.sleep(0.2)
        except KafkaException as exc:  # a topic just created has no leader for a moment
            if not _not_ready(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def end_offsets(
    bootstrap: str, topics: Iterable[str], *, read_committed: bool = True
) -> dict[str, dict[int, int]]:
    """Per topic and partition, the offset after the last record a reader can see: the last stable
    offset (read_committed: no open transaction's records), else the high watermark."""
    level = IsolationLevel.READ_COMMITTED if read_committed else IsolationLevel.READ_UNCOMMITTED
    return _list_offsets(bootstrap, topics, OffsetSpec.latest(), level)  # type: ignore[no-untyped-call]


def beginning_offsets(bootstrap: str, topics: Iterable[str]) -> dict[str, dict[int, int]]:
    """Per topic and partition, the offset of the oldest record kept."""
    return _list_offsets(bootstrap, topics, OffsetSpec.earliest(), IsolationLevel.READ_UNCOMMITTED)  # type: ignore[no-untyped-call]


def offsets(bootstrap: str, which: str = "end") -> dict[str, dict[int, int]]:
    """Committed end (last stable) or beginning offsets of every partition of the event topics."""
    if which == "end":
        return end_offsets(bootstrap, EVENT_TOPICS)
    return beginning_offsets(bootstrap, EVENT_TOPICS)


def group_offsets(bootstrap: str, group: str, timeout: float = 30.0) -> dict[tuple[str, int], int]:
    """The group's committed offset per (topic, partition); none while it has never committed (a
    fresh broker has no offsets topic yet and answers "coordinator not available" for a while).

    Read by a consumer of the group that never subscribes (so never joins it) nor commits. Not by
    the admin client's ``list_consumer_group_offsets``: in librdkafka 2.16 that crashes the whole
    process (SIGSEGV in ``rd_kafka_cgrp_op`` on a group handle an admin client does not have) when
    the group's coordinator answers "not coordinator" (librdkafka issue 5040), which a busy or
    fresh broker does."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "enable.auto.commit": False,
            "log_level": 4,
        }
    )
    try:
        topics = consumer.list_topics(timeout=timeout).topics
        partitions = [
            TopicPartition(name, p)
            for name, meta in sorted(topics.items())
            if not name.startswith("__")
            for p in sorted(meta.partitions)
        ]
        if not partitions:
            return {}
        try:
            found = consumer.committed(partitions, timeout=timeout)
        except KafkaException as exc:
            if _not_ready(exc):
                return {}
            raise
    finally:
        consumer.close()
    return {(tp.topic, tp.partition): tp.offset for tp in found if tp.offset >= 0}


# --- consuming -----------------------------------------------------------------------------------
def new_consumer(
    bootstrap: str, group: str | None = None, *, read_committed: bool = True, **settings: Any
) -> Consumer:
    """A consumer that never commits offsets by itself. Without ``group`` it gets a throwaway group
    id (librdkafka wants one) and is meant for ``assign``; ``read_committed`` hides the records of
    open and aborted transactions. It reports reaching the end of a partition as a message whose
    ``error()`` is ``_PARTITION_EOF`` (skip messages with an error, or see :class:`TopicReader`)."""
    return Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group or f"dayclear-reader-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed" if read_committed else "read_uncommitted",
            "enable.partition.eof": True,
            **_log_settings(),
            **settings,
        }
    )


class TopicReader:
    """Every partition of ``topics`` read from its oldest record (or from ``start``, where given),
    keeping its positions: each :meth:`read` returns what is new up to the end offsets as they were
    when it was called."""

    def __init__(
        self,
        bootstrap: str,
        topics: Iterable[str],
        *,
        read_committed: bool = True,
        start: dict[tuple[str, int], int] | None = None,
    ):
        self.bootstrap, self.read_committed = bootstrap, read_committed
        self.topics = list(topics)
        oldest = beginning_offsets(bootstrap, self.topics)
        self.positions = {
            (t, p): max(o, (start or {}).get((t, p), o))
            for t, parts in oldest.items()
            for p, o in parts.items()
        }
        self.consumer = new_consumer(bootstrap, read_committed=read_committed)
        self.consumer.assign(
            [
                TopicPartition(t, p, o if (t, p) in (start or {}) else OFFSET_BEGINNING)
                for (t, p), o in self.positions.items()
            ]
        )

    def _ends(self) -> dict[tuple[str, int], int]:
        ends = end_offsets(self.bootstrap, self.topics, read_committed=self.read_committed)
        return {(t, p): o for t, parts in ends.items() for p, o in parts.items()}

    def read(self, idle_s: float = 30.0, limit: int | None = None) -> list[Message]:
        """The records up to the current end offsets, oldest first per partition; stops early if
        nothing comes for ``idle_s`` seconds while behind (see :meth:`behind`), or once ``limit``
        records are read."""
        ends = self._ends()
        found: list[Message] = []
        deadline = time.monotonic() + idle_s
        while (
            time.monotonic() < deadline
            and (limit is None or len(found) < limit)
            and any(self.positions[tp] < o for tp, o in ends.items())
        ):
            wanted = 10_000 if limit is None else min(10_000, limit - len(found))
            for message in self.consumer.consume(wanted, 0.2):
                error, offset = message.error(), message.offset() or 0
                where = (str(message.topic()), message.partition() or 0)
                if error is None:
                    found.append(message)
                    self.positions[where] = offset + 1
                    deadline = time.monotonic() + idle_s
                elif error.code() == KafkaError._PARTITION_EOF:  # past any transaction markers
                    self.positions[where] = max(self.positions[where], offset)
                else:
                    raise KafkaException(error)
        return found

    def behind(self) -> list[str]:
        """The partitions not read to their end offset, with where the reading stands."""
        return [
            f"{t}[{p}] at {self.positions[(t, p)]} of {o}"
            for (t, p), o in sorted(self._ends().items())
            if self.positions[(t, p)] < o
        ]

    def close(self) -> None:
        self.consumer.close()


def read_values(bootstrap: str, topic: str, idle_s: float = 10.0) -> list[bytes]:
    """The values of every record of ``topic`` a read_committed reader sees now, oldest first per
    partition (records without a value are left out)."""
    reader = TopicReader(bootstrap, [topic])
    try:
        return [v for m in reader.read(idle_s) if (v := m.value()) is not None]
    finally:
        reader.close()
