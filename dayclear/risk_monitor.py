"""The intraday risk monitor: follows the streaming pre-aggregation job's committed output and raises
risk alerts within seconds (ISSUE: intraday streaming, items 6 and 7).

Every ``--interval`` seconds it reads what is new in the day's aggregate topics (``read_committed``:
only what a completed checkpoint committed; it keeps its positions, so each cycle reads only the
new records), folds them to the last value per key, and runs :func:`settlement.risk.risk_alerts`
(the end of day's own rules at the last traded prices). Each (kind, account, subject) in breach is
raised once a day on the ``alerts`` topic with source ``risk``; on a restart the alerts already
raised are read back from the topic, so a crash neither loses nor repeats one.

    python -m dayclear.risk_monitor --bootstrap 127.0.0.1:19092 --day 2026-11-23 --bundle BUNDLE
"""

from __future__ import annotations

import argparse
import json
import signal
import time
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from jobs.stream_preaggregate import aggregate_topic
from schemas.registry import ALERTS_TOPIC, group_specs
from settlement.aggregates import Aggregates
from settlement.risk import risk_alerts
from settlement.tables import LINE, parse_text_frame

from .pipeline import load_inputs
from .stream_health import committed_alerts
from .stream_jobs import PREAGGREGATE_GROUP

LIMITS = Path(__file__).resolve().parent.parent / "deploy" / "risk_limits.json"


class FollowedAggregates:
    """The aggregate topics of one streaming run, folded incrementally (last value per key)."""

    def __init__(self, bootstrap: str, group: str, day: str) -> None:
        from kafka import KafkaConsumer, TopicPartition

        self.specs = {aggregate_topic(group, day, s.name): s for s in group_specs("aggregates")}
        self.rows: dict[str, dict[bytes, dict[str, Any]]] = {t: {} for t in self.specs}
        self.consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            isolation_level="read_committed",
            enable_auto_commit=False,
            group_id=None,
        )
        self.partitions = [TopicPartition(t, 0) for t in self.specs]
        self.consumer.assign(self.partitions)
        self.consumer.seek_to_beginning(*self.partitions)

    def catch_up(self, timeout: float = 30) -> int:
        """Read up to the topics' current last stable offsets; returns the records read."""
        ends = self.consumer.end_offsets(self.partitions)
        read, deadline = 0, time.monotonic() + timeout
        while any(self.consumer.position(tp) < ends[tp] for tp in self.partitions):
            for tp, records in self.consumer.poll(timeout_ms=200).items():
                table = self.rows[tp.topic]
                for record in records:
                    if record.value is None:
                        table.pop(record.key, None)
                    else:
                        table[record.key] = json.loads(record.value)
                read += len(records)
            if time.monotonic() > deadline:
                break
        return read

    def aggregates(self) -> Aggregates:
        tables = {}
        for topic, spec in self.specs.items():
            rows = list(self.rows[topic].values())
            text = pl.DataFrame(
                {
                    c: [None if r.get(c) is None else str(r[c]) for r in rows]
                    for c in spec.column_names
                },
                schema={c: pl.String for c in spec.column_names},
            ).with_row_index(LINE, offset=1)
            frame = parse_text_frame(text.with_columns(pl.col(LINE).cast(pl.Int64)), spec, topic)
            tables[spec.name.removeprefix("agg_")] = frame
        return Aggregates(**tables)

    def close(self) -> None:
        self.consumer.close()


def raised_before(bootstrap: str, day: str) -> set[tuple[str, str, str]]:
    """(kind, account, subject) of the risk alerts of ``day`` already on the alerts topic."""
    return {
        (a["kind"], a["account_id"], a["subject"])
        for a in committed_alerts(bootstrap, idle_ms=1500)
        if a.get("source") == "risk" and a.get("trading_day") == day
    }


def run(
    bootstrap: str,
    day: date,
    bundle: Path,
    group: str = PREAGGREGATE_GROUP,
    interval: float = 2.0,
    until: Path | None = None,
) -> None:
    from .kafka_io import producer

    inputs = load_inputs(bundle, day)
    limits = json.loads(LIMITS.read_text())
    followed = FollowedAggregates(bootstrap, group, day.isoformat())
    raised = raised_before(bootstrap, day.isoformat())
    sender = producer(bootstrap)
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    print(f"risk monitor for {day}: {len(raised)} alerts raised before", flush=True)
    try:
        while not stopping:
            last = until is not None and until.exists()  # one more cycle after the freeze
            if followed.catch_up():
                found = risk_alerts(
                    day,
                    inputs.reference,
                    inputs.opening,
                    followed.aggregates(),
                    limits["position_limits"],
                    limits["otr_min_messages"],
                )
                for alert in found.iter_rows(named=True):
                    key = (alert["kind"], alert["account_id"], alert["subject"])
                    if key in raised:
                        continue
                    now = time.strftime("%Y-%m-%dT%H:%M:%S")
                    value = {
                        **alert,
                        "source": "risk",
                        "trading_day": day.isoformat(),
                        "event_ts": now,
                    }
                    sender.send(ALERTS_TOPIC, key=alert["kind"], value=value)
                    sender.flush()  # on the topic before it counts as raised
                    raised.add(key)
                    print(f"raised {key}", flush=True)
            if last:
                break
            time.sleep(interval)
    finally:
        sender.close()
        followed.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--day", required=True, type=date.fromisoformat)
    parser.add_argument(
        "--bundle", type=Path, required=True, help="the day's reference and opening"
    )
    parser.add_argument("--group", default=PREAGGREGATE_GROUP, help="the streaming run to follow")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between cycles")
    parser.add_argument("--until", type=Path, help="stop after the cycle that sees this file")
    args = parser.parse_args(argv)
    run(args.bootstrap, args.day, args.bundle, args.group, args.interval, args.until)


if __name__ == "__main__":
    main()
