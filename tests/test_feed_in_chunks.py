"""A day larger than memory, fed a chunk at a time (edge/event_chunks.py, jobs.wire.feed_in_chunks):
the same feed as the whole files give, row for row, and the same problems for a bad day."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devtools.simulator import SimulationConfig, simulate
from edge.bundle import load_reference
from edge.event_chunks import check_events_in_chunks, csv_chunks, csv_files, event_chunks
from edge.validate import check_against, read_events
from jobs.kafka_io import produce_bundle, send_feed
from jobs.wire import day_feed, feed_in_chunks, piece, piece_of
from schemas.registry import EVENT_TOPICS
from settlement.errors import InputError
from tests.bundle_edits import edit_cell
from tests.feed_fakes import FakeClock, FakeProducer, late_stamped

DAY = date(2026, 11, 23)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("chunks") / "bundle"
    simulate(SimulationConfig(day=DAY, accounts=60, members=5, trades=80, seed=3), folder)
    return folder


@pytest.fixture(scope="module")
def events(bundle: Path) -> dict[str, pl.DataFrame]:
    return read_events(bundle, load_reference(bundle, DAY), DAY)


def _chunked(frame: pl.DataFrame, sizes: list[int]) -> list[pl.DataFrame]:
    out, at, n = [], 0, 0
    while at < frame.height:
        size = sizes[n % len(sizes)]
        out.append(frame.slice(at, size))
        at, n = at + size, n + 1
    return out


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.dictionaries(
        st.sampled_from(EVENT_TOPICS), st.lists(st.integers(1, 400), min_size=1, max_size=4)
    ),
    late=st.lists(st.tuples(st.integers(0, 1_700), st.integers(-3_600, 3_600)), max_size=40),
)
def test_the_feed_in_chunks_is_the_day_feed_row_for_row(
    events: dict[str, pl.DataFrame],
    sizes: dict[str, list[int]],
    late: list[tuple[int, int]],
) -> None:
    """Any chunk sizes per topic, and orders stamped late or early (several gateways: ts no longer
    grows with seq, so the running maximum must carry from chunk to chunk)."""
    orders = events["orders"]
    ts = orders["ts"].to_list()
    for row, seconds in late:
        ts[row % len(ts)] += timedelta(seconds=seconds)
    day = dict(events) | {"orders": orders.with_columns(pl.Series("ts", ts, pl.Datetime("us")))}
    chunks = {t: _chunked(day[t], sizes.get(t, [10_000])) for t in EVENT_TOPICS}
    assert pl.concat(feed_in_chunks(chunks)).equals(day_feed(day))


def test_a_late_timestamp_in_the_next_chunk(events: dict[str, pl.DataFrame]) -> None:
    """Orders 1..3 at 09:30:00, :02, :01, the third alone in its chunk; a trade at :01.5. The third
    order's place is after the second's (the running maximum :02), so after the trade."""
    orders, trades = late_stamped(events)
    chunks = {"orders": [orders.head(2), orders.tail(1)], "trades": [trades]}
    feed = pl.concat(feed_in_chunks(chunks))
    assert list(feed.select(pl.col("topic").cast(pl.String), "seq").iter_rows()) == [
        ("orders", 1),
        ("trades", 1),
        ("orders", 2),
        ("orders", 3),
    ]


def test_a_topic_without_rows_and_a_missing_topic(events: dict[str, pl.DataFrame]) -> None:
    day = {"orders": events["orders"], "trades": events["trades"].head(0)}
    chunks = {"orders": _chunked(day["orders"], [7]), "trades": [day["trades"]]}
    assert pl.concat(feed_in_chunks(chunks)).equals(day_feed(day))
    assert list(feed_in_chunks({})) == []


@pytest.mark.parametrize("n", [1, 2, 3, 7])
def test_pieces_of_frames_are_the_pieces_of_the_feed(
    events: dict[str, pl.DataFrame], n: int
) -> None:
    feed = day_feed(events)
    frames = _chunked(feed, [13, 250, 1])
    for k in range(n):
        got = list(piece_of(frames, feed.height, (k, n)))
        assert pl.concat(got).equals(piece(feed, (k, n))) if got else piece(feed, (k, n)).is_empty()
    with pytest.raises(ValueError, match="does not exist"):
        list(piece_of(frames, feed.height, (n, n)))


def test_send_feed_takes_frames_and_their_total(events: dict[str, pl.DataFrame]) -> None:
    feed = day_feed(events)
    whole, frames = FakeProducer(FakeClock(), 0.0), FakeProducer(FakeClock(), 0.0)
    counts = send_feed(whole, feed)
    reports: list[int] = []
    assert (
        send_feed(
            frames,
            _chunked(feed, [333]),
            total=feed.height,
            progress=lambda p: reports.append(p.total),
        )
        == counts
    )
    assert [s[1:] for s in frames.sent] == [s[1:] for s in whole.sent]
    assert set(reports) == {feed.height}
    with pytest.raises(ValueError, match="total"):
        send_feed(frames, [feed])


def test_csv_chunks_number_their_lines(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(b"a,b\n1,2\n3,4\n5,6")  # no line end after the last row
    assert list(csv_chunks(path, 2)) == [(b"a,b\n1,2\n3,4\n", 2), (b"a,b\n5,6\n", 4)]
    path.write_bytes(b"a,b\n")
    assert list(csv_chunks(path, 2)) == [(b"a,b\n", 2)]
    path.write_bytes(b"")
    assert list(csv_chunks(path, 2)) == [(b"", 2)]


def test_a_clean_day_checks_in_chunks_and_reads_back_whole(
    bundle: Path, events: dict[str, pl.DataFrame]
) -> None:
    paths = csv_files(bundle)
    assert paths is not None
    checked = check_events_in_chunks(paths, load_reference(bundle, DAY), DAY, rows=50)
    assert checked.counts == {t: events[t].height for t in EVENT_TOPICS}
    assert checked.in_seq_order
    for topic in EVENT_TOPICS:
        assert pl.concat(event_chunks(paths[topic], topic, rows=50)).equals(events[topic])


def _bad_day(bundle: Path, tmp_path: Path) -> Path:
    """Problems in several chunks of 50 lines, the files still in seq order: an unknown account
    (line 77), a bad price (line 99), a ragged line (120), a byte that is not UTF-8 (160), a
    non-market order without a price (line 180), and a trade on another day."""
    bad = tmp_path / "bad"
    shutil.copytree(bundle, bad)
    orders = bad / "events" / "orders.csv"
    edit_cell(orders, 77, "account_id", "NOBODY")
    edit_cell(orders, 99, "price", "12x")
    edit_cell(orders, 180, "event", "NEW")
    edit_cell(orders, 180, "order_type", "LIMIT")
    edit_cell(orders, 180, "price", "")
    lines = orders.read_bytes().split(b"\n")
    lines[119] += b",extra"
    lines[159] = lines[159].replace(b"BUY", b"B\xffY").replace(b"SELL", b"S\xffLL")
    orders.write_bytes(b"\n".join(lines))
    edit_cell(bad / "events" / "trades.csv", 5, "trading_day", "2026-11-24")
    return bad


def test_a_bad_day_has_the_same_problems_in_chunks_as_whole(bundle: Path, tmp_path: Path) -> None:
    bad = _bad_day(bundle, tmp_path)
    reference = load_reference(bad, DAY)
    with pytest.raises(InputError) as whole:
        check_against(bad, reference, DAY, EVENT_TOPICS)
    paths = csv_files(bad)
    assert paths is not None
    with pytest.raises(InputError) as chunked:
        check_events_in_chunks(paths, reference, DAY, rows=50)
    found = sorted(map(str, chunked.value.problems))
    assert found == sorted(map(str, whole.value.problems))
    text = "\n".join(found)
    for where in ("line 77", "line 99", "line 120", "line 160", "line 180", "trades.csv, line 5"):
        assert where in text, where


def _moved(bundle: Path, tmp_path: Path, how: str) -> Path:
    """Trades out of seq order across chunks of 50: two rows swapped, or a seq given twice."""
    moved = tmp_path / how
    shutil.copytree(bundle, moved)
    trades = moved / "events" / "trades.csv"
    if how == "swapped":
        header, *rows = trades.read_text().splitlines()
        rows[10], rows[60] = rows[60], rows[10]
        trades.write_text("\n".join([header, *rows]) + "\n")
    else:
        edit_cell(trades, 62, "seq", "3")
    return moved


@pytest.mark.parametrize("how", ["swapped", "twice"])
def test_a_file_out_of_seq_order_is_said_and_read_whole(
    bundle: Path, tmp_path: Path, how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    moved = _moved(bundle, tmp_path, how)
    paths = csv_files(moved)
    assert paths is not None
    checked = check_events_in_chunks(paths, load_reference(moved, DAY), DAY, rows=50)
    assert not checked.in_seq_order  # said, not raised: the whole-file read checks it
    monkeypatch.setattr("jobs.kafka_io.FEED_IN_MEMORY_BYTES", 0)
    monkeypatch.setattr("edge.event_chunks.CHUNK_ROWS", 50)
    if how == "twice":  # the whole-file check finds the duplicate; nothing is sent
        with pytest.raises(InputError, match=r"line 62.*duplicate key \(3,\) \(first on line 4\)"):
            produce_bundle(moved, "127.0.0.1:1", DAY)


def test_a_parquet_or_missing_file_is_read_whole(bundle: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    shutil.copytree(bundle, other)
    (other / "events" / "fund_movements.csv").unlink()
    assert csv_files(other) is None
    (other / "events" / "fund_movements.parquet").write_bytes(b"")
    assert csv_files(other) is None
