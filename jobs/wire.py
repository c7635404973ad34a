"""The event topics' wire form (``schemas/topics/*.json``), built column-wise, and the day as one feed.

A wire record is a JSON object in the schema's column order whose decimals, dates and timestamps are
text and whose ``int`` columns (seq, qty) are numbers; a MARKET order's price is ``null``. Its Kafka
key is the schema's key field (instrument_id for orders and trades, account_id for fund movements).

:func:`wire_records` is the row-by-row reference (a dict per record). :func:`encoded` gives the same
records as JSON text in one Polars pass (``struct.json_encode``), which is what the producer sends:
``tests/test_feed.py`` checks that every encoded value parses to exactly the reference record.
:func:`day_feed` merges the three topics in the order the exchange produced them: by ``ts``, ties by
topic (in ``EVENT_TOPICS`` order: an order before the trade it fills) then by ``seq``, each topic
kept in its ``seq`` order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

import polars as pl

from edge.events import topic_file_spec
from edge.tables import text_columns
from schemas.registry import EVENT_TOPICS, topic_spec

FEED_COLUMNS = ("ts", "topic", "seq", "key", "value")
TOPIC_ENUM = pl.Enum(list(EVENT_TOPICS))


def _int_columns(topic: str) -> list[str]:
    return [c.name for c in topic_spec(topic).columns if c.type == "int"]


def wire_records(frame: pl.DataFrame, topic: str) -> Iterator[dict[str, Any]]:
    """Rows of a checked topic table as wire dicts (text decimals, ints for seq/qty)."""
    ints = set(_int_columns(topic))
    for row in text_columns(frame, topic_file_spec(topic)).iter_rows(named=True):
        yield {k: (int(v) if k in ints and v is not None else v) for k, v in row.items()}


def timestamp_text(values: pl.Series) -> pl.Series:
    """Timestamps as ``text_columns`` writes them (``2026-11-23T09:30:00.000000``), each distinct
    second formatted once: a day has some 20,000 of them for millions of events."""
    frame = values.to_frame("ts").with_columns(second=pl.col("ts").dt.truncate("1s"))
    seconds = frame["second"].unique()
    micros = (pl.col("ts") - pl.col("second")).dt.total_microseconds() + 1_000_000
    return frame.select(
        pl.concat_str(
            pl.col("second").replace_strict(seconds, seconds.dt.strftime("%Y-%m-%dT%H:%M:%S.")),
            micros.cast(pl.String).str.slice(1),
        ).alias(values.name)
    ).to_series()


def date_text(values: pl.Series) -> pl.Series:
    """Dates as ``text_columns`` writes them (``2026-11-23``), each distinct day formatted once."""
    days = values.unique()
    return values.replace_strict(days, days.dt.strftime("%Y-%m-%d"), return_dtype=pl.String)


def _text(frame: pl.DataFrame, topic: str) -> pl.DataFrame:
    """``text_columns`` of a topic table, its dates and timestamps formatted by distinct value."""
    spec = topic_file_spec(topic)
    fast = {"date": date_text, "timestamp": timestamp_text}
    columns = tuple(replace(c, type="string") if c.type in fast else c for c in spec.columns)
    formatted = frame.with_columns(
        fast[c.type](frame[c.name]) for c in spec.columns if c.type in fast
    )
    return text_columns(formatted, replace(spec, columns=columns))


def encoded(frame: pl.DataFrame, topic: str) -> pl.DataFrame:
    """A checked topic table as feed rows: ``ts`` (typed), ``topic``, ``seq``, ``key`` and ``value``
    (the wire JSON text), in the table's row order."""
    spec = topic_spec(topic)
    text = _text(frame, topic).with_columns(pl.col(_int_columns(topic)).cast(pl.Int64))
    rows = pl.DataFrame(
        {
            "ts": frame["ts"],
            "seq": frame["seq"],
            "key": text[spec.key],
            "value": text.select(pl.struct(pl.all()).struct.json_encode()).to_series(),
        }
    )
    return rows.with_columns(topic=pl.lit(topic, TOPIC_ENUM)).select(FEED_COLUMNS)


def day_feed(events: Mapping[str, pl.DataFrame]) -> pl.DataFrame:
    """The day's events of every topic as one feed in the exchange's order: by ``ts``, ties by topic
    (in ``EVENT_TOPICS`` order), then by ``seq``.

    A topic's own order is never changed: each topic is taken in ``seq`` order and interleaved by the
    latest ``ts`` seen so far in it, which is its ``ts`` whenever ``ts`` grows with ``seq`` (as the
    exchange numbers its events). A feed with a late timestamp within a topic (e.g. several gateways)
    keeps its ``seq`` order in Kafka, which the streaming matchings rely on."""
    parts = [
        encoded(events[t].sort("seq"), t).with_columns(_merge=pl.col("ts").cum_max())
        for t in EVENT_TOPICS
        if t in events
    ]
    if not parts:
        schema: dict[str, pl.DataType] = {"ts": pl.Datetime("us"), "topic": TOPIC_ENUM}
        return pl.DataFrame(
            schema=schema | {"seq": pl.Int64(), "key": pl.String(), "value": pl.String()}
        )
    return pl.concat(parts).sort("_merge", "topic", "seq").drop("_merge")


def piece_rows(total: int, part: tuple[int, int]) -> range:
    """The rows of the ``k``-th of ``n`` consecutive slices of a feed of ``total`` rows (``part =
    (k, n)``): a day sent in pieces covers it whole, each event once, each piece later in the day
    than the one before."""
    k, n = part
    if not 0 <= k < n:
        raise ValueError(f"part {k} of {n} does not exist")
    size = -(-total // n)
    return range(min(total, k * size), min(total, (k + 1) * size))


def piece(feed: pl.DataFrame, part: tuple[int, int]) -> pl.DataFrame:
    """The feed's rows :func:`piece_rows`."""
    rows = piece_rows(feed.height, part)
    return feed.slice(rows.start, len(rows))


def _sort_key(rows: pl.DataFrame, at: int, topic: str) -> tuple[datetime, int, int]:
    return rows["_merge"][at], EVENT_TOPICS.index(topic), rows["seq"][at]


def _up_to(rows: pl.DataFrame, topic: str, bound: tuple[datetime, int, int]) -> pl.Expr:
    """The rows of one topic whose feed order key is at most ``bound`` (merge, topic, seq)."""
    merge, at, seq = bound
    here = EVENT_TOPICS.index(topic)
    if here < at:
        return pl.col("_merge") <= merge
    if here > at:
        return pl.col("_merge") < merge
    return (pl.col("_merge") < merge) | ((pl.col("_merge") == merge) & (pl.col("seq") <= seq))


def feed_in_chunks(chunks: Mapping[str, Iterable[pl.DataFrame]]) -> Iterator[pl.DataFrame]:
    """:func:`day_feed` of topics given a chunk at a time, each topic's chunks in ``seq`` order: the
    same rows in the same order, as consecutive frames, holding about a chunk of each topic.

    Each topic's rows are encoded as they come, keyed as there by (running ``ts`` maximum, topic,
    ``seq``). The rows no row still to be read can precede are sent: those up to the smallest last
    key among the topics with chunks still to read; that topic's buffer is then empty and its next
    chunk is read. The running maximum restarts with each chunk: a row stamped before the previous
    chunk's maximum ``M`` belongs at ``M``, where it still sorts first among the rows not yet sent
    (all after ``M``'s own chunk), so the order is the same."""
    sources = {t: iter(chunks[t]) for t in EVENT_TOPICS if t in chunks}
    pending: dict[str, pl.DataFrame] = {}

    def refill(topic: str) -> None:
        for chunk in sources[topic]:
            if chunk.height:
                pending[topic] = encoded(chunk, topic).with_columns(_merge=pl.col("ts").cum_max())
                return
        del sources[topic]

    def ready(rows: list[pl.DataFrame]) -> pl.DataFrame:
        return pl.concat(rows).sort("_merge", "topic", "seq").drop("_merge")

    for topic in list(sources):
        refill(topic)
    while sources:
        bound = min(_sort_key(pending[t], -1, t) for t in sources)
        out, kept = [], {}
        for topic, rows in pending.items():
            now = rows.filter(_up_to(rows, topic, bound))
            out.append(now)
            kept[topic] = rows.slice(now.height)
        pending = {t: rows for t, rows in kept.items() if rows.height}
        sent = ready(out)
        if sent.height:
            yield sent
        for topic in [t for t in sources if t not in pending]:
            refill(topic)
    # nothing is left: a topic leaves ``sources`` only once its buffer is empty and it has no chunk


def piece_of(
    frames: Iterable[pl.DataFrame], total: int, part: tuple[int, int]
) -> Iterator[pl.DataFrame]:
    """:func:`piece` of a feed given as consecutive frames of ``total`` rows in all."""
    rows = piece_rows(total, part)
    begin, end, at = rows.start, rows.stop, 0
    for frame in frames:
        if at >= end:
            return
        lo, hi = max(begin - at, 0), min(end - at, frame.height)
        if hi > lo:
            yield frame.slice(lo, hi - lo)
        at += frame.height
