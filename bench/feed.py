"""Feeding Kafka: events/s of kafka-python and confluent-kafka side by side, on the same day, in one run.

1. a broker of its own (the embedded KRaft broker on 127.0.0.1, port 19692, state in a temporary
   folder), unless ``--bootstrap`` names one already running;
2. a day of a few million events, vectorised (bench/exchange_day.py: 20 order messages per trade),
   written as a bundle and read back through the checked parse step (``read_events``), as
   ``dayclear produce`` reads it;
3. the wire encoding, column-wise (``jobs.wire.day_feed``: every record's JSON text, the three
   topics merged in ts order), timed once: its cost per event is added to each client's send time;
4. each client sends that same feed, unpaced, idempotent with acks=all: confluent-kafka through the
   production path (``jobs.kafka_io.send_feed``) with compression none, lz4 and zstd;
   kafka-python with pre-encoded bytes, 1 MB batches, 20 ms linger and each codec it can use here,
   and ``as today`` (the former ``produce_bundle``: ``json.dumps`` per record, topic after topic).
   A kafka-python run stops after ``--max-seconds`` (a third of it for ``as today``): what it sent
   by then counts, flush included. Every run's records are counted back from the end offsets (each
   event exactly once: no loss, no duplicate);
5. the paced mode (``jobs.kafka_io.send_feed`` with ``rate``, the production settings) at
   ``--rate`` events/s for ``--paced-seconds``: the rate it kept and how far it ended from the
   schedule.

The machine may be shared: the load average is printed before and after, and every run's CPU
seconds per million events, of this process (librdkafka's threads included) and of the broker's JVM,
which other load moves less than wall time. kafka-python computes its record CRCs in pure Python
unless its ``crc32c`` extra is installed, and uses lz4 only with ``lz4``: for its best case,
``uv pip install crc32c lz4`` into .venv first (the table says which CRC it used; ``make env``
removes them again).

    .venv/bin/python bench/feed.py [--trades 150000] [--accounts 20000] [--max-seconds 30]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from exchange_day import ExchangeDay, generate

from schemas.registry import EVENT_TOPICS, topic_spec

log = logging.getLogger("bench.feed")
DAY = date(2026, 11, 23)


@dataclass(frozen=True)
class Run:
    client: str
    settings: str
    sent: int
    send_s: float
    cpu_s: float  # this process, librdkafka's threads included
    broker_cpu_s: float | None  # the broker's JVM, when it is ours


def _bundle(work: Path, accounts: int, trades: int) -> Path:
    """Generate the day; its events as ``events/<topic>.csv`` of a bundle."""
    bundle, staging = work / "bundle", work / "staging"
    counts = generate(ExchangeDay(DAY, accounts, trades), bundle, staging)
    for topic in EVENT_TOPICS:
        names = topic_spec(topic).column_names
        parts = sorted((staging / f"{topic}.csv").glob("part-*.csv"))
        frame = pl.concat(
            pl.read_csv(p, has_header=False, new_columns=names, infer_schema=False) for p in parts
        )
        (bundle / "events").mkdir(parents=True, exist_ok=True)
        frame.write_csv(bundle / "events" / f"{topic}.csv", null_value="")
    shutil.rmtree(staging)
    log.info("generated %s", counts)
    return bundle


def _records(bootstrap: str) -> int:
    from jobs.kafka_io import end_offsets

    return sum(sum(p.values()) for p in end_offsets(bootstrap, EVENT_TOPICS).values())


def _cpu_s(pid: int | None) -> float:
    """CPU seconds (user + system) of a process so far."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _timed(
    bootstrap: str, broker_pid: int | None, client: str, settings: str, send: Callable[[], int]
) -> Run:
    """One client run; its records are counted back from the end offsets (exactly once each)."""
    before = _records(bootstrap)
    wall, cpu, broker = time.perf_counter(), time.process_time(), _cpu_s(broker_pid)
    sent = send()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    broker_cpu = _cpu_s(broker_pid) - broker if broker_pid else None
    counted = _records(bootstrap) - before
    log.info(
        "%s (%s): %s events in %.1f s, %s events/s, CPU s per million: %.1f here, %s broker",
        client,
        settings,
        f"{sent:,}",
        wall,
        f"{sent / wall:,.0f}",
        cpu / sent * 1e6,
        "-" if broker_cpu is None else f"{broker_cpu / sent * 1e6:.1f}",
    )
    if counted != sent:
        raise RuntimeError(f"{client} ({settings}): sent {sent:,}, the topics grew by {counted:,}")
    return Run(client, settings, sent, wall, cpu, broker_cpu)


def kafka_python_as_today(bootstrap: str, events: dict[str, pl.DataFrame], limit_s: float) -> int:
    """The former produce_bundle: json.dumps per record, topic after topic (stopped at limit_s)."""
    from kafka import KafkaProducer

    from jobs.kafka_io import wire_records

    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=20,
        batch_size=256 * 1024,
        key_serializer=str.encode,
        value_serializer=lambda v: json.dumps(v, separators=(",", ":")).encode(),
    )
    for topic in EVENT_TOPICS:  # metadata first, as the former code's first send waited for it
        producer.partitions_for(topic)
    deadline, n = time.perf_counter() + limit_s, 0
    for topic in EVENT_TOPICS:
        key = topic_spec(topic).key
        for record in wire_records(events[topic].sort("seq"), topic):
            producer.send(topic, key=record[key], value=record)
            n += 1
            if n % 100 == 0 and time.perf_counter() > deadline:
                break
        else:
            continue
        break
    producer.flush()
    producer.close()
    return n


def kafka_python_tuned(bootstrap: str, feed: pl.DataFrame, limit_s: float, **settings: Any) -> int:
    """kafka-python on the pre-encoded feed: bytes in, large batches, linger (stopped at limit_s)."""
    from kafka import KafkaProducer

    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=20,
        batch_size=1_000_000,
        **settings,
    )
    for topic in EVENT_TOPICS:
        producer.partitions_for(topic)
    deadline, n = time.perf_counter() + limit_s, 0
    for begin in range(0, feed.height, 5_000):
        batch = feed.slice(begin, 5_000)
        topics = batch["topic"].cast(pl.String).to_list()
        keys = batch["key"].cast(pl.Binary).to_list()
        values = batch["value"].cast(pl.Binary).to_list()
        for topic, key, value in zip(topics, keys, values, strict=True):
            producer.send(topic, key=key, value=value)
        n += batch.height
        if time.perf_counter() > deadline:
            break
    producer.flush()
    producer.close()
    return n


def confluent(bootstrap: str, feed: pl.DataFrame, **settings: Any) -> int:
    """The production path: ``send_feed`` through ``new_producer``, the whole feed."""
    from jobs.kafka_io import new_producer, send_feed

    return sum(send_feed(new_producer(bootstrap, **settings), feed).values())


def paced(bootstrap: str, feed: pl.DataFrame, rate: float) -> dict[str, float]:
    """``send_feed`` at ``rate`` with the production settings, its progress logged every 2 s."""
    from jobs.kafka_io import FeedProgress, new_producer, send_feed

    def seen(p: FeedProgress) -> None:
        log.info(
            "  paced: clock %s, %s of %s sent, %s events/s",
            p.clock,
            f"{p.sent:,}",
            f"{p.total:,}",
            f"{p.events_per_second:,.0f}",
        )

    started = time.perf_counter()
    send_feed(new_producer(bootstrap), feed, rate=rate, progress=seen, progress_every_s=2)
    took = time.perf_counter() - started
    return {"events": feed.height, "seconds": took, "rate": feed.height / took}


def kafka_python_runs(
    bootstrap: str, pid: int | None, events: dict[str, pl.DataFrame], feed: pl.DataFrame, cap: float
) -> list[Run]:
    """As today, then tuned with every codec kafka-python can use here (none if not installed)."""
    try:
        from kafka import __version__ as version
        from kafka.codec import has_lz4, has_zstd
        from kafka.record.util import crc32c_c
    except ImportError:
        log.info(
            "kafka-python is not installed: `uv pip install kafka-python crc32c lz4` to compare"
        )
        return []
    client, crc = f"kafka-python {version}", "C crc32c" if crc32c_c else "pure-Python crc32c"
    runs = [
        _timed(
            bootstrap,
            pid,
            f"{client} as today",
            f"json.dumps per record, 256 KiB batches, {crc}",
            lambda: kafka_python_as_today(bootstrap, events, cap / 3),
        )
    ]
    for codec, usable in {"none": True, "lz4": has_lz4(), "zstd": has_zstd()}.items():
        settings = {} if codec == "none" else {"compression_type": codec}
        if usable:
            runs.append(
                _timed(
                    bootstrap,
                    pid,
                    f"{client} tuned",
                    f"encoded feed, 1 MB batches, linger 20 ms, {codec}, {crc}",
                    lambda s=settings: kafka_python_tuned(bootstrap, feed, cap, **s),  # type: ignore[misc]
                )
            )
    return runs


def confluent_runs(bootstrap: str, pid: int | None, feed: pl.DataFrame) -> list[Run]:
    from confluent_kafka import libversion, version

    client = f"confluent-kafka {version()} (librdkafka {libversion()[0]})"
    return [
        _timed(
            bootstrap,
            pid,
            client,
            f"send_feed, 1 MB batches, linger 10 ms, {codec}",
            lambda c=codec: confluent(bootstrap, feed, **{"compression.type": c}),  # type: ignore[misc]
        )
        for codec in ("none", "lz4", "zstd")
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--trades", type=int, default=150_000)
    parser.add_argument("--max-seconds", type=float, default=30, help="per kafka-python run")
    parser.add_argument("--rate", type=float, default=200_000, help="of the paced run")
    parser.add_argument("--paced-seconds", type=float, default=10)
    parser.add_argument("--bootstrap", help="a running broker (default: one of its own)")
    parser.add_argument("--port", type=int, default=19692)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    logging.getLogger("kafka").setLevel(logging.ERROR)  # kafka-python's INFO is per connection
    work = Path(tempfile.mkdtemp(prefix="dayclear-feed-bench-"))
    os.environ["DAYCLEAR_STATE"] = str(work / "state")
    os.environ["DAYCLEAR_KAFKA_PORT"] = str(args.port)
    from devtools import kafka_broker
    from edge.bundle import load_reference
    from edge.validate import read_events
    from jobs.wire import day_feed

    broker = None
    try:
        if args.bootstrap is None:
            broker = kafka_broker.start()
            kafka_broker.create_topics(broker.bootstrap)
        bootstrap, pid = (
            (args.bootstrap, None) if broker is None else (broker.bootstrap, broker.pid)
        )
        bundle = _bundle(work, args.accounts, args.trades)
        started = time.perf_counter()
        events = read_events(bundle, load_reference(bundle, DAY), DAY)
        log.info("read and checked the bundle in %.1f s", time.perf_counter() - started)
        wall, cpu = time.perf_counter(), time.process_time()
        feed = day_feed(events)
        encode_s, encode_cpu = time.perf_counter() - wall, time.process_time() - cpu
        total = feed.height
        log.info(
            "encoded %s events (JSON text, ts order) in %.2f s: %s events/s, %.2f CPU s per million",
            f"{total:,}",
            encode_s,
            f"{total / encode_s:,.0f}",
            encode_cpu / total * 1e6,
        )
        load = os.getloadavg()
        runs = kafka_python_runs(bootstrap, pid, events, feed, args.max_seconds)
        runs += confluent_runs(bootstrap, pid, feed)
        pace = paced(
            bootstrap, feed.head(min(total, int(args.rate * args.paced_seconds))), args.rate
        )
        after = os.getloadavg()
    except BaseException:
        log.error("kept %s (the broker's log is in state/kafka/)", work)
        if broker is not None:
            kafka_broker.stop()
        raise
    if broker is not None:
        kafka_broker.stop()
    shutil.rmtree(work, ignore_errors=True)
    report(runs, events, total, (encode_s, encode_cpu), (load, after), pace, args.rate)


def report(
    runs: list[Run],
    events: dict[str, pl.DataFrame],
    total: int,
    encoding: tuple[float, float],
    load: tuple[tuple[float, ...], tuple[float, ...]],
    pace: dict[str, float],
    rate: float,
) -> None:
    """The Markdown table of docs/benchmarks.md "Feeding Kafka", and the paced run."""
    (encode_s, encode_cpu), (before, after) = encoding, load
    log.info("")
    log.info(
        "%s events (%s); encoding %.2f s (%s events/s, %.2f CPU s per million); "
        "load average %.1f before the runs, %.1f after",
        f"{total:,}",
        ", ".join(f"{t} {events[t].height:,}" for t in EVENT_TOPICS),
        encode_s,
        f"{total / encode_s:,.0f}",
        encode_cpu / total * 1e6,
        before[0],
        after[0],
    )
    log.info("")
    log.info(
        "| client | settings | events sent | send s | events/s | events/s with encoding "
        "| CPU s per million events (producer / broker) |"
    )
    log.info("|---|---|---:|---:|---:|---:|---:|")
    for r in runs:
        share = 0.0 if "as today" in r.client else encode_s * r.sent / total  # today's is inside
        broker = "-" if r.broker_cpu_s is None else f"{r.broker_cpu_s / r.sent * 1e6:.1f}"
        log.info(
            "| %s | %s | %s | %.1f | %s | %s | %.1f / %s |",
            r.client,
            r.settings,
            f"{r.sent:,}",
            r.send_s,
            f"{r.sent / r.send_s:,.0f}",
            f"{r.sent / (r.send_s + share):,.0f}",
            r.cpu_s / r.sent * 1e6,
            broker,
        )
    log.info("")
    log.info(
        "paced at %s events/s (production settings): %s events in %.2f s = %s events/s "
        "(schedule %.2f s)",
        f"{rate:,.0f}",
        f"{pace['events']:,.0f}",
        pace["seconds"],
        f"{pace['rate']:,.0f}",
        pace["events"] / rate,
    )


if __name__ == "__main__":
    main()
