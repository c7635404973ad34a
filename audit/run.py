"""One audit of a published day: recompute, reconcile, invariants and expectations -> one report.

The report and its working files live in ``OUT/<D>/audit/v<N>/`` beside the (immutable) version:
``reconciliation.html`` for staff, ``reconciliation.json``, ``recompute.duckdb`` to query, and the Great
Expectations Data Docs under ``gx/``.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from audit.expectations import validate
from audit.recompute import recompute
from audit.reconcile import Reconciliation, reconcile, write_report


def audit_day(bundle: Path, day: date, out: Path) -> tuple[Reconciliation, Path]:
    day_dir = out / day.isoformat()
    version = (day_dir / "LATEST").read_text().strip()
    folder, target = day_dir / version, day_dir / "audit" / version
    target.mkdir(parents=True, exist_ok=True)
    report = reconcile(recompute(bundle, day, target / "recompute.duckdb"), folder)
    expectations = validate(bundle, folder, target / "gx")
    report["expectations"] = expectations
    failed_suites = [name for name, r in expectations.items() if not r["success"]]
    report["summary"]["expectation_suites_failed"] = failed_suites
    report["passed"] = bool(report["passed"]) and not failed_suites
    report["data_docs"] = str(
        target / "gx" / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
    )
    _, html_path = write_report(report, target)
    return report, html_path


def reconciled_differences(bundle: Path, day: date, folder: Path, database: Path) -> int:
    """The differences between a published ``folder`` and the independent recompute of ``day``
    from ``bundle`` (kept in ``database``); an AssertionError naming them if a §12 invariant fails.
    What the live-session benchmark and the fault campaign report for each day they settle."""
    con = recompute(bundle, day, database)
    try:
        summary = reconcile(con, folder)["summary"]
    finally:
        con.close()
    assert isinstance(summary, dict)
    if summary["invariants_failed"]:
        raise AssertionError(f"§12 invariants failed: {summary['invariants_failed']}")
    return int(summary["differences"])
