"""What the staff pages show, computed from the day's files: breaks with their rows, and chart data."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl

from audit.reconcile import COMPARED_FILES
from settlement.aggregates import read_aggregate
from settlement.calendar import HOUR_MICROS, session_length_micros

from . import charts
from . import days as d


def breaks_of(report: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Every break of a reconciliation report, numbered: differences, then failed invariants."""
    if not report:
        return []
    found: list[dict[str, Any]] = [
        {"kind": "difference", **diff} for diff in report.get("differences", [])
    ]
    for name, rows in (report.get("invariants") or {}).items():
        for row in rows:
            found.append({"kind": "invariant", "name": name, "row": row})
    return [{"n": n, **b} for n, b in enumerate(found, 1)]


def stopped_by_file(report: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The problems of ``breaks.json`` (a day stopped before publication) grouped by file, in the
    report's order, each file with its count; every problem is there."""
    if not report:
        return []
    groups: dict[str, list[dict[str, Any]]] = {}
    for problem in report.get("problems", []):
        groups.setdefault(problem.get("source", "-"), []).append(problem)
    return [{"file": f, "count": len(found), "problems": found} for f, found in groups.items()]


def _key_filter(record: str) -> dict[str, str]:
    pairs = (part.split("=", 1) for part in record.split(" ") if "=" in part)
    return {k: v for k, v in pairs if k.isidentifier()}


def rows_behind(src: d.Sources, day: str, version: str, brk: dict[str, Any]) -> dict[str, Any]:
    """The published row and the recomputed row behind a difference, from the audit's DuckDB file."""
    import duckdb

    database = src.out / day / "audit" / version / "recompute.duckdb"
    if brk["kind"] != "difference" or not database.is_file():
        return {}
    table = brk["table"]
    if table not in COMPARED_FILES:
        return {}
    keys = _key_filter(brk["record"])
    where = " AND ".join(f'CAST("{k}" AS VARCHAR) = ?' for k in keys) or "TRUE"
    out: dict[str, Any] = {}
    con = duckdb.connect(str(database), read_only=True)
    try:
        for side, name in (("published", f"pub_{table}"), ("recomputed", f"rc_{table}")):
            cursor = con.execute(
                f"SELECT * FROM {name} WHERE {where} LIMIT 20", list(keys.values())
            )
            columns = [c[0] for c in cursor.description]
            out[side] = {
                "columns": columns,
                "rows": [[str(v) for v in r] for r in cursor.fetchall()],
            }
    finally:
        con.close()
    return out


def member_margin_chart(manifest: dict[str, Any], top: int = 15) -> str:
    members = manifest.get("members") or {}
    ranked = sorted(members.items(), key=lambda kv: Decimal(kv[1]["margin"]), reverse=True)[:top]
    return charts.bars(
        f"Margin and margin calls per member (top {len(ranked)} by margin)",
        [m for m, _ in ranked],
        {
            "margin": [Decimal(t["margin"]) for _, t in ranked],
            "margin call": [Decimal(t["margin_call"]) for _, t in ranked],
        },
    )


def reconciliation_chart(report: dict[str, Any]) -> str:
    summary = report.get("summary", {})
    compared = summary.get("rows_compared", {})
    per_table = {t: 0 for t in compared}
    for diff in report.get("differences", []):
        per_table[diff["table"]] = per_table.get(diff["table"], 0) + 1
    tables = sorted(per_table)
    return charts.bars(
        "Stream-assisted result vs independent recompute: differing values per file",
        tables,
        {"differences": [per_table[t] for t in tables]},
    )


def price_windows(src: d.Sources, day: str, instrument: str, settle: dict[str, str]) -> str:
    """Settlement price against the VWAP of each 60-trading-minute window (SETTLEMENT_RULES §3)."""
    minutes = read_aggregate(src.snapshots / day, "agg_instrument_minutes")
    rows = minutes.filter(pl.col("instrument_id") == instrument, pl.col("minute") >= 0)
    if rows.is_empty():
        return '<p class="muted">No trades in this instrument today: no windows to show.</p>'
    session = d.sessions(src, day).get(settle.get("product", ""))
    if session is None:
        return (
            '<p class="muted">No reference data for this day: the trading session is unknown.</p>'
        )
    last_minute = session_length_micros(session) // 60_000_000
    per_window: dict[int, tuple[Decimal, int]] = {}
    for row in rows.iter_rows(named=True):
        k = (last_minute - int(row["minute"]) - 1) // (HOUR_MICROS // 60_000_000) + 1
        pq, q = per_window.get(k, (Decimal(0), 0))
        per_window[k] = (pq + Decimal(str(row["pq"])), q + int(row["qty"]))
    windows = sorted(per_window, reverse=True)
    vwaps = [(per_window[k][0] / per_window[k][1]).quantize(Decimal("0.0001")) for k in windows]
    labels = ["last hour" if k == 1 else f"window {k}" for k in windows]
    levels = {"settlement": Decimal(settle["settle_price"])}
    return charts.lines(
        f"{instrument}: VWAP per 60-minute window vs settlement price ({settle.get('price_source', '')}; "
        f"limits {settle.get('limit_down', '')}–{settle.get('limit_up', '')})",
        labels,
        {"window VWAP": vwaps},
        levels=levels,
    )


def stream_chart(history: list[dict[str, Any]]) -> str:
    if not history:
        return '<p class="muted">No stream health readings recorded for this day.</p>'
    from datetime import datetime
    from zoneinfo import ZoneInfo

    xs = [
        datetime.fromtimestamp(h["at"], ZoneInfo("Asia/Shanghai")).strftime("%H:%M")
        for h in history
    ]
    lag = [sum(t.get("consumer_lag") or 0 for t in h.get("topics", {}).values()) for h in history]
    rate = [h.get("events_per_second") for h in history]
    return charts.lines(
        "Events/s and consumer lag through the session",
        xs,
        {"events/s": rate, "lag (records)": lag},
    )


def exchange_prices(src: d.Sources, day: str, version: str) -> list[dict[str, str]]:
    d.manifest(src, day, version)
    path: Path = src.out / day / version / "exchange" / "settlement_prices.csv"
    return d.read_csv(path.read_bytes()) if path.is_file() else []
