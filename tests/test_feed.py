"""The feed (jobs/wire.py, jobs/kafka_io.send_feed) without a broker: the column-wise wire
JSON parses to exactly the row-wise wire records, the day is merged in ts order, pieces cover it
once, and a paced feed keeps to wall time without drift (a fake clock and producer)."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import cast

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from devtools.simulator import SimulationConfig, simulate
from edge.bundle import load_reference
from edge.validate import read_events
from jobs.kafka_io import FeedProgress, send_feed
from jobs.wire import day_feed, encoded, piece, timestamp_text, wire_records
from schemas.registry import EVENT_TOPICS, topic_spec
from tests.feed_fakes import FakeClock, FakeProducer, late_stamped

DAY = date(2026, 11, 23)


@pytest.fixture(scope="module")
def events(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pl.DataFrame]:
    bundle = tmp_path_factory.mktemp("feed") / "bundle"
    simulate(SimulationConfig(day=DAY, accounts=60, members=5, trades=80, seed=3), bundle)
    return read_events(bundle, load_reference(bundle, DAY), DAY)


@pytest.mark.parametrize("topic", EVENT_TOPICS)
def test_encoded_json_parses_to_exactly_the_wire_records(
    events: dict[str, pl.DataFrame], topic: str
) -> None:
    rows = encoded(events[topic], topic)
    expected = list(wire_records(events[topic], topic))
    parsed = [json.loads(v) for v in rows["value"]]
    assert len(parsed) == len(expected) > 0
    for got, want in zip(parsed, expected, strict=True):
        assert list(got.items()) == list(want.items())  # same fields, same order, same values
        assert {k: type(v) for k, v in got.items()} == {k: type(v) for k, v in want.items()}
    assert rows["key"].to_list() == [r[topic_spec(topic).key] for r in expected]
    assert rows["topic"].cast(pl.String).unique().to_list() == [topic]


def test_a_market_order_has_a_null_price_on_the_wire(events: dict[str, pl.DataFrame]) -> None:
    values = [json.loads(v) for v in encoded(events["orders"], "orders")["value"]]
    market = [v for v in values if v["order_type"] == "MARKET" and v["side"] == "BUY"]
    assert market and all(v["price"] is None for v in market)
    assert all(isinstance(v["seq"], int) and isinstance(v["qty"], int) for v in values)
    assert all(isinstance(v["price"], str) for v in values if v["order_type"] != "MARKET")


@given(st.lists(st.datetimes(datetime(1900, 1, 1), datetime(2200, 1, 1)) | st.none(), max_size=30))
def test_timestamp_text_is_the_write_steps_text(stamps: list[datetime | None]) -> None:
    values = pl.Series("ts", stamps, dtype=pl.Datetime("us"))
    assert timestamp_text(values).to_list() == (
        values.dt.strftime("%Y-%m-%dT%H:%M:%S%.6f").to_list()
    )


def test_the_day_is_one_feed_in_ts_order_then_topic_then_seq(
    events: dict[str, pl.DataFrame],
) -> None:
    feed = day_feed(events)
    assert feed.height == sum(f.height for f in events.values())
    rank = {t: n for n, t in enumerate(EVENT_TOPICS)}
    keys = [(ts, rank[t], s) for ts, t, s in feed.select("ts", "topic", "seq").iter_rows()]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    assert set(feed["topic"].cast(pl.String)) == set(EVENT_TOPICS)  # interleaved, all three
    for topic in EVENT_TOPICS:  # each topic keeps its seq order
        seqs = feed.filter(pl.col("topic") == topic)["seq"]
        assert seqs.to_list() == sorted(seqs.to_list())


def test_a_late_timestamp_does_not_reorder_its_topic(events: dict[str, pl.DataFrame]) -> None:
    """Orders 1..3 at 09:30:00, :02, :01 (the third from a slower gateway), a trade at :01.5: the
    orders stay in seq order, the trade goes before the order that was stamped later than it."""
    orders, trades = late_stamped(events)
    feed = day_feed({"orders": orders, "trades": trades})
    assert list(feed.select(pl.col("topic").cast(pl.String), "seq").iter_rows()) == [
        ("orders", 1),
        ("trades", 1),
        ("orders", 2),
        ("orders", 3),
    ]


def test_pieces_cover_the_day_once_each_later_than_the_last(
    events: dict[str, pl.DataFrame],
) -> None:
    feed = day_feed(events)
    pieces = [piece(feed, (k, 3)) for k in range(3)]
    assert pl.concat(pieces).equals(feed)
    # ts is a Datetime column (schemas: timestamp)
    assert all(
        cast(datetime, a["ts"].max()) <= cast(datetime, b["ts"].min()) for a, b in pairwise(pieces)
    )
    with pytest.raises(ValueError):
        piece(feed, (3, 3))


def _feed(n: int) -> pl.DataFrame:
    start = datetime(2026, 11, 23, 9, 30)
    return pl.DataFrame(
        {
            "ts": [start + timedelta(milliseconds=i) for i in range(n)],
            "topic": pl.Series(["orders", "trades"] * (n // 2), dtype=pl.Enum(list(EVENT_TOPICS))),
            "seq": list(range(1, n + 1)),
            "key": [f"K{i % 7}" for i in range(n)],
            "value": [f'{{"n":{i}}}' for i in range(n)],
        }
    )


def test_unpaced_feed_sends_every_event_in_feed_order() -> None:
    clock, feed = FakeClock(), _feed(50_000)
    producer = FakeProducer(clock, 0.0)
    counts = send_feed(producer, feed, clock=clock, sleep=clock.sleep)
    assert counts == {"orders": 25_000, "trades": 25_000, "fund_movements": 0}
    assert [(t, k, v) for _, t, k, v in producer.sent] == list(
        feed.select(
            pl.col("topic").cast(pl.String), pl.col("key", "value").cast(pl.Binary)
        ).iter_rows()
    )


def test_paced_feed_keeps_to_wall_time_without_drift() -> None:
    """1,000 events/s for 3 s, in batches of 10 ms: each event costs 0.1 ms and the 500th stalls
    200 ms. No batch starts before its due time, the batches after the stall catch up instead of
    shifting the rest of the day, and the feed ends on schedule."""
    clock, feed, rate = FakeClock(), _feed(3_000), 1_000.0
    producer = FakeProducer(clock, cost_s=0.0001, slow=500, stall_s=0.2)
    reports: list[FeedProgress] = []
    start = clock.now
    send_feed(producer, feed, rate=rate, progress=reports.append, clock=clock, sleep=clock.sleep)
    sent_at = [at - start for at, *_ in producer.sent]
    lateness = [sent_at[n] - n / rate for n in range(0, len(sent_at), 10)]  # of each batch
    assert min(lateness) > -1e-9  # never early
    assert max(lateness[:50]) < 0.001  # before the stall: on time
    assert lateness[50] > 0.19  # the stall
    assert max(lateness[80:]) < 0.001  # caught up: no drift
    assert clock.now - start == pytest.approx(3.0, abs=0.01)  # ends on schedule
    assert reports[-1].sent == reports[-1].total == 3_000
    assert reports[-1].clock == feed["ts"][-1]
    assert [r.sent for r in reports] == sorted(r.sent for r in reports)
    assert reports[-1].events_per_second == pytest.approx(1_000, rel=0.01)


def test_produce_is_a_command(tmp_path: Path) -> None:
    from dayclear.cli import build_parser

    line = f"produce {tmp_path} --day 2026-11-23 --bootstrap 127.0.0.1:1 --rate 200000"
    args = build_parser().parse_args(line.split())
    assert (args.bundle, args.day, args.bootstrap, args.rate) == (
        tmp_path,
        DAY,
        "127.0.0.1:1",
        200_000,
    )
