"""A published day with a story, for the portal's tests and screenshots, made by the real pipeline.

The stream path loses one trade, so v1 is published from aggregates that miss it; the audit's full
recompute from the raw events finds the breaks (the trade's legs, the positions and funds they move).
The corrected bundle is re-issued as v2 with a reason; v2's audit and smoke checks pass and the day is
final. Members see the re-issue notice and what changed in their own files.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

from devtools.simulator import SimulationConfig, simulate
from driver.pipeline import replay
from orchestration.dag_support import RunPaths, audit_latest, smoke_latest
from publication.status import mark

DAY = date(2026, 11, 23)
MEMBERS = 8


def build_story(state: Path) -> dict[str, object]:
    bundle, lossy = state / "bundles" / DAY.isoformat(), state / "work" / "lossy"
    out = state / "published"
    simulate(SimulationConfig(day=DAY, accounts=240, trades=600, members=MEMBERS), bundle)
    shutil.copytree(bundle, lossy)
    trades = (lossy / "events" / "trades.csv").read_text().splitlines()
    lost = next(line for line in trades[1:] if line.count(",OPEN,") == 2)
    (lossy / "events" / "trades.csv").write_text("\n".join(t for t in trades if t != lost) + "\n")
    paths = RunPaths(DAY, bundle, state / "snapshots" / DAY.isoformat(), out, None)

    replay(lossy, DAY, out, state / "work" / "v1")
    mark(out, DAY.isoformat(), settled_version=1)
    v1_report, _ = audit_latest(paths)
    smoke_latest(paths)

    trade_id = lost.split(",")[3]
    reason = f"trade {trade_id} was missing from the stream's aggregates (audit v1)"
    replay(bundle, DAY, out, state / "work" / "v2", reason=reason)
    shutil.copytree(state / "work" / "v2" / "snapshot", paths.snapshot)  # as the close freezes it
    mark(out, DAY.isoformat(), settled_version=2)
    v2_report, _ = audit_latest(paths)
    smoke_latest(paths)
    return {
        "out": out,
        "lost_seq": lost.split(",")[1],
        "lost_trade": trade_id,
        "reason": reason,
        "v1_passed": v1_report["passed"],
        "v2_passed": v2_report["passed"],
    }
