"""A simulated day through the real services: Kafka broker -> Flink job (Kafka SQL connector) ->
the settlement DAG under ``airflow dags test`` -> published files. Checked against expectations
computed here independently from the raw events, and against SETTLEMENT_RULES §12."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP
from decimal import Decimal as D
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

import pytest

from devtools.demo import settle_with_airflow
from devtools.simulator import SimulationConfig, simulate
from edge.aggregates import read_aggregates
from jobs.kafka_io import produce_bundle
from tests.published import assert_funds_identity, assert_position_invariants, member_rows
from tests.same_aggregates import assert_same_as_file_fed

if TYPE_CHECKING:
    from audit.reconcile import Reconciliation
    from devtools.kafka_broker import Broker

pytestmark = pytest.mark.slow
DAY = date(2026, 11, 23)


@pytest.fixture(scope="module")
def settled(kafka: Broker, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("day")
    bundle, snapshot, out = root / "bundle", root / "snapshot", root / "out"
    simulate(SimulationConfig(day=DAY, accounts=400, members=20, trades=1500, seed=11), bundle)
    produce_bundle(bundle, kafka.bootstrap, DAY)
    # the settlement DAG freezes the snapshot itself at the close (offsets, Flink job, proof)
    settle_with_airflow(DAY, bundle, snapshot, out, root / "airflow.log", bootstrap=kafka.bootstrap)
    record = json.loads((snapshot / "completeness.json").read_text())
    assert record["complete"], record
    folder = out / DAY.isoformat() / (out / DAY.isoformat() / "LATEST").read_text().strip()
    return {"bundle": bundle, "snapshot": snapshot, "folder": folder, "root": root}


def test_stream_aggregates_equal_batch_aggregates(settled: dict[str, Path]) -> None:
    """The Kafka-fed job and the file-fed job over the same events give the same aggregates."""
    assert_same_as_file_fed(settled["bundle"], DAY, settled["snapshot"], settled["root"])


@dataclass
class _Lot:
    """A lot opened today, FIFO: its price and the quantity still open."""

    price: D
    qty: int


class _Walk(TypedDict):
    """One (account, instrument, hedge flag, long or short) while walking the legs."""

    prev: int  # the opening position not yet closed
    lots: list[_Lot]  # today's open lots, oldest first
    today: int  # today's open quantity not yet closed
    pos: int


def test_matchings_equal_a_sequential_walk(settled: dict[str, Path]) -> None:
    """§5.1 close-today-first and FIFO, recomputed here by walking the legs in seq order."""
    opening = {
        (r["account_id"], r["instrument_id"], r["hedge_flag"]): (
            int(r["long_qty"]),
            int(r["short_qty"]),
        )
        for r in csv.DictReader((settled["bundle"] / "opening" / "positions.csv").open())
    }
    state: dict[tuple[str, ...], _Walk] = {}
    expected = {}
    for t in csv.DictReader((settled["bundle"] / "events" / "trades.csv").open()):
        for leg_no, side in enumerate(("buy", "sell")):
            account, offset, hedge = (
                t[f"{side}_account_id"],
                t[f"{side}_offset"],
                t[f"{side}_hedge_flag"],
            )
            long_side = (side == "buy") == (offset == "OPEN")
            key = (account, t["instrument_id"], hedge, "L" if long_side else "S")
            prev = opening.get(key[:3], (0, 0))[0 if long_side else 1]
            s = state.setdefault(key, {"prev": prev, "lots": [], "today": 0, "pos": prev})
            q, p = int(t["qty"]), D(t["price"])
            if offset == "OPEN":
                s["lots"].append(_Lot(p, q))
                s["today"] += q
                s["pos"] += q
                expected[(int(t["seq"]), leg_no)] = (0, 0, D(0), s["pos"])
                continue
            ctq = min(q, s["today"])
            s["today"] -= ctq
            from_prev = min(q, s["prev"])
            s["prev"] -= from_prev
            rest, cost = q - from_prev, D(0)
            while rest:
                lot = s["lots"][0]
                take = min(rest, lot.qty)
                cost += lot.price * take
                lot.qty -= take
                rest -= take
                if lot.qty == 0:
                    s["lots"].pop(0)
            s["pos"] -= q
            expected[(int(t["seq"]), leg_no)] = (ctq, from_prev, cost, s["pos"])
    legs = read_aggregates(settled["snapshot"]).legs
    got = {
        (r[0], r[1]): (r[2], r[3], r[4], r[5])
        for r in legs.select(
            "seq", "leg_no", "close_today_qty", "fifo_prev_qty", "fifo_open_cost", "position_after"
        ).iter_rows()
    }
    assert got == expected
    assert sum(1 for v in expected.values() if v[0] > 0) > 0, (
        "the day should exercise close-today matching"
    )


def _trading_seconds(ts: str) -> D:
    t = datetime.fromisoformat(ts)
    secs = D(t.hour * 3600 + t.minute * 60 + t.second) + D(t.microsecond) / 10**6
    return secs - 34200 if secs <= 41400 else secs - 46800 + 7200


def test_settlement_prices_follow_section_3(settled: dict[str, Path]) -> None:
    """§3 recomputed from the raw trades: VWAP of the first 60-trading-minute window (counted back from
    the close) holding a trade, or the day's VWAP when the last trade came within the first hour."""
    products = {
        r["product"]: r
        for r in csv.DictReader((settled["bundle"] / "reference" / "products.csv").open())
    }
    product_of = {
        r["instrument_id"]: r["product"]
        for r in csv.DictReader((settled["bundle"] / "reference" / "instruments.csv").open())
    }
    trades: dict[str, list[tuple[D, D, int]]] = defaultdict(list)
    for t in csv.DictReader((settled["bundle"] / "events" / "trades.csv").open()):
        trades[t["instrument_id"]].append((_trading_seconds(t["ts"]), D(t["price"]), int(t["qty"])))
    published = {
        r["instrument_id"]: r
        for r in csv.DictReader((settled["folder"] / "exchange" / "settlement_prices.csv").open())
    }
    checked = 0
    for instrument, rows in trades.items():
        product = products[product_of[instrument]]
        close = D(14400 if product["session"] == "INDEX" else 15300)
        dp = D(1).scaleb(-int(product["settle_decimals"]))
        if max(r[0] for r in rows) < 3600:
            chosen, source = rows, "VWAP_DAY"
        else:
            window = 1
            while True:
                lo, hi = close - 3600 * window, close - 3600 * (window - 1)
                chosen = [r for r in rows if lo <= r[0] < hi or (window == 1 and r[0] == close)]
                if chosen:
                    break
                window += 1
            source = "VWAP_LAST_HOUR" if window == 1 else "VWAP_EARLIER_WINDOW"
        vwap = (sum((p * q for _, p, q in chosen), D(0)) / sum(q for *_, q in chosen)).quantize(
            dp, rounding=ROUND_HALF_UP
        )
        row = published[instrument]
        if row["price_source"] == "FINAL":
            continue
        assert (D(row["settle_price"]), row["price_source"]) == (vwap, source), instrument
        checked += 1
    assert checked > 10


def test_section_12_invariants_on_published_files(settled: dict[str, Path]) -> None:
    folder = settled["folder"]
    long_ = assert_position_invariants(folder)
    prices = list(csv.DictReader((folder / "exchange" / "settlement_prices.csv").open()))
    for p in prices:
        assert int(p["open_interest"]) == long_.get(p["instrument_id"], 0)
        if p["price_source"] != "FINAL":
            assert D(p["limit_down"]) <= D(p["settle_price"]) <= D(p["limit_up"]), p
    assert_funds_identity(folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    for member, totals in manifest["members"].items():
        rows = list(csv.DictReader((folder / "members" / member / "funds.csv").open()))
        for key in (
            "balance",
            "margin",
            "total_mtm",
            "trading_fees",
            "declaration_fees",
            "margin_call",
        ):
            assert D(totals[key]) == sum((D(r[key]) for r in rows), D(0))
    for key, value in manifest["exchange"].items():
        assert D(value) == sum(D(t[key]) for t in manifest["members"].values())
    declared = member_rows(folder, "declaration_fees")
    assert any(D(r["fee"]) > 0 for r in declared), (
        "the simulated day should charge declaration fees"
    )
    assert manifest["lineage"]["source"] == "kafka"


def _audit(day_dir_out: Path, bundle: Path, log: Path) -> Reconciliation:
    from devtools.demo import run_airflow

    conf = json.dumps({"day": DAY.isoformat(), "bundle": str(bundle), "out": str(day_dir_out)})
    failed = None
    try:
        run_airflow("dags", "test", "dayclear_audit", DAY.isoformat(), "-c", conf, log=log)
    except RuntimeError as exc:
        failed = exc
    version = (day_dir_out / DAY.isoformat() / "LATEST").read_text().strip()
    report: Reconciliation = json.loads(
        (day_dir_out / DAY.isoformat() / "audit" / version / "reconciliation.json").read_text()
    )
    assert (failed is None) == report["passed"]
    return report


def test_audit_dag_passes_a_clean_day(settled: dict[str, Path]) -> None:
    report = _audit(
        settled["folder"].parent.parent, settled["bundle"], settled["root"] / "audit.log"
    )
    assert report["passed"] and report["differences"] == []
    assert all(rows == [] for rows in report["invariants"].values())
    assert report["summary"]["rows_compared"]["trades"] > 1000
    assert report["expectations"] and all(r["success"] for r in report["expectations"].values())
    assert Path(report["data_docs"]).exists()
    html = (
        settled["folder"].parent / "audit" / settled["folder"].name / "reconciliation.html"
    ).read_text()
    assert "PASSED" in html


def test_audit_names_a_tampered_figure(settled: dict[str, Path], tmp_path: Path) -> None:
    import shutil

    out = tmp_path / "out"
    shutil.copytree(
        settled["folder"].parent, out / DAY.isoformat(), ignore=shutil.ignore_patterns("audit")
    )
    funds = out / DAY.isoformat() / settled["folder"].name / "members" / "M003" / "funds.csv"
    rows = list(csv.DictReader(funds.open()))
    victim = rows[0]["account_id"]
    rows[0]["margin"] = str(D(rows[0]["margin"]) + D("0.01"))
    with funds.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    report = _audit(out, settled["bundle"], tmp_path / "audit.log")
    assert not report["passed"]
    assert [(d["table"], d["record"], d["column"]) for d in report["differences"]] == [
        ("funds", f"account_id={victim}", "margin")
    ]
    assert report["invariants"]["funds_identity"][0]["account_id"] == victim


def test_audit_finds_an_event_dropped_from_the_stream_path(
    settled: dict[str, Path], tmp_path: Path
) -> None:
    """The aggregates miss one trade (the stream path lost it: the pre-aggregation never saw it);
    the full recompute from the raw events does not, and the reconciliation names the missing legs
    and the rows they change. (A bundle with the trade deleted is refused before anything runs: its
    ``seq`` would have a gap, edge/validate.py.)"""
    from driver.pipeline import publish_result, run_preaggregation, settle_snapshot, stage_bundle
    from edge.bundle import load_inputs

    bundle, staging, snapshot = settled["bundle"], tmp_path / "staging", tmp_path / "snapshot"
    inputs = load_inputs(bundle, DAY)
    stage_bundle(bundle, DAY, staging, inputs)
    staged = (staging / "trades.csv").read_text().splitlines()  # header-less, seq second
    lost = next(
        line
        for line in staged
        if ",OPEN," in line and line.count(",OPEN,") == 1 and ",OPEN,SPEC," in line
    )
    (staging / "trades.csv").write_text("\n".join(t for t in staged if t != lost) + "\n")
    seq = lost.split(",")[1]
    run_preaggregation(staging, snapshot)
    out = tmp_path / "out"
    publish_result(
        settle_snapshot(bundle, DAY, snapshot, inputs), snapshot, out, {"source": "test"}
    )
    report = _audit(out, bundle, tmp_path / "audit.log")
    assert not report["passed"]
    missing = {
        (d["record"], d["published"]) for d in report["differences"] if d["table"] == "trades"
    }
    assert (f"seq={seq} side=BUY", "(no row)") in missing and (
        f"seq={seq} side=SELL",
        "(no row)",
    ) in missing
    assert any(d["table"] == "positions" for d in report["differences"])


def _smoke(bundle: Path, out: Path, bootstrap: str, log: Path) -> tuple[bool, str]:
    from devtools.demo import run_airflow

    conf = json.dumps(
        {"day": DAY.isoformat(), "bundle": str(bundle), "out": str(out), "bootstrap": bootstrap}
    )
    try:
        run_airflow("dags", "test", "dayclear_smoke", DAY.isoformat(), "-c", conf, log=log)
    except RuntimeError:
        return False, log.read_text()
    return True, log.read_text()


def test_smoke_dag_passes_a_clean_day(settled: dict[str, Path], kafka: Broker) -> None:
    ok, log = _smoke(
        settled["bundle"],
        settled["folder"].parent.parent,
        kafka.bootstrap,
        settled["root"] / "smoke.log",
    )
    assert ok, log[-3000:]
    for task_id in ("reference_data", "services", "known_answers", "published_files"):
        assert f"task_id={task_id}" in log
    assert "--- Logging error ---" not in log  # dayclear.logs under Airflow's structlog formatter


def test_smoke_dag_fails_clearly_without_a_reference_file(
    settled: dict[str, Path], kafka: Broker, tmp_path: Path
) -> None:
    import shutil

    bundle = tmp_path / "bundle"
    shutil.copytree(settled["bundle"], bundle)
    (bundle / "reference" / "instruments.csv").unlink()
    ok, log = _smoke(
        bundle, settled["folder"].parent.parent, kafka.bootstrap, tmp_path / "smoke.log"
    )
    assert not ok
    assert "reference/instruments.csv is missing from" in log


def test_day_is_final_after_a_passing_audit_and_smoke(settled: dict[str, Path]) -> None:
    """Runs after the audit and smoke tests above (file order): the clean day is now final."""
    status = json.loads((settled["folder"].parent / "status.json").read_text())
    assert status["settled_version"] == 1 and status["stream_complete"]
    assert status["audit"]["passed"] and status["smoke"]["passed"]
    assert status["final"] is True


def test_reissue_after_a_corrected_trade(settled: dict[str, Path], tmp_path: Path) -> None:
    """A corrected trade file re-issues the day as v2 beside v1, with changes.json and the reason,
    and v2 is audited and smoke-tested."""
    import shutil

    from devtools.demo import run_airflow

    out, bundle = tmp_path / "out", tmp_path / "corrected"
    shutil.copytree(
        settled["folder"].parent, out / DAY.isoformat(), ignore=shutil.ignore_patterns("audit")
    )
    shutil.copytree(settled["bundle"], bundle)
    trades = list(csv.DictReader((bundle / "events" / "trades.csv").open()))
    # one more lot on a trade whose legs both open: no close can become larger than its position
    target = next(
        t
        for t in trades
        if t["instrument_id"].startswith("IF") and t["buy_offset"] == t["sell_offset"] == "OPEN"
    )
    target["qty"] = str(int(target["qty"]) + 1)
    with (bundle / "events" / "trades.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(trades[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(trades)
    reason = f"trade {target['trade_id']} quantity corrected by the exchange"
    conf = json.dumps(
        {"day": DAY.isoformat(), "bundle": str(bundle), "out": str(out), "reason": reason}
    )
    run_airflow(
        "dags",
        "test",
        "dayclear_reissue",
        DAY.isoformat(),
        "-c",
        conf,
        log=tmp_path / "reissue.log",
    )
    day_dir = out / DAY.isoformat()
    assert (day_dir / "LATEST").read_text().strip() == "v2"
    assert (day_dir / "v1" / "manifest.json").exists()
    manifest = json.loads((day_dir / "v2" / "manifest.json").read_text())
    assert manifest["lineage"]["reason"] == reason
    changes = json.loads((day_dir / "v2" / "changes.json").read_text())
    assert (
        changes["from_version"] == 1
        and "exchange/settlement_prices.csv" in changes["changed_files"]
    )
    buyer_member = next(m for m, files in changes["members"].items() if "trades.csv" in files)
    assert buyer_member
    status = json.loads((day_dir / "status.json").read_text())
    assert status["settled_version"] == 2 and status["reissues"] == [
        {"version": 2, "reason": reason}
    ]
    assert status["audit"]["version"] == 2 and status["audit"]["passed"]
    assert status["smoke"]["version"] == 2 and status["final"] is True
