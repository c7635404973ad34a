"""The settlement task of the fault tests: a process of its own that settles a frozen day and
publishes it, so that a test can kill it, fill its disk or start two of it at once.

    python -m tests.faults.publisher WORK OUT [--reason R]

It runs what the settlement DAG's ``settle_and_publish`` runs (``driver.pipeline.settle_snapshot``
then ``publish_result``) on the worked-example day of tests/test_rules_day.py (2026-11-23: 4
accounts of 2 members, 3 trades, expiries and fallbacks) frozen in ``WORK/snapshot`` by
:func:`prepare`, as the close would have frozen it: no Kafka or Flink needed. It exits as
``dayclear`` does: 0 with the summary on stdout, 2 with ``dayclear: <why>`` and "nothing was
published." on stderr.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dayclear.config import code_version
from driver.pipeline import (
    TERMS,
    build_snapshot_journal,
    bundle_fingerprint,
    publish_result,
    settle_snapshot,
    summary,
)
from edge.bundle import load_inputs
from edge.tables import write_staged
from schemas.registry import file_spec
from settlement.errors import DayclearError
from tests.rules_day import DAY, rules_day_aggregates, rules_day_bundle


def prepare(work: Path) -> tuple[Path, Path]:
    """The worked-example day's bundle and its frozen snapshot (aggregates and trade journal)
    under ``work``: what the close leaves for the settlement task."""
    bundle = rules_day_bundle(work)
    snapshot = work / "snapshot"
    aggregates = rules_day_aggregates()
    for name, frame in vars(aggregates).items():
        spec = file_spec(f"agg_{name}")
        write_staged(frame, spec, snapshot / spec.path.removesuffix(".csv") / "part-00000.csv")
    build_snapshot_journal(snapshot, load_inputs(bundle, DAY), DAY)
    return bundle, snapshot


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("work", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--reason", default="")
    args = parser.parse_args(argv)
    bundle, snapshot = args.work / "bundle", args.work / "snapshot"
    lineage: dict[str, object] = {
        "source": "snapshot",
        "inputs": bundle_fingerprint(bundle, TERMS),
        "code_version": code_version(),
        "settled_by": {"path": "batch", "reason": "fault test"},
    }
    try:
        rendered = settle_snapshot(bundle, DAY, snapshot)
        publication = publish_result(rendered, snapshot, args.out, lineage, args.reason)
    except DayclearError as exc:
        print(f"dayclear: {exc}", file=sys.stderr)
        print("nothing was published.", file=sys.stderr)
        return 2
    print(summary(publication), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
