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
import os
import shutil
from pathlib import Path

from schemas.registry import EVENT_TOPICS, file_spec, flink_type, group_specs, topic_spec

SQL_DIR = Path(__file__).resolve().parent / "sql"
ROOT = Path(__file__).resolve().parent.parent
CONNECTOR_DIR = ROOT / "target" / "flink-libs"


def _source_columns(topic: str) -> str:
    cols = []
    for c in topic_spec(topic).columns:
        sql_type = "BIGINT" if c.type == "int" else "STRING"
        cols.append(f"`{c.name}` {sql_type}")
    return ",\n  ".join(cols)


def _opening_positions_ddl(staging: Path) -> str:
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
    return [*ddl, _opening_positions_ddl(staging)]


def kafka_source_ddl(
    staging: Path, bootstrap: str, end_offsets: dict[str, dict[int, int]], group: str
) -> list[str]:
    ddl = []
    for topic in EVENT_TOPICS:
        offsets = end_offsets.get(topic, {})
        bounded = ";".join(f"partition:{p},offset:{o}" for p, o in sorted(offsets.items()))
        bound_opts = (
            f"'scan.bounded.mode' = 'specific-offsets', 'scan.bounded.specific-offsets' = '{bounded}'"
            if bounded
            else "'scan.bounded.mode' = 'latest-offset'"
        )
        ddl.append(f"""CREATE TEMPORARY TABLE raw_{topic} (\n  {_source_columns(topic)}\n) WITH (
  'connector' = 'kafka', 'topic' = '{topic}', 'properties.bootstrap.servers' = '{bootstrap}',
  'properties.group.id' = '{group}', 'properties.isolation.level' = 'read_committed',
  'scan.startup.mode' = 'earliest-offset', {bound_opts},
  'format' = 'json', 'json.fail-on-missing-field' = 'true', 'json.ignore-parse-errors' = 'false')""")
    return [*ddl, _opening_positions_ddl(staging)]


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


def _statements(path: Path) -> list[str]:
    text = "\n".join(
        line for line in path.read_text().splitlines() if not line.strip().startswith("--")
    )
    return [s.strip() for s in text.split(";") if s.strip()]


def run(sources: list[str], out: Path, parallelism: int = 2, kafka: bool = False) -> None:
    """Run the job over the given source DDL and write every aggregate table under ``out``."""
    from pyflink.table import EnvironmentSettings, TableEnvironment

    settings = EnvironmentSettings.in_batch_mode()
    env = TableEnvironment.create(settings)
    conf = env.get_config()
    conf.set("parallelism.default", str(parallelism))
    conf.set("table.exec.resource.default-parallelism", str(parallelism))
    if kafka:
        jars = sorted(CONNECTOR_DIR.glob("flink-sql-connector-kafka-*.jar"))
        if not jars:
            raise FileNotFoundError(f"no Kafka connector jar in {CONNECTOR_DIR}: run `make jars`")
        conf.set("pipeline.jars", ";".join(j.as_uri() for j in jars))
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    for ddl in [*sources, *sink_ddl(tmp)]:
        env.execute_sql(ddl)
    for statement in _statements(SQL_DIR / "views.sql"):
        env.execute_sql(statement)
    statement_set = env.create_statement_set()
    for statement in _statements(SQL_DIR / "aggregates.sql"):
        statement_set.add_insert_sql(statement)
    statement_set.execute().wait()
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)


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
    parser.add_argument("--group", default="dayclear-preaggregate")
    parser.add_argument("--parallelism", type=int, default=2)
    args = parser.parse_args(argv)
    if args.bootstrap:
        offsets = {}
        if args.end_offsets:
            raw = json.loads(args.end_offsets.read_text())
            offsets = {t: {int(p): int(o) for p, o in parts.items()} for t, parts in raw.items()}
        sources = kafka_source_ddl(args.staging, args.bootstrap, offsets, args.group)
    else:
        sources = file_source_ddl(args.staging)
    run(sources, args.out, args.parallelism, kafka=bool(args.bootstrap))


if __name__ == "__main__":
    main()
