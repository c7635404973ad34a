"""Throughput and alert latency of the continuously running job (jobs/surveillance.py) on this machine.

1. a broker of its own (the embedded KRaft broker on port 19292, state in a temporary folder);
2. a simulated day (the realistic mix: 20 order messages per trade) produced to ``orders`` and
   ``trades`` before the job starts, so the job meets a backlog;
3. the job (streaming mode, checkpoints every second, exactly-once Kafka sink) from the earliest offset:
   its consumer group's committed offsets, read every 0.5 s, give the sustained events/s (from the first
   commit to the last record; the job's start-up is not counted);
4. then self-trades sent one at a time, 10 a second: the time from send to the alert being visible to a
   ``read_committed`` consumer gives the alert latency p50/p99 (it includes the checkpoint interval,
   which is when the transactional sink commits);
5. where the time goes: the same backlog read again by a job that does nothing but read it into a
   blackhole (bench/read_ceiling.py), first as raw text, then decoded as the job decodes it (JSON).

    .venv/bin/python bench/stream_throughput.py [--trades 50000] [--samples 100] [--checkpoint-ms 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DAY = date(2026, 11, 23)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--trades", type=int, default=50_000)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--checkpoint-ms", type=int, default=1000)
    parser.add_argument("--parallelism", type=int, default=1)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dayclear-stream-bench-"))
    os.environ["DAYCLEAR_STATE"] = str(work)
    os.environ["DAYCLEAR_KAFKA_PORT"] = "19292"
    from devtools import kafka_broker
    from devtools.simulator import SimulationConfig, simulate
    from jobs.kafka_io import produce_bundle, producer
    from jobs.stream_jobs import start_surveillance, stop, wait_caught_up

    broker = kafka_broker.start()
    kafka_broker.create_topics(broker.bootstrap)
    job = None
    try:
        counts = simulate(
            SimulationConfig(day=DAY, accounts=args.accounts, trades=args.trades), work / "bundle"
        )
        started = time.perf_counter()
        produce_bundle(work / "bundle", broker.bootstrap, DAY)
        events = counts["orders"] + counts["trades"]
        produce_s = time.perf_counter() - started
        print(f"produced {events:,} events ({counts}) in {produce_s:.1f} s", flush=True)

        group = "bench-surveillance"
        job = start_surveillance(
            broker.bootstrap,
            DAY.isoformat(),
            work / "checkpoints",
            work / "job.log",
            group=group,
            cancel_threshold=1_000_000_000,
            checkpoint_ms=args.checkpoint_ms,
            parallelism=args.parallelism,
        )
        launched = time.perf_counter()
        readings = wait_caught_up(broker.bootstrap, group, ("orders", "trades"), events, job, 1800)
        (t0, n0), (t1, n1) = readings[0], readings[-1]
        rate = (n1 - n0) / (t1 - t0) if t1 > t0 else float("nan")
        print(
            f"backlog of {events:,} events: first commit {t0 - launched:.1f} s after launch, "
            f"sustained {rate:,.0f} events/s over {n1 - n0:,} events ({t1 - t0:.1f} s)",
            flush=True,
        )

        latencies = alert_latencies(broker.bootstrap, args.samples, producer)
        q = statistics.quantiles(latencies, n=100)
        print(
            f"alert latency over {len(latencies)} self-trades: p50 {q[49] * 1000:.0f} ms, "
            f"p99 {q[98] * 1000:.0f} ms (checkpoint interval {args.checkpoint_ms} ms)"
        )
        print(
            f"| {events:,} | {args.parallelism} | {args.checkpoint_ms} | {rate:,.0f} "
            f"| {q[49] * 1000:.0f} | {q[98] * 1000:.0f} |"
        )
        stop(job)
        job = None
        for decode in ("raw", "json"):  # where the time goes: the same backlog, less work
            ceiling = read_ceiling(broker.bootstrap, decode, work, args.checkpoint_ms)
            try:
                found = wait_caught_up(
                    broker.bootstrap, f"bench-{decode}", ("orders", "trades"), events, ceiling, 1800
                )
            finally:
                stop(ceiling)
            (c0, m0), (c1, m1) = found[0], found[-1]
            print(
                f"reading only ({decode}): {(m1 - m0) / (c1 - c0):,.0f} events/s over {m1 - m0:,} "
                "events",
                flush=True,
            )
    finally:
        if job is not None:
            stop(job)
        kafka_broker.stop()


def read_ceiling(bootstrap: str, decode: str, work: Path, checkpoint_ms: int):  # type: ignore[no-untyped-def]
    import subprocess

    from dayclear.config import ROOT, flink_env

    args = ["--bootstrap", bootstrap, "--group", f"bench-{decode}", "--decode", decode]
    args += ["--checkpoints", str(work / f"ck-{decode}"), "--checkpoint-ms", str(checkpoint_ms)]
    with (work / f"read-{decode}.log").open("w") as log:
        return subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "read_ceiling.py"), *args],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=flink_env(),
        )


def alert_latencies(bootstrap: str, samples: int, producer) -> list[float]:  # type: ignore[no-untyped-def]
    from confluent_kafka import TopicPartition

    from jobs.kafka_io import end_offsets, new_consumer

    sent: dict[str, float] = {}
    seen: dict[str, float] = {}
    consumer = new_consumer(bootstrap)  # read_committed
    ends = end_offsets(bootstrap, ["alerts"], read_committed=False)["alerts"]
    consumer.assign([TopicPartition("alerts", p, o) for p, o in ends.items()])  # from now on
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            for message in consumer.consume(1000, 0.5):
                if message.error() is None:
                    alert = json.loads(message.value() or b"{}")
                    seen.setdefault(str(alert.get("subject")), time.perf_counter())

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    sender = producer(bootstrap)
    for n in range(samples):
        trade_id = f"TLAT{n:05d}"
        record = {
            "trading_day": DAY.isoformat(), "seq": 10_000_000 + n,
            "ts": f"{DAY.isoformat()}T14:00:00.000000", "trade_id": trade_id,
            "instrument_id": "IF2612", "price": "4000.0", "qty": 1,
            "buy_order_id": "OB", "buy_account_id": "A000001", "buy_offset": "OPEN",
            "buy_hedge_flag": "SPEC", "sell_order_id": "OS", "sell_account_id": "A000001",
            "sell_offset": "OPEN", "sell_hedge_flag": "SPEC",
        }  # fmt: skip
        sent[trade_id] = time.perf_counter()
        sender.send("trades", key="IF2612", value=record)
        sender.flush()
        time.sleep(0.1)
    deadline = time.time() + 60
    while len(seen) < samples and time.time() < deadline:
        time.sleep(0.2)
    stop.set()
    watcher.join(5)
    sender.close()
    consumer.close()
    return [seen[t] - sent[t] for t in sent if t in seen]


if __name__ == "__main__":
    main()
