"""Where the stream-assisted end of day spends its time, on a day prepared by bench/exchange_scale.py.

Runs (a) — ``driver.pipeline.settle_snapshot`` and ``publish_result``, as the benchmark does —
once, with the named steps timed cumulatively (a step called per shard is summed over the shards;
nested steps are counted in their callers too, so the shares do not add up to 100 %).

    .venv/bin/python bench/exchange_scale.py --work /tmp/x --gzip-orders --stop-after flink
    .venv/bin/python bench/eod_profile.py --work /tmp/x [--drop-caches]

``--drop-caches`` (root only) empties the page cache first, so the snapshot, the journal and the
linked trade files are read from the disk, as on a machine that did not build them.
"""

from __future__ import annotations

import argparse
import collections
import importlib
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from types import ModuleType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DAY = date(2026, 11, 23)  # bench/exchange_scale.py's day
STEPS = {
    "driver.pipeline": ["read_aggregates"],
    "edge.journal_files": ["read_journal"],
    "driver.shards": ["_split", "settle_day", "render", "spooled", "csv_bytes"],
    "settlement.eod": ["priced", "declaration_fees", "account_margin", "funds"],
    "publication.publish": ["sync_tree", "verify_folder"],
}


def timed(seconds: collections.defaultdict[str, float], module: ModuleType, name: str) -> None:
    inner: Callable[..., Any] = getattr(module, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            seconds[f"{module.__name__}.{name}"] += time.perf_counter() - started

    setattr(module, name, wrapper)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="a folder of exchange_scale.py")
    parser.add_argument("--drop-caches", action="store_true", help="empty the page cache first")
    args = parser.parse_args()
    if args.drop_caches:
        subprocess.run(["sync"], check=True)
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    seconds: collections.defaultdict[str, float] = collections.defaultdict(float)
    for module_name, names in STEPS.items():
        for name in names:
            timed(seconds, importlib.import_module(module_name), name)
    import driver.pipeline as pipeline
    from edge.bundle import load_inputs

    out = args.work / "published_profile"
    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    snapshot, bundle = args.work / "snapshot", args.work / "bundle"
    rendered = pipeline.settle_snapshot(bundle, DAY, snapshot, load_inputs(bundle, DAY))
    settled = time.perf_counter()
    pipeline.publish_result(rendered, snapshot, out, {"source": "bench"})
    ended = time.perf_counter()
    total = ended - started
    shutil.rmtree(out, ignore_errors=True)
    print(
        f"(a) {total:.1f} s: settle and render {settled - started:.1f} s, publish {ended - settled:.1f} s"
    )
    print("| step | seconds | share of (a) |\n|---|---:|---:|")
    # largest first, as Counter.most_common orders them (a Counter holds ints, these are floats)
    for step, spent in sorted(seconds.items(), key=lambda item: item[1], reverse=True):
        print(f"| `{step}` | {spent:.1f} | {spent / total:.0%} |")


if __name__ == "__main__":
    main()
