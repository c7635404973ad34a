"""The gate at the close, on the real broker and a Flink mini-cluster: malformed, invalid, unknown,
closed-day and duplicate records land in the dead letters with their reasons, the completeness proof
accounts for every offset, and the aggregates equal those of the clean day (nothing lost, nothing
counted twice)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pytest

from devtools.simulator import SimulationConfig, simulate
from driver.close import close_day, completeness, stage_for_gate
from edge.bundle import load_inputs
from jobs.kafka_io import offsets, produce_bundle, producer, read_values
from jobs.stream_jobs import start_preaggregation, stop
from jobs.stream_snapshot import freeze_snapshot
from tests.same_aggregates import assert_same_as_file_fed, assert_same_snapshots

if TYPE_CHECKING:
    from devtools.kafka_broker import Broker

pytestmark = pytest.mark.slow
DAY = date(2026, 11, 20)  # the Friday before the stream-day test's Monday: its close refuses these


def _send_raw(bootstrap: str, topic: str, key: str, value: bytes) -> None:
    sender = producer(bootstrap)
    sender.send(topic, key=key, value=value)
    sender.close()


def test_bad_records_go_to_the_dead_letters_and_the_proof_accounts_for_them(
    kafka: Broker, tmp_path: Path
) -> None:
    bundle, snapshot = tmp_path / "bundle", tmp_path / "snapshots" / DAY.isoformat()
    counts = simulate(
        SimulationConfig(day=DAY, accounts=200, members=10, trades=300, seed=5), bundle
    )
    start = offsets(kafka.bootstrap, "end")
    (tmp_path / "start.json").write_text(json.dumps(start))
    produce_bundle(bundle, kafka.bootstrap, DAY)
    trades = (bundle / "events" / "trades.csv").read_text().splitlines()
    header, first = trades[0].split(","), trades[1].split(",")
    duplicate = dict(zip(header, first, strict=True)) | {"seq": int(first[1]), "qty": int(first[6])}
    bad_qty = duplicate | {"seq": counts["trades"] + 1, "trade_id": "TBAD", "qty": 0}
    orders = (bundle / "events" / "orders.csv").read_text().splitlines()
    order = dict(zip(orders[0].split(","), orders[1].split(","), strict=True))
    unknown = order | {"seq": counts["orders"] + 1, "qty": 1, "account_id": "A999999"}
    unknown["price"] = unknown["price"] or None
    fractional = unknown | {
        "seq": counts["orders"] + 2,
        "account_id": order["account_id"],
        "qty": 1.5,
    }
    # the right text in the wrong JSON type: a number where the contract has a decimal string, a
    # string where it has an integer (jobs/wire.py writes what the contract says)
    numeric_price = fractional | {"seq": counts["orders"] + 3, "qty": 1, "price": 4000}
    text_seq = bad_qty | {"seq": str(counts["trades"] + 3), "trade_id": "TSTR", "qty": 1}
    move = (bundle / "events" / "fund_movements.csv").read_text().splitlines()
    late: dict[str, object] = dict(zip(move[0].split(","), move[1].split(","), strict=True))
    late |= {"seq": counts["fund_movements"] + 1, "trading_day": "2026-11-19"}
    huge = bad_qty | {"seq": counts["trades"] + 2, "trade_id": "THUGE", "qty": 1}
    huge["price"] = (
        "1" + "0" * 30
    )  # matches the pattern; a cast to DECIMAL(20, 6) would stop the job
    no_time = late | {"seq": counts["fund_movements"] + 2, "trading_day": DAY.isoformat()}
    no_time["ts"] = f"{DAY.isoformat()}T25:61:61.000000"  # the right shape, no time of day
    injected = [
        ("orders", "IF2612", b'{"seq": 1, "trading_day": '),
        ("orders", unknown["instrument_id"], json.dumps(unknown).encode()),
        ("orders", fractional["instrument_id"], json.dumps(fractional).encode()),
        ("trades", duplicate["instrument_id"], json.dumps(duplicate).encode()),
        ("trades", bad_qty["instrument_id"], json.dumps(bad_qty).encode()),
        ("trades", huge["instrument_id"], json.dumps(huge).encode()),
        ("orders", numeric_price["instrument_id"], json.dumps(numeric_price).encode()),
        ("trades", text_seq["instrument_id"], json.dumps(text_seq).encode()),
        ("orders", "IF2612", b""),  # an empty record
        ("fund_movements", no_time["account_id"], json.dumps(no_time).encode()),
        ("fund_movements", late["account_id"], json.dumps(late).encode()),
    ]
    for topic, key, value in injected:
        _send_raw(kafka.bootstrap, topic, str(key), value)

    record = close_day(bundle, DAY, kafka.bootstrap, snapshot)
    streamed = _streamed(kafka.bootstrap, bundle, tmp_path, start)

    assert record["complete"], record
    topics = cast(dict[str, dict[str, Any]], record["topics"])  # as driver.close.completeness
    assert topics["orders"]["dead_letter_reasons"] == {
        "malformed: not a JSON object": 2,
        "unknown account": 1,
        "missing or not a valid int": 1,  # a quantity of 1.5 lots is refused, not truncated
        "missing or not a JSON string (null allowed)": 1,
    }
    assert topics["trades"]["dead_letter_reasons"] == {
        "below 1": 1,
        "duplicate seq": 1,
        "does not fit DECIMAL(20, 6)": 1,
        "missing or not a JSON integer": 1,
    }
    assert topics["fund_movements"]["dead_letter_reasons"] == {
        "trading day is not the open day 2026-11-20 (closed or future day)": 1,
        "not a valid timestamp": 1,
    }
    for topic, n in counts.items():
        t = topics[topic]
        assert t["records_aggregated"] == n  # this test's topics hold only this day so far
        assert t["records_in_kafka"] == t["records_aggregated"] + t["dead_letters"]
        assert all(t["checks"].values()), (topic, t["checks"])

    # the admitted records are exactly the clean day: same aggregates as the file-fed job
    assert_same_as_file_fed(bundle, DAY, snapshot, tmp_path)

    # the streaming gate (the production path) refuses the same records for the same reasons
    stream_snapshot, stream_proof = streamed
    assert stream_proof["complete"], stream_proof
    stream_topics = stream_proof["topics"]
    assert isinstance(stream_topics, dict)
    for topic in counts:
        assert stream_topics[topic]["dead_letter_reasons"] == topics[topic]["dead_letter_reasons"]
        assert stream_topics[topic]["records_aggregated"] == counts[topic]
    assert_same_snapshots(stream_snapshot, snapshot)  # = the file-fed run's, asserted above

    # and the refused records are on the dead-letter topic, with reason, field and raw text
    letters = [json.loads(v) for v in read_values(kafka.bootstrap, "dead_letters")]
    ours = {
        (d["source_topic"], d["reason"], d["field"])
        for d in letters
        if d["raw"] in {v.decode() for _, _, v in injected}
    }
    assert ours == {
        ("orders", "malformed: not a JSON object", None),
        ("orders", "unknown account", "account_id"),
        ("orders", "missing or not a valid int", "qty"),
        ("trades", "duplicate seq", "seq"),
        ("trades", "below 1", "qty"),
        ("trades", "does not fit DECIMAL(20, 6)", "price"),
        ("orders", "missing or not a JSON string (null allowed)", "price"),
        ("trades", "missing or not a JSON integer", "seq"),
        ("fund_movements", "not a valid timestamp", "ts"),
        (
            "fund_movements",
            "trading day is not the open day 2026-11-20 (closed or future day)",
            "trading_day",
        ),
    }


def _streamed(
    bootstrap: str, bundle: Path, root: Path, start: dict[str, dict[int, int]]
) -> tuple[Path, dict[str, object]]:
    """The streaming pre-aggregation over the same records (from ``start`` to the end offsets now),
    frozen at the close as production does: its snapshot and completeness proof."""
    staging, freeze = root / "stream" / "staging", root / "stream" / "freeze.json"
    stage_for_gate(bundle, DAY, staging, load_inputs(bundle, DAY))
    job = start_preaggregation(
        bootstrap,
        DAY.isoformat(),
        staging,
        freeze,
        root / "stream" / "checkpoints",
        root / "stream" / "job.log",
        group="preaggregate-dead-letters",
        start_offsets=root / "start.json",
        checkpoint_ms=500,
    )
    try:
        end = offsets(bootstrap, "end")
        freeze.write_text(json.dumps(end))
        assert job.wait(300) == 0, (root / "stream" / "job.log").read_text()[-4000:]
    finally:
        stop(job)
    snapshot = root / "stream" / "snapshot"
    freeze_snapshot(bootstrap, "preaggregate-dead-letters", DAY.isoformat(), snapshot)
    return snapshot, completeness(DAY, start, end, snapshot)
