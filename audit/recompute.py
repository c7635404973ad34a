"""The independent full recompute: SETTLEMENT_RULES §3-§10 as DuckDB SQL over a bundle's raw events.

It shares no rule code with ``settlement/`` (whose end of day reads only the stream's aggregates): the
SQL in ``audit/sql/`` reads the bundle's files itself and uses other algorithms (a recursive walk for
close-today-first, lot expansion for FIFO, an arithmetic §3 window number). Results stay in the DuckDB
file for the reconciliation and for staff to query.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb

SQL_DIR = Path(__file__).resolve().parent / "sql"
TOPIC_HEADERS = {
    "trades": "trading_day,seq,ts,trade_id,instrument_id,price,qty,buy_order_id,buy_account_id,buy_offset,"
    "buy_hedge_flag,sell_order_id,sell_account_id,sell_offset,sell_hedge_flag",
    "orders": "trading_day,seq,ts,event,order_id,account_id,instrument_id,side,offset,hedge_flag,order_type,price,qty",
    "fund_movements": "trading_day,seq,ts,movement_id,account_id,direction,amount",
}
OPTIONAL = [
    "opening/positions.csv",
    "opening/balances.csv",
    "opening/settlement_prices.csv",
    "reference/final_settlement_prices.csv",
    "reference/declaration_tiers.csv",
    "reference/underlyings.csv",
    "reference/margin_rates.csv",
]
OPTIONAL_HEADERS = {
    "opening/positions.csv": "account_id,instrument_id,hedge_flag,long_qty,short_qty",
    "opening/balances.csv": "account_id,balance",
    "opening/settlement_prices.csv": "instrument_id,settle_price",
    "reference/final_settlement_prices.csv": "instrument_id,final_settlement_price",
    "reference/declaration_tiers.csv": "product,above_msgs,up_to_msgs,rate_low_otr,rate_high_otr",
    "reference/underlyings.csv": "trading_day,underlying,prev_close,close",
    "reference/margin_rates.csv": "instrument_id,hedge_flag,long_rate,short_rate",
}


def part_files_source(folder: Path, topic: str) -> str:
    """A folder of header-less CSV part files of ``topic`` (columns in schema order), plain or gzip
    (``part-*.csv.gz``: DuckDB decompresses by the file's extension)."""
    names = ", ".join(f"'{c}'" for c in TOPIC_HEADERS[topic].split(","))
    return f"read_csv('{folder}/part-*', all_varchar = true, header = false, names = [{names}])"


def _source(bundle: Path, topic: str, scratch: Path) -> str:
    csv_path, parquet_path = (
        bundle / "events" / f"{topic}.csv",
        bundle / "events" / f"{topic}.parquet",
    )
    if csv_path.exists():
        return f"read_csv('{csv_path}', all_varchar = true, header = true)"
    if parquet_path.exists():
        return f"read_parquet('{parquet_path}')"
    empty = scratch / f"{topic}.csv"
    empty.write_text(TOPIC_HEADERS[topic] + "\n")
    return f"read_csv('{empty}', all_varchar = true, header = true)"


def _with_optional_files(bundle: Path, scratch: Path) -> Path:
    """A view of the bundle in which absent optional files exist with only their header."""
    if all((bundle / rel).exists() for rel in OPTIONAL):
        return bundle
    view = scratch / "bundle"
    for folder in ("reference", "opening"):
        (view / folder).mkdir(parents=True, exist_ok=True)
        for path in (bundle / folder).glob("*.csv"):
            target = view / folder / path.name
            if not target.exists():
                target.symlink_to(path.resolve())
    for rel in OPTIONAL:
        if not (view / rel).exists():
            (view / rel).write_text(OPTIONAL_HEADERS[rel] + "\n")
    return view


def recompute(
    bundle: Path, day: date, database: Path, event_sources: dict[str, str] | None = None
) -> duckdb.DuckDBPyConnection:
    """Run the whole recompute into ``database`` (a DuckDB file, replaced) and return the connection.

    ``event_sources`` replaces the bundle's event files by DuckDB table expressions (the exchange-scale
    benchmark reads its header-less part files this way)."""
    scratch = database.with_suffix(".inputs")
    scratch.mkdir(parents=True, exist_ok=True)
    database.unlink(missing_ok=True)
    con = duckdb.connect(str(database))
    values = {
        "bundle": str(_with_optional_files(bundle, scratch)),
        "day": day.isoformat(),
        **{f"{t}_source": _source(bundle, t, scratch) for t in TOPIC_HEADERS},
        **{f"{t}_source": expr for t, expr in (event_sources or {}).items()},
    }
    for path in sorted(SQL_DIR.glob("0*.sql")):
        con.execute(path.read_text().format(**values))
    return con
