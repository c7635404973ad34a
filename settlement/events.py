"""The parse step for a bundle's raw events (``events/<topic>.csv`` or ``.parquet``).

Used at the edge by ``dayclear replay`` before the events reach the pre-aggregation job, and by the
audit's full recompute. Checks the topic schema, the trading day, ``seq`` uniqueness (DATA_CONTRACT
"Events") and that every account and instrument is known.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from schemas.registry import EVENT_TOPICS, FileSpec, topic_spec

from .bundle import Reference
from .errors import InputError, Problem
from .tables import LINE, empty_table, read_csv_table, read_parquet_table

ACCOUNT_FIELDS = {
    "orders": ("account_id",),
    "trades": ("buy_account_id", "sell_account_id"),
    "fund_movements": ("account_id",),
}


def topic_file_spec(topic: str) -> FileSpec:
    spec = topic_spec(topic)
    return FileSpec(topic, f"events/{topic}.csv", spec.columns, True, ("seq",), ("seq",), "")


def read_topic(bundle: Path, topic: str) -> pl.DataFrame:
    spec = topic_file_spec(topic)
    csv_path = bundle / "events" / f"{topic}.csv"
    parquet_path = bundle / "events" / f"{topic}.parquet"
    if csv_path.exists():
        return read_csv_table(csv_path, spec)
    if parquet_path.exists():
        return read_parquet_table(parquet_path, spec)
    return empty_table(spec)


def check_topic(frame: pl.DataFrame, topic: str, reference: Reference, day: date) -> list[Problem]:
    source = f"events/{topic}"
    problems: list[Problem] = []

    def each(bad: pl.DataFrame, field: str, message: str) -> None:
        for line, value in bad.select(LINE, field).head(50).iter_rows():
            problems.append(Problem(source, f"line {line}", field, message.format(value=value)))

    each(
        frame.filter(pl.col("trading_day") != day),
        "trading_day",
        f"event of {{value}} in the bundle of {day}",
    )
    each(frame.filter(pl.col("seq").is_duplicated()), "seq", "duplicate seq {value}")
    for field in ACCOUNT_FIELDS[topic]:
        known = reference.accounts["account_id"].implode()
        each(frame.filter(~pl.col(field).is_in(known)), field, "unknown account {value!r}")
    if "instrument_id" in frame.columns:
        known = reference.instruments["instrument_id"].implode()
        each(
            frame.filter(~pl.col("instrument_id").is_in(known)),
            "instrument_id",
            "unknown instrument {value!r}",
        )
    if "qty" in frame.columns:
        each(frame.filter(pl.col("qty") <= 0), "qty", "quantity {value} is not positive")
    if topic == "orders":
        each(
            frame.filter(
                (pl.col("order_type") != "MARKET")
                & (pl.col("event") == "NEW")
                & pl.col("price").is_null()
            ),
            "price",
            "a non-market NEW order needs a price",
        )
    if topic == "fund_movements":
        each(frame.filter(pl.col("amount") <= 0), "amount", "amount {value} is not positive")
    return problems


def read_events(bundle: Path, reference: Reference, day: date) -> dict[str, pl.DataFrame]:
    """All three topics of a bundle, checked; raises :class:`InputError` naming every problem."""
    events: dict[str, pl.DataFrame] = {}
    problems: list[Problem] = []
    for topic in EVENT_TOPICS:
        try:
            events[topic] = read_topic(bundle, topic)
        except InputError as exc:
            problems += exc.problems
            continue
        problems += check_topic(events[topic], topic, reference, day)
    if problems:
        raise InputError(problems)
    return events
