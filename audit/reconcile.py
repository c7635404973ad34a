"""Reconciliation of a published version against the independent recompute, and the §12 invariants.

Every check is a query that returns the rows that break it (zero rows = pass); the report is made of
those rows. Published text is turned into the same integer units as the recompute (cents, micro-prices,
otr × 10⁴) by DuckDB itself, so the comparison is exact to the cent.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, NotRequired, TypedDict

import duckdb

from edge.durable import replace_file
from edge.formats import json_bytes
from schemas.registry import file_spec

if TYPE_CHECKING:
    from audit.expectations import SuiteResult

# Published tables compared with the recompute: every column of the file's schema (schemas/) that the
# recompute also produces, by its logical type.
COMPARED_FILES = ("funds", "positions", "trades", "declaration_fees", "settlement_prices")
KIND = {"money": "money", "price": "price", "ratio4": "ratio4", "int": "int"}


def compared(table: str) -> tuple[str, list[str], dict[str, str]]:
    """(published path pattern, key columns, {column: kind}) of a published file, from schemas/."""
    spec = file_spec(table)
    pattern = spec.path.replace("{member_id}", "*")
    columns = {c.name: KIND.get(c.type, "text") for c in spec.columns if c.name not in spec.key}
    return pattern, list(spec.key), columns


CONVERT = {
    "money": "CAST(round(CAST({c} AS DECIMAL(38, 2)) * 100) AS HUGEINT)",
    "price": "CAST(round(CAST(NULLIF({c}, '') AS DECIMAL(38, 6)) * 1000000) AS HUGEINT)",
    "ratio4": "CAST(round(CAST({c} AS DECIMAL(38, 4)) * 10000) AS HUGEINT)",
    "int": "CAST({c} AS BIGINT)",
    "text": "{c}",
}


@dataclass(frozen=True)
class Check:
    name: str
    rule: str
    description: str
    sql: str


def load_published(con: duckdb.DuckDBPyConnection, folder: Path) -> None:
    for table in COMPARED_FILES:
        pattern, key, columns = compared(table)
        cols = [
            *(
                f"{CONVERT['int' if k == 'seq' else 'text'].format(c=_q(k))} AS {_q(k)}"
                for k in key
            ),
            *(f"{CONVERT[kind].format(c=_q(c))} AS {_q(c)}" for c, kind in columns.items()),
        ]
        extra = (
            ", regexp_extract(filename, 'members/([^/]+)/', 1) AS member_id"
            if pattern.startswith("members")
            else ""
        )
        con.execute(
            f"CREATE OR REPLACE TABLE pub_{table} AS SELECT {', '.join(cols)}{extra} "
            f"FROM read_csv('{folder}/{pattern}', all_varchar = true, header = true, filename = true)"
        )


def _q(name: str) -> str:
    """A quoted SQL identifier (``offset`` is a reserved word)."""
    return f'"{name}"'


def differences(con: duckdb.DuckDBPyConnection) -> list[dict[str, str]]:
    """Rows that differ between the published files and the recompute, column by column."""
    rows: list[dict[str, str]] = []
    for table in COMPARED_FILES:
        _, key, all_columns = compared(table)
        produced = {row[0] for row in con.execute(f"DESCRIBE rc_{table}").fetchall()}
        columns = {c: kind for c, kind in all_columns.items() if c in produced}
        on = " AND ".join(f"p.{k} = r.{k}" for k in key)
        key_text = " || ' ' || ".join(
            f"'{k}=' || CAST(COALESCE(p.{k}, r.{k}) AS VARCHAR)" for k in key
        )
        for column in columns:
            query = (
                f"SELECT {key_text}, CAST(p.{column} AS VARCHAR), CAST(r.{column} AS VARCHAR), "
                f"p.{key[0]} IS NULL, r.{key[0]} IS NULL FROM pub_{table} p FULL JOIN rc_{table} r ON {on} "
                f"WHERE p.{column} IS DISTINCT FROM r.{column} ORDER BY 1"
            )
            kind = columns[column]
            for record, published, recomputed, only_recomputed, only_published in con.execute(
                query
            ).fetchall():
                rows.append(
                    {
                        "table": table,
                        "record": record,
                        "column": column,
                        "published": "(no row)" if only_recomputed else _text(published, kind),
                        "recomputed": "(no row)" if only_published else _text(recomputed, kind),
                    }
                )
    return rows


INVARIANTS = [
    Check(
        "open_interest",
        "§12",
        "per instrument, Σ long_qty = Σ short_qty",
        "SELECT instrument_id, sum(long_qty) AS long_qty, sum(short_qty) AS short_qty FROM pub_positions "
        "GROUP BY instrument_id HAVING sum(long_qty) <> sum(short_qty)",
    ),
    Check(
        "mtm_zero_sum",
        "§12",
        "per instrument, Σ total_mtm = 0 to the cent",
        "SELECT instrument_id, sum(total_mtm) AS total_mtm_cents FROM pub_positions GROUP BY instrument_id "
        "HAVING sum(total_mtm) <> 0",
    ),
    Check(
        "premium_balance",
        "§12",
        "per instrument, Σ premium paid = Σ premium received",
        "SELECT instrument_id, sum(premium) AS net_premium_cents FROM pub_trades GROUP BY instrument_id HAVING sum(premium) <> 0",
    ),
    Check(
        "funds_identity",
        "§10, §12",
        "per account, the funds identity holds to the cent",
        "SELECT account_id, balance, balance_prev + deposits - withdrawals + total_mtm + premium_received - premium_paid "
        "+ exercise_cash - trading_fees - declaration_fees - delivery_exercise_fees AS expected FROM pub_funds "
        "WHERE balance <> balance_prev + deposits - withdrawals + total_mtm + premium_received - premium_paid "
        "+ exercise_cash - trading_fees - declaration_fees - delivery_exercise_fees "
        "OR available <> balance - margin OR margin_call <> greatest(0, margin - balance)",
    ),
    Check(
        "pnl_split",
        "§6, §12",
        "close_pnl + position_mtm = total_mtm per row",
        "SELECT account_id, instrument_id, hedge_flag FROM pub_positions WHERE close_pnl + position_mtm <> total_mtm",
    ),
    Check(
        "within_limits",
        "§4, §12",
        "every non-final settlement price lies within the day's limits",
        "SELECT instrument_id, settle_price, limit_down, limit_up FROM pub_settlement_prices "
        "WHERE price_source <> 'FINAL' AND (settle_price < limit_down OR settle_price > limit_up)",
    ),
    Check(
        "positions_non_negative",
        "§12",
        "every position is ≥ 0",
        "SELECT account_id, instrument_id, hedge_flag FROM pub_positions WHERE long_qty < 0 OR short_qty < 0",
    ),
]


def invariant_breaks(
    con: duckdb.DuckDBPyConnection, folder: Path
) -> dict[str, list[dict[str, object]]]:
    found: dict[str, list[dict[str, object]]] = {}
    for check in INVARIANTS:
        cursor = con.execute(check.sql)
        names = [d[0] for d in cursor.description]
        found[check.name] = [
            dict(zip(names, map(_plain, row), strict=True)) for row in cursor.fetchall()
        ]
    found["control_totals"] = _control_total_breaks(con, folder)
    return found


SCALE = {"money": 2, "price": 6, "ratio4": 4}


def _text(value: str | None, kind: str) -> str:
    """Integer units back to plain decimal text for people (money 2 places, prices trimmed)."""
    if value is None:
        return "(empty)"
    if kind not in SCALE:
        return value
    amount = Decimal(value).scaleb(-SCALE[kind])
    return f"{amount:.2f}" if kind == "money" else f"{amount.normalize():f}"


def _cents(text: str) -> int:
    return int(Decimal(text) * 100)


def _plain(value: object) -> object:
    return str(value) if not isinstance(value, (str, int, bool, type(None))) else value


def _control_total_breaks(con: duckdb.DuckDBPyConnection, folder: Path) -> list[dict[str, object]]:
    """§12: the manifest's control totals equal the sums of the rows; Σ members = exchange."""
    manifest = json.loads((folder / "manifest.json").read_text())
    sums = {
        row[0]: row[1:]
        for row in con.execute(
            "SELECT member_id, sum(balance), sum(margin), sum(total_mtm), sum(trading_fees), sum(declaration_fees), "
            "sum(margin_call) FROM pub_funds GROUP BY member_id"
        ).fetchall()
    }
    keys = ["balance", "margin", "total_mtm", "trading_fees", "declaration_fees", "margin_call"]
    out: list[dict[str, object]] = []
    exchange = dict.fromkeys(keys, 0)
    for member, totals in manifest["members"].items():
        actual = sums.get(member, (0,) * len(keys))
        for key, value in zip(keys, actual, strict=True):
            stated = _cents(totals[key])
            exchange[key] += stated
            if stated != int(value or 0):
                out.append(
                    {
                        "member_id": member,
                        "total": key,
                        "manifest_cents": stated,
                        "rows_cents": int(value or 0),
                    }
                )
    for key in keys:
        cents = _cents(manifest["exchange"][key])
        if cents != exchange[key]:
            out.append(
                {
                    "member_id": "(exchange)",
                    "total": key,
                    "manifest_cents": cents,
                    "rows_cents": exchange[key],
                }
            )
    return out


class ReconcileSummary(TypedDict):
    differences: int
    invariants_failed: list[str]
    rows_compared: dict[str, int]
    expectation_suites_failed: NotRequired[list[str]]  # added by audit.run.audit_day


class Reconciliation(TypedDict):
    """A published version reconciled against the recompute (reconciliation.json)."""

    trading_day: str
    version: int
    folder: str
    passed: bool
    summary: ReconcileSummary
    differences: list[dict[str, str]]
    invariants: dict[str, list[dict[str, object]]]
    # added by audit.run.audit_day
    expectations: NotRequired[dict[str, SuiteResult]]
    data_docs: NotRequired[str]


def _row_count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    row = con.execute(f"SELECT count(*) FROM {table}").fetchone()
    assert row is not None  # count(*) always returns one row
    count: int = row[0]
    return count


def reconcile(con: duckdb.DuckDBPyConnection, folder: Path) -> Reconciliation:
    load_published(con, folder)
    diffs = differences(con)
    invariants = invariant_breaks(con, folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    failed = [name for name, rows in invariants.items() if rows]
    return {
        "trading_day": manifest["trading_day"],
        "version": manifest["version"],
        "folder": str(folder),
        "passed": not diffs and not failed,
        "summary": {
            "differences": len(diffs),
            "invariants_failed": failed,
            "rows_compared": {t: _row_count(con, f"pub_{t}") for t in COMPARED_FILES},
        },
        "differences": diffs,
        "invariants": invariants,
    }


def write_report(report: Reconciliation, target: Path) -> tuple[Path, Path]:
    """The reconciliation report as JSON (machines) and HTML (settlement staff), written atomically."""
    json_path, html_path = target / "reconciliation.json", target / "reconciliation.html"
    replace_file(json_path, json_bytes(report))
    replace_file(html_path, render_html(report).encode())
    return json_path, html_path


#: Rows the HTML page shows of the differences and of each invariant: the page is for people;
#: the JSON report beside it (and the portal's break list) holds every row.
SHOWN_DIFFERENCES = 2000
SHOWN_INVARIANT_ROWS = 200


def _more(total: int, shown: int) -> str:
    """The line that says what a page leaves out, or nothing."""
    if total <= shown:
        return ""
    return f"<p>... and {total - shown} more (every one is in the JSON report beside this page)</p>"


def render_html(report: Reconciliation) -> str:
    e = html.escape
    diffs = report["differences"]
    invariants = report["invariants"]
    assert isinstance(diffs, list) and isinstance(invariants, dict)
    status = "PASSED" if report["passed"] else "BREAKS FOUND"
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>Reconciliation "
        f"{e(str(report['trading_day']))} v{report['version']}</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
        "padding:2px 6px;text-align:right}.ok{color:#060}.bad{color:#b00}</style></head><body>",
        f"<h1>Reconciliation {e(str(report['trading_day']))} v{report['version']}: "
        f"<span class='{'ok' if report['passed'] else 'bad'}'>{status}</span></h1>",
        "<p>Published files compared row by row with the independent full recompute from the raw events "
        "(DuckDB), and the invariants of SETTLEMENT_RULES §12.</p>",
        f"<h2>Differences ({len(diffs)})</h2>",
    ]
    if diffs:
        parts.append(
            "<table><tr><th>table</th><th>record</th><th>column</th><th>published</th><th>recomputed</th></tr>"
        )
        parts += [
            f"<tr><td>{e(d['table'])}</td><td>{e(d['record'])}</td><td>{e(d['column'])}</td>"
            f"<td>{e(str(d['published']))}</td><td>{e(str(d['recomputed']))}</td></tr>"
            for d in diffs[:SHOWN_DIFFERENCES]
        ]
        parts.append("</table>" + _more(len(diffs), SHOWN_DIFFERENCES))
    parts.append("<h2>Invariants</h2><table><tr><th>check</th><th>violating rows</th></tr>")
    for name, rows in invariants.items():
        parts.append(
            f"<tr><td>{e(name)}</td><td class='{'bad' if rows else 'ok'}'>{len(rows)}</td></tr>"
        )
    parts.append("</table>")
    expectations = report.get("expectations") or {}
    assert isinstance(expectations, dict)
    if expectations:
        parts.append(
            "<h2>Great Expectations suites</h2><table><tr><th>suite</th><th>expectations</th><th>failed</th></tr>"
        )
        for name, result in expectations.items():
            bad = len(result["failed"])
            parts.append(
                f"<tr><td>{e(name)}</td><td>{result['expectations']}</td><td class='{'bad' if bad else 'ok'}'>{bad}</td></tr>"
            )
        parts.append(f"</table><p>Data Docs: {e(str(report.get('data_docs', '')))}</p>")
        for name, result in expectations.items():
            if result["failed"]:
                parts.append(
                    f"<h3>{e(name)}</h3><pre>{e(json.dumps(result['failed'], indent=1))}</pre>"
                )
    for name, rows in invariants.items():
        if rows:
            shown = json.dumps(rows[:SHOWN_INVARIANT_ROWS], indent=1)
            more = _more(len(rows), SHOWN_INVARIANT_ROWS)
            parts.append(f"<h3>{e(name)}</h3><pre>{e(shown)}</pre>{more}")
    parts.append("</body></html>\n")
    return "\n".join(parts)
