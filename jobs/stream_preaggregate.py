"""The streaming pre-aggregation job: the day's pre-aggregates kept up to date through the session.

The same SQL as the batch job (``jobs/sql/*.sql``, :mod:`jobs.preaggregate`) in streaming mode,
reading the ``orders``, ``trades`` and ``fund_movements`` topics as they arrive, from the previous
close's end offsets, through the gate (:mod:`jobs.gate`, streaming flavour), with the §5.1
matchings done one leg at a time by ``match_legs`` (``jobs/sql/matching_stream.sql``). Each aggregate
table of ``schemas/files/aggregates.json`` is written to its own topic ``<group>.<day>.<table>``: the
legs append-only, each leg once, priced during the session by the journal follower
(:mod:`driver.journal_follower`); every other table an upsert topic keyed by the table's ``key``,
folded to the last value per key at the close (:mod:`jobs.stream_snapshot`).

Exactly once: checkpoints in exactly-once mode, retained after a crash (``--restore`` resumes state,
source positions and open transactions from the newest); the sinks write in Kafka transactions
committed with each checkpoint, and every reader reads ``read_committed``.

Freezing at the close: the close writes the day's end offsets to ``--freeze``. Once the group's
offsets, committed on checkpoints, reach them, every record up to the close is in the job's state;
the job then stops with a final savepoint, which commits the sinks' last transactions, and writes
``<freeze>.done``. Matchings (§5.1) need each key's legs in ``seq`` order: one instrument's trades
keep their order in one partition (DATA_CONTRACT), and the job runs at parallelism 1 so no shuffle
reorders them.

    python -m jobs.stream_preaggregate --bootstrap 127.0.0.1:19092 --day 2026-11-23 \\
        --staging STAGING --freeze FREEZE.json [--restore]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from pathlib import Path

from dayclear import logs
from dayclear.config import flink_rest
from edge.durable import replace_file
from edge.formats import json_bytes
from jobs.gate import FIELDS_FUNCTION, FIRST_SEQ_FUNCTION, STAGING_PARAMETER, VERDICT_FUNCTION
from jobs.kafka_io import create_topics as create
from jobs.preaggregate import (
    MATCH_FUNCTION,
    SQL_DIR,
    kafka_source_ddl,
    offsets_file,
    register_views,
    statements,
)
from jobs.stream_jobs import PREAGGREGATE_GROUP as GROUP
from jobs.stream_jobs import group_offsets
from jobs.streaming import latest_checkpoint, stop_with_savepoint, streaming_env
from schemas.registry import group_specs

log = logging.getLogger(__name__)

#: Checkpoint interval (docs/decisions.md: a checkpoint of the heap state writes all of it).
CHECKPOINT_MS = 10_000

#: Settings of the streaming run (each overridable by DAYCLEAR_<KEY> for experiments): no upsert
#: materializer before the sinks (it keeps every row of a key to reorder changes arriving out of
#: order from parallel tasks; the job runs at parallelism 1). Mini-batches of up to 1 s: each
#: aggregation then updates its state and emits a key's new value once per batch, not once per
#: record (local-global aggregation for the per-account, per-instrument and control counts, where
#: 95 % of the events are order messages). They once reordered legs, when the legs' UNNEST was
#: planned as a join; it is a correlated UNNEST now and the legs reach ``match_legs`` in arrival
#: order (docs/decisions.md). Not object reuse: with it the streamed legs differed from the batch
#: run's.
TUNING = {
    "table.exec.mini-batch.enabled": "true",
    "table.exec.mini-batch.allow-latency": "1 s",
    "table.exec.mini-batch.size": "20000",
    "table.exec.sink.upsert-materialize": "NONE",
    "state.backend.type": "hashmap",
    "execution.checkpointing.incremental": "false",
    "pipeline.object-reuse": "false",
}


def aggregate_topic(group: str, day: str, table: str) -> str:
    """The upsert topic of one aggregate table of one day's run."""
    return f"{group}.{day}.{table.removeprefix('agg_')}"


#: How the upsert sinks buffer (and reduce by key) before writing.
UPSERT_BUFFER = (
    ",\n  'sink.buffer-flush.max-rows' = '2000', 'sink.buffer-flush.interval' = '500 ms'"
)

#: The aggregate table written append-only: each leg once, as the job matches it (``match_legs``).
LEGS = "agg_legs"


def sink_ddl(bootstrap: str, group: str, day: str) -> list[str]:
    """One Kafka table per aggregate table, each with its own transactional-id prefix (sinks
    sharing one would fence each other's transactions), written exactly once in transactions
    committed with each checkpoint. The legs go to an append-only topic (:data:`LEGS`), read as
    they are committed by the journal follower (driver/journal_follower.py); every other table is
    an upsert topic keyed by the schema's ``key`` and folded to its last values at the close."""
    ddl = []
    for spec in group_specs("aggregates"):
        cols = ",\n  ".join(
            f"`{c.name}` {'BIGINT' if c.type == 'int' else 'STRING'}" for c in spec.columns
        )
        topic = aggregate_topic(group, day, spec.name)
        if spec.name == LEGS:
            kind = f"""'connector' = 'kafka', 'key.format' = 'json', 'key.fields' = '{";".join(spec.key)}',"""
            key = ""
        else:
            kind = "'connector' = 'upsert-kafka', 'key.format' = 'json',"
            key = f",\n  PRIMARY KEY ({', '.join(f'`{k}`' for k in spec.key)}) NOT ENFORCED"
        ddl.append(f"""CREATE TEMPORARY TABLE {spec.name} (
  {cols}{key}
) WITH (
  {kind} 'topic' = '{topic}', 'properties.bootstrap.servers' = '{bootstrap}',
  'value.format' = 'json', 'value.fields-include' = 'ALL',
  'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = '{topic}',
  'properties.transaction.timeout.ms' = '600000'{"" if spec.name == LEGS else UPSERT_BUFFER})""")
    return ddl


#: The upsert topics are compacted by the broker during the session (docs/decisions.md, "The
#: close reads the last value per key"): the job writes a key's new value at every mini-batch, so
#: a topic holds as many records as the day had updates (~1 per order message for the
#: declarations); compacted in segments of 16 MiB, what the close folds stays in proportion to the
#: keys (accounts x instruments), not to the day's events. The legs' topic is not an upsert topic:
#: each leg is its own record, read once by the journal follower.
COMPACTED = {
    "cleanup.policy": "compact,delete",  # and deleted after the broker's week, as the others
    "retention.ms": str(7 * 24 * 3600 * 1000),
    "segment.bytes": str(16 * 1024 * 1024),
    "min.cleanable.dirty.ratio": "0.3",
    "min.compaction.lag.ms": "0",
}


def create_topics(bootstrap: str, group: str, day: str) -> list[str]:
    """The day's aggregate topics (one partition each: the snapshot reads them whole); every one
    but the legs' compacted (:data:`COMPACTED`)."""
    names = {aggregate_topic(group, day, s.name): s.name for s in group_specs("aggregates")}
    create(
        bootstrap,
        dict.fromkeys(names, 1),
        config={topic: COMPACTED for topic, table in names.items() if table != LEGS},
    )
    return list(names)


def job_record(freeze: Path) -> Path:
    """Where the driver records its job's id and cluster (``<freeze>.job``)."""
    return freeze.with_name(freeze.name + ".job")


def reached(bootstrap: str, group: str, end: dict[str, dict[int, int]]) -> bool:
    """Have the group's committed offsets reached ``end`` on every partition?"""
    done = group_offsets(bootstrap, group)
    return all(
        done.get((topic, p), 0) >= o for topic, parts in end.items() for p, o in parts.items()
    )


def run(
    bootstrap: str,
    day: str,
    staging: Path,
    checkpoints: Path,
    freeze: Path,
    group: str = GROUP,
    checkpoint_ms: int = CHECKPOINT_MS,
    restore: Path | None = None,
    start_offsets: dict[str, dict[int, int]] | None = None,
) -> None:
    env = streaming_env(checkpoints, checkpoint_ms, restore, parallelism=1)
    conf = env.get_config()
    conf.set("pipeline.global-job-parameters", f"{STAGING_PARAMETER}:{staging.resolve()}")
    for key, value in TUNING.items():
        conf.set(
            key,
            os.environ.get("DAYCLEAR_" + key.upper().replace(".", "_").replace("-", "_"), value),
        )
    env.execute_sql(VERDICT_FUNCTION)
    env.execute_sql(FIELDS_FUNCTION)
    env.execute_sql(FIRST_SEQ_FUNCTION)
    env.execute_sql(MATCH_FUNCTION)
    create_topics(bootstrap, group, day)
    sources = kafka_source_ddl(staging, bootstrap, {}, group, day, start_offsets, streaming=True)
    for ddl in [*sources, *sink_ddl(bootstrap, group, day)]:
        env.execute_sql(ddl)
    register_views(env, "streaming")
    statement_set = env.create_statement_set()
    for statement in statements(SQL_DIR / "aggregates.sql", "streaming"):
        statement_set.add_insert_sql(statement)
    client = statement_set.execute().get_job_client()
    job_id = str(client.get_job_id())
    # on a session cluster the job outlives this process: whoever stops it cancels it by this id
    rest = flink_rest() or ""
    replace_file(job_record(freeze), json_bytes({"job_id": job_id, "rest": rest}))
    log.info("pre-aggregation stream for %s running as %s", day, job_id)
    while True:
        time.sleep(0.5)
        status = str(client.get_job_status().result())
        if status in ("FAILED", "CANCELED", "FINISHED"):
            raise SystemExit(f"the job ended on its own: {status}")
        if freeze.exists() and reached(bootstrap, group, offsets_file(freeze)):
            break
    savepoint = stop_with_savepoint(client, checkpoints / "savepoints")
    freeze.with_name(freeze.name + ".done").write_text(json.dumps({"savepoint": savepoint}))
    log.info("frozen at %s; final savepoint %s", freeze, savepoint)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--day", required=True, help="the open trading day")
    parser.add_argument(
        "--staging", type=Path, required=True, help="reference ids, opening positions"
    )
    parser.add_argument(
        "--freeze", type=Path, required=True, help="end offsets file the close writes"
    )
    parser.add_argument("--checkpoints", type=Path, required=True, help="checkpoint folder")
    parser.add_argument("--start-offsets", type=Path, help="JSON {topic: {partition: offset}}")
    parser.add_argument("--group", default=GROUP, help="Kafka consumer group (names the topics)")
    parser.add_argument("--checkpoint-ms", type=int, default=CHECKPOINT_MS)
    parser.add_argument("--restore", action="store_true", help="resume from the newest checkpoint")
    args = parser.parse_args(argv)
    logs.setup(args.day)
    args.checkpoints.mkdir(parents=True, exist_ok=True)
    restore = latest_checkpoint(args.checkpoints) if args.restore else None
    log.info("restoring from %s", restore)
    run(
        args.bootstrap,
        args.day,
        args.staging,
        args.checkpoints,
        args.freeze,
        args.group,
        args.checkpoint_ms,
        restore,
        offsets_file(args.start_offsets) if args.start_offsets else None,
    )


if __name__ == "__main__":
    main()
