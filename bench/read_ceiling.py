"""What the surveillance job's throughput is made of: the same Flink streaming set-up (checkpoints,
offsets committed to the group) reading ``orders`` and ``trades`` into a blackhole sink, either as
raw text (Kafka fetch + Flink runtime only) or decoded as the surveillance job decodes them (JSON,
the fields it reads). Started by bench/stream_throughput.py beside the real job.

    python bench/read_ceiling.py --bootstrap B --group G --checkpoints DIR --decode raw|json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    from jobs.streaming import streaming_env
    from jobs.surveillance import USED
    from schemas.registry import topic_spec

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--checkpoints", type=Path, required=True)
    parser.add_argument("--checkpoint-ms", type=int, default=1000)
    parser.add_argument("--decode", choices=("raw", "json"), required=True)
    args = parser.parse_args()
    env = streaming_env(args.checkpoints, args.checkpoint_ms, None, 1)
    selects = []
    for topic in ("orders", "trades"):
        if args.decode == "raw":
            cols, fmt = "`v` STRING", "'format' = 'raw'"
        else:
            cols = ", ".join(
                f"`{c.name}` {'BIGINT' if c.type == 'int' else 'STRING'}"
                for c in topic_spec(topic).columns
                if c.name in USED[topic]
            )
            fmt = "'format' = 'json', 'json.ignore-parse-errors' = 'true'"
        env.execute_sql(f"""CREATE TEMPORARY TABLE {topic} ({cols}) WITH (
  'connector' = 'kafka', 'topic' = '{topic}', 'properties.bootstrap.servers' = '{args.bootstrap}',
  'properties.group.id' = '{args.group}', 'scan.startup.mode' = 'earliest-offset',
  'properties.isolation.level' = 'read_committed',
  'properties.commit.offsets.on.checkpoint' = 'true', {fmt})""")
        first = "`v`" if args.decode == "raw" else "`trading_day`"
        selects.append(f"SELECT {first} AS x FROM {topic}")
    env.execute_sql("CREATE TEMPORARY TABLE sink (x STRING) WITH ('connector' = 'blackhole')")
    env.execute_sql("INSERT INTO sink " + " UNION ALL ".join(selects)).wait()


if __name__ == "__main__":
    main()
