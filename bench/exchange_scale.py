"""The settlement-engine benchmark at exchange scale: (a) stream-assisted vs (b) batch-only end of day.

Steps, one command (defaults: 100,000 accounts, 20 million trades, 20 orders per trade = 400 million
orders, all listed instruments):

1. generate the day (bench/exchange_day.py; reference + opening by the simulator, events vectorised);
2. pre-aggregate it with the production Flink job in batch mode over the event files (intraday work in
   production: reported separately, not part of either end of day);
3. the trade journal (edge/journal_files.py): each leg's fee and premium and every member's
   finished trades.csv, built from the frozen legs chunk by chunk, with the per-position sums the end
   of day reads — work that depends on no settlement price (reported separately, like step 2);
4. (a) the stream-assisted end of day, the production code (driver.pipeline.settle_snapshot and
   publish_result): read the frozen aggregates and the journal's sums, every rule shard by shard of
   members (driver/shards.py), render every other published file for every member, link and
   verify the journal's trade files — in a fresh child process, wall time and peak RSS;
5. (b) the batch-only end of day: audit/recompute.py, every rule from the raw events in DuckDB SQL —
   in a fresh child process (its rendering is not counted, which favours (b));
6. reconcile (a) against (b) (audit/reconcile.py): the figures count only if both give the same results.

    .venv/bin/python bench/exchange_scale.py [--accounts 100000 --trades 20000000] [--work DIR]
    .venv/bin/python bench/exchange_scale.py --accounts 25000 --trades 1000000   # a quick look
    .venv/bin/python bench/exchange_scale.py --work /tmp/x --gzip-orders --stop-after flink  # then
    .venv/bin/python bench/exchange_scale.py --work /tmp/x --reuse   # the timed steps on that day

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


def step_journal(work: Path) -> dict[str, float]:
    from driver.pipeline import build_snapshot_journal
    from edge.bundle import load_inputs

    started = time.perf_counter()
    build_snapshot_journal(work / "snapshot", load_inputs(work / "bundle", DAY), DAY)
    return {"inner_s": time.perf_counter() - started, "peak_mib": _peak_mib()}


def step_a(work: Path) -> dict[str, float]:
    from driver.pipeline import publish_result, settle_snapshot
    from edge.bundle import load_inputs

    started = time.perf_counter()
    out = work / "published"
    shutil.rmtree(out, ignore_errors=True)
    snapshot = work / "snapshot"
    rendered = settle_snapshot(work / "bundle", DAY, snapshot, load_inputs(work / "bundle", DAY))
    publish_result(rendered, snapshot, out, {"source": "bench"})
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


STEPS = {"journal": step_journal, "a": step_a, "b": step_b}


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
    parser.add_argument(
        "--gzip-orders", action="store_true", help="gzip the orders part files (read by both paths)"
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep a day already generated (and pre-aggregated) in --work instead of starting over",
    )
    parser.add_argument(
        "--stop-after", choices=["generate", "flink"], help="stop after this step (with --work)"
    )
    parser.add_argument("--step", choices=list(STEPS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        print(json.dumps(STEPS[args.step](args.work)))
        return

    from exchange_day import ExchangeDay, generate

    from driver.pipeline import run_preaggregation

    work = args.work or Path(tempfile.mkdtemp(prefix="dayclear-exchange-"))
    generated, flinked = work / "generated.json", work / "flink.json"
    if not (args.reuse and generated.exists()):
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
    try:
        if args.reuse and generated.exists():
            counts, generate_s = json.loads(generated.read_text())
        else:
            t0 = time.perf_counter()
            counts = generate(
                ExchangeDay(
                    DAY,
                    args.accounts,
                    args.trades,
                    args.orders_per_trade,
                    gzip_orders=args.gzip_orders,
                ),
                work / "bundle",
                work / "staging",
            )
            generate_s = time.perf_counter() - t0
            generated.write_text(json.dumps([counts, generate_s]))
        print(f"generated {counts} in {generate_s:.0f} s", flush=True)
        if args.stop_after == "generate":
            return
        if args.reuse and flinked.exists():
            flink_s = json.loads(flinked.read_text())
        else:
            t1 = time.perf_counter()
            shutil.rmtree(work / "snapshot", ignore_errors=True)
            run_preaggregation(work / "staging", work / "snapshot", log=work / "flink.log")
            flink_s = time.perf_counter() - t1
            flinked.write_text(json.dumps(flink_s))
        print(f"Flink pre-aggregation (batch mode, intraday work): {flink_s:.0f} s", flush=True)
        if args.stop_after == "flink":
            return
        journal = _child("journal", work)
        print(f"trade journal from the legs (intraday work): {journal}", flush=True)
        a = _child("a", work)
        print(f"(a) stream-assisted EOD: {a}", flush=True)
        b = _child("b", work)
        print(f"(b) batch-only EOD: {b}", flush=True)
        check = reconcile_ab(work)
        print(f"reconciliation (a) vs (b): {check}", flush=True)
        result = {
            "accounts": args.accounts,
            **counts,
            "generate_s": generate_s,
            "flink_s": flink_s,
            "journal": journal,
            "a": a,
            "b": b,
            "ratio": b["wall_s"] / a["wall_s"],
            "reconciled": check,
        }
        (work / "result.json").write_text(json.dumps(result, indent=2, default=str))
        print(
            f"| {args.accounts:,} | {counts['orders']:,} | {counts['trades']:,} | {flink_s:.0f} "
            f"| {journal['wall_s']:.0f} | {journal['peak_mib']:,.0f} "
            f"| {a['wall_s']:.1f} | {a['peak_mib']:,.0f} | {b['wall_s']:.1f} | {b['peak_mib']:,.0f} "
            f"| {result['ratio']:.1f} | {check['passed']} |"
        )
    finally:
        if not args.keep and not args.work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
