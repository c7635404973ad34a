"""The intraday surveillance job: a continuously running, checkpointed Flink SQL job (streaming mode)
that reads the ``orders`` and ``trades`` topics as they arrive and writes alerts to the ``alerts``
topic (schemas/topics/alerts.json) within seconds:

* ``SELF_TRADE``: a trade whose buyer and seller are the same account (one alert per trade);
* ``CANCEL_COUNT``: an account's cancellations of the day reach the threshold (one alert, at the
  crossing; a running count per account in an OVER aggregation, so the output stays append-only).

Exactly once: checkpoints every ``--checkpoint-ms`` (exactly-once mode, state under
``$DAYCLEAR_STATE/checkpoints/surveillance``); the Kafka sink writes in transactions committed with
each checkpoint, so a ``read_committed`` consumer sees every alert once even across a crash and
restart; the sources commit their offsets to the consumer group on checkpoints, which is what the
ops-control DAG reads as consumer lag and checkpoint age.

Records the gate at the close would refuse are skipped here (``json.ignore-parse-errors``); they are
counted and dead-lettered by the close (jobs/gate.py).

    python -m jobs.surveillance --bootstrap 127.0.0.1:19092 --day 2026-11-23 [--cancel-threshold 500]
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from dayclear import logs
from dayclear.config import SURVEILLANCE_THRESHOLDS, deploy_file, state_dir
from jobs.streaming import latest_checkpoint, streaming_env
from schemas.registry import topic_spec

log = logging.getLogger(__name__)

THRESHOLDS = deploy_file(SURVEILLANCE_THRESHOLDS)


#: The fields each alert reads: the JSON format decodes only declared columns, so less is faster.
USED = {
    "orders": ("trading_day", "ts", "event", "account_id", "instrument_id"),
    "trades": (
        "trading_day", "ts", "trade_id", "instrument_id", "qty", "buy_account_id", "sell_account_id",
    ),
}  # fmt: skip


def source_ddl(
    topic: str,
    bootstrap: str,
    group: str,
    columns: str | None = None,
    fmt: str = "'format' = 'json', 'json.ignore-parse-errors' = 'true'",
) -> str:
    """The topic as a table read from the group's offsets (the earliest for a new group), committing
    them on checkpoints; by default the fields the alerts read (``USED``), decoded from JSON."""
    cols = columns or ",\n  ".join(
        f"`{c.name}` {'BIGINT' if c.type == 'int' else 'STRING'}"
        for c in topic_spec(topic).columns
        if c.name in USED[topic]
    )
    return f"""CREATE TEMPORARY TABLE {topic} (
  {cols},
  `proc` AS PROCTIME()
) WITH (
  'connector' = 'kafka', 'topic' = '{topic}', 'properties.bootstrap.servers' = '{bootstrap}',
  'properties.group.id' = '{group}', 'properties.isolation.level' = 'read_committed',
  'properties.auto.offset.reset' = 'earliest', 'scan.startup.mode' = 'group-offsets',
  'properties.commit.offsets.on.checkpoint' = 'true',
  {fmt})"""


def _alerts_sink(bootstrap: str, prefix: str) -> str:
    cols = ",\n  ".join(f"`{name}` STRING" for name in topic_spec("alerts").column_names)
    return f"""CREATE TEMPORARY TABLE alerts_sink (
  {cols}
) WITH (
  'connector' = 'kafka', 'topic' = 'alerts', 'properties.bootstrap.servers' = '{bootstrap}',
  'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = '{prefix}',
  'properties.transaction.timeout.ms' = '600000',
  'format' = 'json')"""


def statement(day: str, cancel_threshold: int) -> str:
    """One INSERT for every alert kind: one sink, so one set of transactional ids (two sinks with
    the same prefix would fence each other's transactions)."""
    return f"""INSERT INTO alerts_sink
SELECT 'SELF_TRADE', 'surveillance', trading_day, buy_account_id, trade_id, CAST(qty AS STRING),
       CAST(NULL AS STRING),
       'account ' || buy_account_id || ' is on both sides of trade ' || trade_id || ' in ' || instrument_id,
       ts
FROM trades
WHERE buy_account_id = sell_account_id AND trading_day = '{day}'
UNION ALL
SELECT 'CANCEL_COUNT', 'surveillance', trading_day, account_id, instrument_id, CAST(cancels AS STRING),
       '{cancel_threshold}',
       'account ' || account_id || ' has cancelled {cancel_threshold} orders today', ts
FROM (
  SELECT trading_day, account_id, instrument_id, ts,
         COUNT(*) OVER (PARTITION BY account_id ORDER BY proc
                        ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS cancels
  FROM orders WHERE event = 'CANCEL' AND trading_day = '{day}'
)
WHERE cancels = {cancel_threshold}"""


def run(
    bootstrap: str,
    day: str,
    checkpoints: Path,
    cancel_threshold: int,
    checkpoint_ms: int = 1000,
    group: str = "dayclear-surveillance",
    restore: Path | None = None,
    parallelism: int = 1,
) -> None:
    env = streaming_env(checkpoints, checkpoint_ms, restore, parallelism)
    for ddl in (
        source_ddl("orders", bootstrap, group),
        source_ddl("trades", bootstrap, group),
        _alerts_sink(bootstrap, f"{group}-{day}"),
    ):
        env.execute_sql(ddl)
    env.execute_sql(statement(day, cancel_threshold)).wait()  # until cancelled or stopped


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--day", required=True, help="the open trading day")
    parser.add_argument("--checkpoints", type=Path, help="checkpoint folder")
    parser.add_argument("--cancel-threshold", type=int)
    parser.add_argument("--checkpoint-ms", type=int, default=1000)
    parser.add_argument("--group", default="dayclear-surveillance", help="Kafka consumer group")
    parser.add_argument(
        "--restore", action="store_true", help="resume from the latest completed checkpoint"
    )
    parser.add_argument("--parallelism", type=int, default=1)
    args = parser.parse_args(argv)
    logs.setup(args.day)

    checkpoints = args.checkpoints or state_dir() / "checkpoints" / "surveillance"
    checkpoints.mkdir(parents=True, exist_ok=True)
    threshold = args.cancel_threshold or json.loads(THRESHOLDS.read_text())["cancel_count"]
    restore = latest_checkpoint(checkpoints) if args.restore else None
    log.info("surveillance job for %s; restoring from %s", args.day, restore)
    run(
        args.bootstrap,
        args.day,
        checkpoints,
        threshold,
        args.checkpoint_ms,
        args.group,
        restore,
        args.parallelism,
    )


if __name__ == "__main__":
    main()
