"""The settlement-engine benchmark at exchange scale: (a) stream-assisted vs (b) batch-only end of day.

Steps, one command (defaults: 100,000 accounts, 20 million trades, 20 orders per trade = 400 million
orders, all listed instruments):

1. generate the day (bench/exchange_day.py; reference + opening by the simulator, events vectorised);
2. pre-aggregate it with the production Flink job in batch mode over the event files (intraday work in
   production: reported separately, not part of either end of day);
3. (a) the stream-assisted end of day: read the frozen aggregates, every rule (settle_day), render every
   published file for every member — in a fresh child process, wall time and peak RSS;
4. (b) the batch-only end of day: audit/recompute.py, every rule from the raw events in DuckDB SQL —
   in a fresh child process (its rendering is not counted, which favours (b));
5. reconcile (a) against (b) (audit/reconcile.py): the figures count only if both give the same results.

    .venv/bin/python bench/exchange_scale.py [--accounts 100000 --trades 20000000] [--work DIR]
    .venv/bin/python bench/exchange_scale.py --accounts 25000 --trades 1000000   # a quick look

Children are timed side by side in this one run; the figures go to stdout as a Markdown table row and
to ``<work>/result.json``.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DAY = date(2026, 11, 23)


def _child(step: str, work: Path) -> dict[str, float]:
    """Run one end of day in a fresh interpreter; returns its wall seconds and peak RSS (MiB)."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, __file__, "--step", step, "--work", str(work)],
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"step {step} failed:\n{done.stdout}\n{done.stderr[-4000:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return {"wall_s": wall, **figures}


def _peak_mib() -> float:
    """This process's peak RSS since its exec (VmHWM; ru_maxrss would carry the parent's over exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def step_a(work: Path) -> dict[str, float]:
    from dayclear.pipeline import load_inputs
    from settlement.aggregates import read_aggregates
    from settlement.eod import settle_day
    from settlement.publish import publish

    started = time.perf_counter()
    inputs = load_inputs(work / "bundle", DAY)
    result, breaks = settle_day(
        DAY, inputs.reference, inputs.opening, read_aggregates(work / "snapshot")
    )
    assert result is not None and not breaks, breaks[:5]
    out = work / "published"
    shutil.rmtree(out, ignore_errors=True)
    members = inputs.reference.members["member_id"].sort().to_list()
    publish(result, out, members, {"source": "bench"})
    return {"inner_s": time.perf_counter() - started, "peak_mib": _peak_mib()}


def step_b(work: Path) -> dict[str, float]:
    from audit.recompute import part_files_source, recompute

    started = time.perf_counter()
    sources = {
        t: part_files_source(work / "staging" / f"{t}.csv", t)
        for t in ("orders", "trades", "fund_movements")
    }
    recompute(work / "bundle", DAY, work / "batch.duckdb", sources).close()
    return {"inner_s": time.perf_counter() - started, "peak_mib": _peak_mib()}


def reconcile_ab(work: Path) -> dict[str, object]:
    import duckdb

    from audit.reconcile import reconcile

    con = duckdb.connect(str(work / "batch.duckdb"))
    report = reconcile(con, work / "published" / DAY.isoformat() / "v1")
    return {"passed": report["passed"], "summary": report["summary"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--trades", type=int, default=20_000_000)
    parser.add_argument("--orders-per-trade", type=int, default=20)
    parser.add_argument("--work", type=Path, help="working folder (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the working folder")
    parser.add_argument("--step", choices=["a", "b"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        figures = step_a(args.work) if args.step == "a" else step_b(args.work)
        print(json.dumps(figures))
        return

    from exchange_day import ExchangeDay, generate

    from dayclear.pipeline import run_preaggregation

    work = args.work or Path(tempfile.mkdtemp(prefix="dayclear-exchange-"))
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        t0 = time.perf_counter()
        counts = generate(
            ExchangeDay(DAY, args.accounts, args.trades, args.orders_per_trade),
            work / "bundle",
            work / "staging",
        )
        t1 = time.perf_counter()
        print(f"generated {counts} in {t1 - t0:.0f} s", flush=True)
        run_preaggregation(work / "staging", work / "snapshot", log=work / "flink.log")
        t2 = time.perf_counter()
        print(f"Flink pre-aggregation (batch mode, intraday work): {t2 - t1:.0f} s", flush=True)
        a = _child("a", work)
        print(f"(a) stream-assisted EOD: {a}", flush=True)
        b = _child("b", work)
        print(f"(b) batch-only EOD: {b}", flush=True)
        check = reconcile_ab(work)
        print(f"reconciliation (a) vs (b): {check}", flush=True)
        result = {
            "accounts": args.accounts,
            **counts,
            "generate_s": t1 - t0,
            "flink_s": t2 - t1,
            "a": a,
            "b": b,
            "ratio": b["wall_s"] / a["wall_s"],
            "reconciled": check,
        }
        (work / "result.json").write_text(json.dumps(result, indent=2, default=str))
        print(
            f"| {args.accounts:,} | {counts['orders']:,} | {counts['trades']:,} | {t2 - t1:.0f} "
            f"| {a['wall_s']:.1f} | {a['peak_mib']:,.0f} | {b['wall_s']:.1f} | {b['peak_mib']:,.0f} "
            f"| {result['ratio']:.1f} | {check['passed']} |"
        )
    finally:
        if not args.keep and not args.work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
