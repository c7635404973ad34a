"""The pre-aggregation job: raw events -> the frozen pre-aggregates the end of day reads.

Flink SQL on the JVM (PyFlink Table API), in batch runtime mode over bounded sources:

* ``files``: a bundle's checked events, as written by :func:`stage_events` (header-less CSV);
* ``kafka``: the ``orders``, ``trades`` and ``fund_movements`` topics read with the Flink SQL Kafka
  connector, ``read_committed``, from the earliest offset up to the end offsets recorded at the close
  (a bounded read, so the snapshot covers exactly the offsets in the completeness record).

The same SQL (``jobs/sql/*.sql``) runs for both, so a replay and the stream give the same aggregates.
Tables and columns come from ``schemas/`` (topics and ``files/aggregates.json``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from dayclear import logs
from edge.durable import sync_dir, sync_tree
from jobs.gate import FIELDS_FUNCTION, STAGING_PARAMETER, VERDICT_FUNCTION, gate_sql
from jobs.streaming import kafka_jars
from schemas.registry import EVENT_TOPICS, file_spec, flink_type, group_specs, topic_spec

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from pyflink.table import TableEnvironment

SQL_DIR = Path(__file__).resolve().parent / "sql"
ROOT = Path(__file__).resolve().parent.parent


def _source_columns(topic: str) -> str:
    cols = []
    for c in topic_spec(topic).columns:
        sql_type = "BIGINT" if c.type == "int" else "STRING"
        cols.append(f"`{c.name}` {sql_type}")
    return ",\n  ".join(cols)


def opening_positions_ddl(staging: Path) -> str:
    spec = file_spec("opening_positions")
    cols = ",\n  ".join(f"`{c.name}` {flink_type(c)}" for c in spec.columns)
    return f"""CREATE TEMPORARY TABLE opening_positions (\n  {cols}\n) WITH (
  'connector' = 'filesystem', 'path' = '{(staging / "opening_positions.csv").as_uri()}', 'format' = 'csv')"""


def file_source_ddl(staging: Path) -> list[str]:
    ddl = [
        f"""CREATE TEMPORARY TABLE raw_{topic} (\n  {_source_columns(topic)}\n) WITH (
  'connector' = 'filesystem', 'path' = '{(staging / f"{topic}.csv").as_uri()}', 'format' = 'csv',
  'csv.null-literal' = '')"""
        for topic in EVENT_TOPICS
    ]
    return [*ddl, NO_DEAD_LETTERS, opening_positions_ddl(staging)]  # bundles are checked on load


def kafka_source_ddl(
    staging: Path,
    bootstrap: str,
    end_offsets: dict[str, dict[int, int]],
    group: str,
    day: str,
    start_offsets: dict[str, dict[int, int]] | None = None,
    *,
    streaming: bool = False,
) -> list[str]:
    """Each topic read as raw text with its partition and offset, from the start offsets (the
    previous close, else the earliest) to the end offsets recorded at this close, through the gate
    (:mod:`jobs.gate`): admitted records feed the aggregates, refused ones the dead letters.

    ``streaming``: unbounded (the end offsets are not known yet), the group's offsets committed on
    every checkpoint."""

    ddl = []
    for topic in EVENT_TOPICS:
        ends = end_offsets.get(topic, {})
        bounded = ";".join(f"partition:{p},offset:{o}" for p, o in sorted(ends.items()))
        if streaming:
            bound_opts = "'properties.commit.offsets.on.checkpoint' = 'true'"
        elif bounded:
            bound_opts = f"'scan.bounded.mode' = 'specific-offsets', 'scan.bounded.specific-offsets' = '{bounded}'"
        else:
            bound_opts = "'scan.bounded.mode' = 'latest-offset'"
        starts = (start_offsets or {}).get(topic, {})
        start_opts = (
            "'scan.startup.mode' = 'specific-offsets', 'scan.startup.specific-offsets' = '"
            + ";".join(f"partition:{p},offset:{o}" for p, o in sorted(starts.items()))
            + "'"
            if starts
            else "'scan.startup.mode' = 'earliest-offset'"
        )
        ddl.append(f"""CREATE TEMPORARY TABLE kafka_{topic} (
  `v` STRING,
  `kpartition` INT METADATA FROM 'partition' VIRTUAL,
  `koffset` BIGINT METADATA FROM 'offset' VIRTUAL
) WITH (
  'connector' = 'kafka', 'topic' = '{topic}', 'properties.bootstrap.servers' = '{bootstrap}',
  'properties.group.id' = '{group}', 'properties.isolation.level' = 'read_committed',
  {start_opts}, {bound_opts}, 'format' = 'raw', 'raw.charset' = 'UTF-8')""")
        ddl.extend(gate_sql(topic, day, streaming))
    ddl.append(
        "CREATE TEMPORARY VIEW dead_letters AS "
        + " UNION ALL ".join(f"SELECT * FROM dead_{t}" for t in EVENT_TOPICS)
    )
    return [*ddl, opening_positions_ddl(staging)]


NO_DEAD_LETTERS = """CREATE TEMPORARY VIEW dead_letters AS
SELECT CAST(NULL AS STRING) AS source_topic, CAST(NULL AS BIGINT) AS source_partition,
  CAST(NULL AS BIGINT) AS source_offset, CAST(NULL AS BIGINT) AS seq, CAST(NULL AS STRING) AS `reason`,
  CAST(NULL AS STRING) AS `field`, CAST(NULL AS STRING) AS `raw`
FROM (VALUES (1)) AS t(x) WHERE x = 0"""


def sink_ddl(out: Path) -> list[str]:
    ddl = []
    for spec in group_specs("aggregates"):
        cols = ",\n  ".join(
            f"`{c.name}` {'BIGINT' if c.type == 'int' else 'STRING'}" for c in spec.columns
        )
        path = out / spec.path.removesuffix(".csv")
        ddl.append(f"""CREATE TEMPORARY TABLE {spec.name} (\n  {cols}\n) WITH (
  'connector' = 'filesystem', 'path' = '{path.as_uri()}', 'format' = 'csv', 'csv.null-literal' = '')""")
    return ddl


#: Per instrument, the day's totals and its first and last trade. Batch: the trades at the lowest
#: and highest seq, joined back. Streaming: the first and last to arrive, which are those, since one
#: instrument's trades keep their seq order in one partition (the same fact the matchings rely on);
#: joining every trade back would keep them all in state and retract at every new high or low.
INSTRUMENT_DAY_ENDS = {
    "batch": """
CREATE TEMPORARY VIEW instrument_day_ends AS
SELECT d.instrument_id, d.n_trades, d.volume, d.pq, f.price AS open_price, d.high, d.low,
       l.price AS close_price, d.first_seq, d.last_seq, l.trading_micros AS last_trading_micros
FROM (
  SELECT instrument_id, COUNT(*) AS n_trades, SUM(qty) AS volume, SUM(price * qty) AS pq,
         MAX(price) AS high, MIN(price) AS low, MIN(seq) AS first_seq, MAX(seq) AS last_seq
  FROM trades_timed GROUP BY instrument_id
) d
JOIN trades_timed f ON f.seq = d.first_seq
JOIN trades_timed l ON l.seq = d.last_seq;""",
    "streaming": """
CREATE TEMPORARY VIEW instrument_day_ends AS
SELECT instrument_id, COUNT(*) AS n_trades, SUM(qty) AS volume, SUM(price * qty) AS pq,
       FIRST_VALUE(price) AS open_price, MAX(price) AS high, MIN(price) AS low,
       LAST_VALUE(price) AS close_price, MIN(seq) AS first_seq, MAX(seq) AS last_seq,
       LAST_VALUE(trading_micros) AS last_trading_micros
FROM trades_timed GROUP BY instrument_id;""",
}

#: The only differences between the batch and the streaming run of the SQL: how the §5.1 matchings
#: are done (:data:`MATCHING`), the first and last trade of an instrument (above), and the distinct
#: seq count of the control table, which in streaming is the admitted count: the gate has already
#: refused every repeated seq, and a COUNT(DISTINCT) would keep every seq of the day in state (the
#: batch run still counts them).
MODES = {
    "batch": {
        "{instrument_day_ends}": INSTRUMENT_DAY_ENDS["batch"],
        "{distinct_seq}": "COUNT(DISTINCT seq)",
    },
    "streaming": {
        "{instrument_day_ends}": INSTRUMENT_DAY_ENDS["streaming"],
        "{distinct_seq}": "COUNT(*)",
    },
}

#: The view ``legs_costed`` (each leg with its §5.1 matchings) per mode: window aggregations and
#: joins over the whole day in batch, the ``match_legs`` process table function one leg at a time
#: in streaming (a PTF cannot run in batch mode).
MATCHING = {"batch": SQL_DIR / "matching.sql", "streaming": SQL_DIR / "matching_stream.sql"}

MATCH_FUNCTION = (
    "CREATE TEMPORARY SYSTEM FUNCTION match_legs AS 'dev.dayclear.flink.MatchLegs' LANGUAGE JAVA"
)


def statements(path: Path, mode: str = "batch") -> list[str]:
    text = "\n".join(
        line for line in path.read_text().splitlines() if not line.strip().startswith("--")
    )
    for placeholder, value in MODES[mode].items():
        text = text.replace(placeholder, value)
    return [s.strip() for s in text.split(";") if s.strip()]


def register_views(env: TableEnvironment, mode: str = "batch") -> None:
    """The typed views, then the matchings of ``mode`` as the view ``legs_costed``: what the
    aggregates read. The streaming matchings are one query, registered from its plan."""
    for statement in statements(SQL_DIR / "views.sql", mode):
        env.execute_sql(statement)
    if mode == "streaming":
        (query,) = statements(MATCHING[mode], mode)
        env.create_temporary_view("legs_costed", env.sql_query(query))
    else:
        for statement in statements(MATCHING[mode], mode):
            env.execute_sql(statement)


def run(
    sources: list[str],
    out: Path,
    parallelism: int = 2,
    kafka: bool = False,
    staging: Path | None = None,
) -> None:
    """Run the job over the given source DDL and write every aggregate table under ``out``; read
    from Kafka (``kafka``), the gate reads the reference ids staged in ``staging``."""
    # PyFlink is imported in the job's process only (see jobs/streaming.py).
    from pyflink.table import EnvironmentSettings, TableEnvironment

    settings = EnvironmentSettings.in_batch_mode()
    env = TableEnvironment.create(settings)
    conf = env.get_config()
    conf.set("parallelism.default", str(parallelism))
    conf.set("table.exec.resource.default-parallelism", str(parallelism))
    if kafka:
        if staging is None:
            raise ValueError("the gate needs the staging folder of the reference ids")
        conf.set("pipeline.jars", kafka_jars())
        conf.set("pipeline.global-job-parameters", f"{STAGING_PARAMETER}:{staging.resolve()}")
        env.execute_sql(FIELDS_FUNCTION)
        env.execute_sql(VERDICT_FUNCTION)
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    for ddl in [*sources, *sink_ddl(tmp)]:
        env.execute_sql(ddl)
    register_views(env, "batch")
    statement_set = env.create_statement_set()
    for statement in statements(SQL_DIR / "aggregates.sql"):
        statement_set.add_insert_sql(statement)
    statement_set.execute().wait()
    sync_tree(tmp)  # the frozen snapshot is on disk before anything relies on it
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)
    sync_dir(out.parent)


def offsets_file(path: Path | None) -> dict[str, dict[int, int]]:
    if not path:
        return {}
    raw = json.loads(path.read_text())
    return {t: {int(p): int(o) for p, o in parts.items()} for t, parts in raw.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--staging", type=Path, required=True, help="staged events / opening positions"
    )
    parser.add_argument("--out", type=Path, required=True, help="snapshot directory to write")
    parser.add_argument(
        "--bootstrap", help="Kafka bootstrap servers (reads the topics instead of files)"
    )
    parser.add_argument("--end-offsets", type=Path, help="JSON {topic: {partition: end offset}}")
    parser.add_argument(
        "--start-offsets", type=Path, help="JSON {topic: {partition: offset}} (the previous close)"
    )
    parser.add_argument("--day", help="the open trading day (the gate refuses other days)")
    parser.add_argument("--group", default="dayclear-preaggregate")
    parser.add_argument("--parallelism", type=int, default=2)
    args = parser.parse_args(argv)
    logs.setup(args.day)
    log.info("bounded pre-aggregation: %s into %s", args.bootstrap or args.staging, args.out)
    if args.bootstrap:
        if not args.day:
            parser.error("--day is required with --bootstrap")
        sources = kafka_source_ddl(
            args.staging,
            args.bootstrap,
            offsets_file(args.end_offsets),
            args.group,
            args.day,
            offsets_file(args.start_offsets),
        )
    else:
        sources = file_source_ddl(args.staging)
    run(sources, args.out, args.parallelism, kafka=bool(args.bootstrap), staging=args.staging)


if __name__ == "__main__":
    main()
