"""The aggregate topics of a streaming pre-aggregation run (jobs/stream_preaggregate.py), read
``read_committed`` and folded to the last value per key (a null value deletes the key).

:class:`AggregateTopics` keeps its positions, so the risk monitor reads only what is new each cycle;
:func:`freeze_snapshot` reads them to their end at the close and writes the snapshot's layout (one
folder of header-less CSV per table, as the batch job writes it), sorted by the key so a rerun of
the fold gives the same bytes."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import polars as pl

from edge.tables import parse_text_frame
from jobs.kafka_io import TopicReader
from jobs.stream_preaggregate import aggregate_topic
from schemas.registry import FileSpec, group_specs
from settlement.model import LINE, Aggregates


def text_frame(spec: FileSpec, rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Rows as the job wrote them (JSON values) as text columns, in the schema's column order."""
    names = spec.column_names
    return pl.DataFrame(
        {n: [None if r.get(n) is None else str(r[n]) for r in rows] for n in names},
        schema={n: pl.String for n in names},
    )


#: Records read and folded at a time by :meth:`AggregateTopics.catch_up`.
FOLD_EVERY = 100_000


class AggregateTopics:
    """The aggregate topics of one streaming run (``group``, ``day``), folded incrementally;
    ``tables`` (default: all) names the aggregate tables to follow."""

    def __init__(
        self, bootstrap: str, group: str, day: str, tables: Iterable[str] | None = None
    ) -> None:
        wanted = set(tables) if tables is not None else None
        self.specs = {
            aggregate_topic(group, day, s.name): s
            for s in group_specs("aggregates")
            if wanted is None or s.name in wanted
        }
        self.rows: dict[str, dict[bytes, dict[str, Any]]] = {t: {} for t in self.specs}
        self.reader = TopicReader(bootstrap, self.specs)

    def catch_up(self, idle_s: float = 30) -> int:
        """Read up to the topics' last stable offsets as they are now, unless nothing comes for
        ``idle_s`` seconds while behind; returns the records read. Folded :data:`FOLD_EVERY`
        records at a time, so memory stays in proportion to the keys, not to the updates."""
        read = 0
        while True:
            records = self.reader.read(idle_s, limit=FOLD_EVERY)
            for record in records:
                table, key = self.rows[str(record.topic())], record.key() or b""
                value = record.value()
                if value is None:
                    table.pop(key, None)
                else:
                    table[key] = json.loads(value)
            read += len(records)
            if len(records) < FOLD_EVERY:
                return read

    def behind(self) -> list[str]:
        """The topics not read to their last stable offset, with where the reading stands."""
        return self.reader.behind()

    def text(self, topic: str) -> pl.DataFrame:
        """The table's current rows as text columns, in the schema's column order."""
        return text_frame(self.specs[topic], list(self.rows[topic].values()))

    def aggregates(self) -> Aggregates:
        """The tables as the EOD reads them, through the checked parse step."""
        tables = {}
        for topic, spec in self.specs.items():
            text = self.text(topic).with_row_index(LINE, offset=1)
            frame = parse_text_frame(text.with_columns(pl.col(LINE).cast(pl.Int64)), spec, topic)
            tables[spec.name.removeprefix("agg_")] = frame
        return Aggregates(**tables)

    def close(self) -> None:
        self.reader.close()


def _write(spec: FileSpec, frame: pl.DataFrame, snapshot: Path) -> None:
    int_keys = [k for k in spec.key if next(c for c in spec.columns if c.name == k).type == "int"]
    frame = frame.sort([pl.col(k).cast(pl.Int64) if k in int_keys else pl.col(k) for k in spec.key])
    folder = snapshot / spec.path.removesuffix(".csv")
    folder.mkdir(parents=True, exist_ok=True)
    frame.write_csv(folder / "part-0", include_header=False, null_value="")


def freeze_snapshot(
    bootstrap: str, group: str, day: str, snapshot: Path, tables: Iterable[str] | None = None
) -> dict[str, int]:
    """Fold the run's aggregate topics (``tables``, default all) into ``snapshot``; returns rows
    per table. Not flushed here: ``snapshot`` is the close's hidden work folder, which
    driver.stream_close flushes whole (edge.durable.sync_tree) before renaming it into
    place, as the batch job does with its snapshot."""
    topics = AggregateTopics(bootstrap, group, day, tables)
    try:
        topics.catch_up()
        behind = topics.behind()
        if behind:
            raise TimeoutError(f"aggregate topics stuck: {', '.join(behind)}")
        counts = {}
        for topic, spec in topics.specs.items():
            frame = topics.text(topic)
            _write(spec, frame, snapshot)
            counts[spec.name] = frame.height
        return counts
    finally:
        topics.close()
