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
    from jobs.surveillance import source_ddl

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
            env.execute_sql(
                source_ddl(topic, args.bootstrap, args.group, "`v` STRING", "'format' = 'raw'")
            )
            selects.append(f"SELECT `v` AS x FROM {topic}")
        else:  # exactly the surveillance job's source
            env.execute_sql(source_ddl(topic, args.bootstrap, args.group))
            selects.append(f"SELECT `trading_day` AS x FROM {topic}")
    env.execute_sql("CREATE TEMPORARY TABLE sink (x STRING) WITH ('connector' = 'blackhole')")
    env.execute_sql("INSERT INTO sink " + " UNION ALL ".join(selects)).wait()


if __name__ == "__main__":
    main()
