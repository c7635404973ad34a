"""What the staff pages show, computed from the day's files: breaks with their rows, and chart data."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import duckdb
import polars as pl

from audit.reconcile import COMPARED_FILES
from edge.aggregates import read_aggregate
from portal import charts
from portal import days as d
from portal import formatting as fmt
from settlement.calendar import session_length_micros
from settlement.numbers import round_half_up
from settlement.prices import window_of_minute

Gettext = Callable[[str], str]


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


def member_margin_chart(manifest: dict[str, Any], gettext: Gettext, top: int = 15) -> str:
    members = manifest.get("members") or {}
    ranked = sorted(members.items(), key=lambda kv: Decimal(kv[1]["margin"]), reverse=True)[:top]
    return charts.bars(
        gettext("Margin and margin calls per member (top %(n)s by margin)") % {"n": len(ranked)},
        [m for m, _ in ranked],
        {
            gettext("margin"): [Decimal(t["margin"]) for _, t in ranked],
            gettext("margin call"): [Decimal(t["margin_call"]) for _, t in ranked],
        },
        value_label=gettext("amount (CNY)"),
        category_label=gettext("member"),
    )


def reconciliation_chart(report: dict[str, Any], gettext: Gettext) -> str:
    summary = report.get("summary", {})
    compared = summary.get("rows_compared", {})
    per_table = {t: 0 for t in compared}
    for diff in report.get("differences", []):
        per_table[diff["table"]] = per_table.get(diff["table"], 0) + 1
    tables = sorted(per_table)
    return charts.bars(
        gettext("Stream-assisted result vs independent recompute: differing values per file"),
        tables,
        {gettext("differences"): [per_table[t] for t in tables]},
        value_label=gettext("differing values"),
        category_label=gettext("file"),
    )


def window_vwaps(minutes: pl.DataFrame, session_minutes: int) -> list[tuple[int, Decimal]]:
    """(window, VWAP) of an instrument's trading minutes, latest window first, the windows numbered by
    the rules' own :func:`settlement.prices.window_of_minute` (§3.2: a trade at the close instant is
    in W1); the VWAP is rounded to 4 places by the numbers module, for display."""
    per_window = (
        minutes.with_columns(
            window_of_minute(pl.col("minute"), pl.lit(session_minutes)).alias("window")
        )
        .group_by("window")
        .agg(pl.col("pq"), pl.col("qty").sum())
        .sort("window")
    )
    return [
        (
            int(row["window"]),
            round_half_up(sum((Decimal(str(v)) for v in row["pq"]), Decimal(0)) / row["qty"], 4),
        )
        for row in per_window.iter_rows(named=True)
    ]


def price_windows(
    src: d.Sources, day: str, instrument: str, settle: dict[str, str], gettext: Gettext
) -> str:
    """Settlement price against the VWAP of each 60-trading-minute window (SETTLEMENT_RULES §3)."""
    title = gettext("%(instrument)s: VWAP per 60-minute window vs settlement price") % {
        "instrument": instrument
    }
    minutes = read_aggregate(src.snapshots / day, "agg_instrument_minutes")
    rows = minutes.filter(pl.col("instrument_id") == instrument, pl.col("minute") >= 0)
    if rows.is_empty():
        return charts.empty(title, gettext("no trades in this instrument today: no windows."))
    session = d.sessions(src, day).get(settle.get("product", ""))
    if session is None:
        return charts.empty(
            title, gettext("no reference data for this day: the trading session is unknown.")
        )
    windows = list(reversed(window_vwaps(rows, session_length_micros(session) // 60_000_000)))
    labels = [
        gettext("last hour") if k == 1 else gettext("window %(k)s") % {"k": k} for k, _ in windows
    ]
    return charts.lines(
        title,
        labels,
        {gettext("window VWAP"): [v for _, v in windows]},
        x_label=gettext("60-minute window, earliest to the close"),
        y_label=gettext("price"),
        too_few=gettext("trades in one window only: its VWAP is the settlement basis, %(v)s.")
        % {"v": fmt.exact(windows[0][1])},
        levels={gettext("settlement"): Decimal(settle["settle_price"])},
    )


def health_reading(health: dict[str, Any] | None) -> dict[str, Any] | None:
    """The last stream-health reading as shown: no reading is negative (a checkpoint "taken" a moment
    after the reading, by clocks that differ by a little, is 0 s old, not -0.1 s)."""
    if not health:
        return health
    shown = dict(health)
    for key in ("checkpoint_age_seconds", "events_per_second"):
        value = shown.get(key)
        if isinstance(value, (int, float)):
            shown[key] = max(0, value)
    return shown


def stream_chart(history: list[dict[str, Any]], gettext: Gettext) -> str:
    title = gettext("Events/s and consumer lag through the session")
    if not history:
        return charts.empty(
            title,
            gettext(
                "no stream health readings for this day: the ops DAG reads the stream every "
                "5 minutes during the session, and none ran."
            ),
        )
    xs = [fmt.clock(h["at"]) for h in history]
    lag = [
        max(0, sum(t.get("consumer_lag") or 0 for t in h.get("topics", {}).values()))
        for h in history
    ]
    rate = [
        max(0, h["events_per_second"]) if h.get("events_per_second") is not None else None
        for h in history
    ]
    return charts.lines(
        title,
        xs,
        {gettext("events/s"): rate, gettext("lag (records)"): lag},
        x_label=gettext("exchange time"),
        y_label=gettext("events/s, records"),
        too_few=gettext(
            "one reading so far (at %(at)s): the ops DAG reads the stream every 5 minutes, so a "
            "curve needs a session of more than one reading."
        )
        % {"at": xs[0]},
    )


def exchange_prices(src: d.Sources, day: str, version: str) -> list[dict[str, str]]:
    """The version's settlement prices, checked against its manifest before they are read."""
    try:
        return d.read_csv(d.exchange_file(src, day, version, "settlement_prices.csv"))
    except d.NotFound:
        return []
