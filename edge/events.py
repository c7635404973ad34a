"""The parse step for a bundle's raw events (``events/<topic>.csv`` or ``.parquet``).

Used at the edge by ``dayclear replay`` (edge.validate) before the events reach the
pre-aggregation job, and by the feed. Each file is checked against its topic's schema here; the
trading day, ``seq`` uniqueness and gaps (DATA_CONTRACT "Events") and known accounts and
instruments are checked across files (settlement.crosscheck).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from edge.tables import parse_csv_file, parse_parquet_file
from schemas.registry import FileSpec, topic_spec
from settlement.crosscheck import lines_of
from settlement.errors import InputError, Problem
from settlement.model import Parsed


def topic_file_spec(topic: str) -> FileSpec:
    spec = topic_spec(topic)
    return FileSpec(topic, f"events/{topic}.csv", spec.columns, True, ("seq",), ("seq",), "")


def parse_topic(bundle: Path, topic: str) -> Parsed:
    """A topic's file of the bundle, CSV or Parquet, checked on its own. Missing events are an
    error (a day with no trades still has a trades file with its header, docs/decisions.md), and
    so are both forms of one topic (which one would be the day's?)."""
    spec = topic_file_spec(topic)
    csv_path = bundle / "events" / f"{topic}.csv"
    parquet_path = bundle / "events" / f"{topic}.parquet"
    if csv_path.exists() and parquet_path.exists():
        return Parsed(
            None,
            [
                Problem(
                    spec.path,
                    "-",
                    "-",
                    f"both events/{topic}.csv and .parquet: which is the day's?",
                )
            ],
        )
    if parquet_path.exists():
        return parse_parquet_file(parquet_path, spec)
    if not csv_path.exists():
        return Parsed(
            None, [Problem(spec.path, "-", "-", "required file is missing (or its .parquet)")]
        )
    return parse_csv_file(csv_path, spec)


def read_topic(bundle: Path, topic: str) -> pl.DataFrame:
    parsed = parse_topic(bundle, topic)
    if parsed.problems or parsed.frame is None:
        raise InputError(parsed.problems)
    return parsed.frame


def topic_rules(frame: pl.DataFrame, topic: str) -> list[Problem]:
    """What a topic's schema cannot say of one field alone: a non-market NEW order needs a price."""
    if topic != "orders":
        return []
    return lines_of(
        frame,
        (pl.col("order_type") != "MARKET") & (pl.col("event") == "NEW") & pl.col("price").is_null(),
        "price",
        "events/orders.csv",
        "a non-market NEW order needs a price",
    )
