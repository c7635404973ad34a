"""The streaming pre-aggregation job on the real broker and Flink mini-clusters (ISSUE: intraday
streaming, acceptance a and b): a simulated day streamed through while it is produced, crashed
twice (SIGKILL) mid-day and restored from its checkpoints each time, gives the same aggregates as
the batch run over the same events, with a complete proof at the close. (An uninterrupted stream
gives them too: tests/test_stream_day.py and tests/test_dead_letters.py.)"""

from __future__ import annotations

import json
import signal
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from devtools.simulator import SimulationConfig, simulate
from driver.close import completeness, stage_for_gate
from edge.bundle import load_inputs
from jobs.kafka_io import offsets, produce_bundle
from jobs.stream_health import committed_alerts
from jobs.stream_jobs import committed, start_preaggregation, start_risk_monitor, stop
from jobs.stream_snapshot import freeze_snapshot
from schemas.registry import EVENT_TOPICS
from tests.same_aggregates import assert_same_as_file_fed

pytestmark = pytest.mark.slow
DAY = date(2026, 11, 26)
PIECES = 3


@pytest.fixture(scope="module")
def day(kafka, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("stream-day")
    bundle = root / "bundle"
    simulate(SimulationConfig(day=DAY, accounts=300, members=15, trades=1200, seed=23), bundle)
    broke = _leave_short_of_funds(bundle)
    stage_for_gate(bundle, DAY, root / "staging", load_inputs(bundle, DAY))
    start = offsets(kafka.bootstrap, "end")  # the day's range begins after what is there already
    (root / "start.json").write_text(json.dumps(start))
    return {"root": root, "bundle": bundle, "start": start, "broke": broke}


def _leave_short_of_funds(bundle: Path) -> str:
    """Open two accounts that do not trade today, with an opening position of 10 lots in an index
    future, one long and one short; the long one has an opening balance of 1,000.00: its margin
    alone (> 1,000,000.00 for 10 lots) exceeds its funds at any price the day can reach, so the risk
    monitor must find it below zero. (Accounts without legs leave the aggregates unchanged.)"""
    import polars as pl

    def add(name: str, rows: list[list[str]]) -> None:
        frame = pl.read_csv(bundle / name, infer_schema=False)
        more = pl.DataFrame(rows, schema=frame.columns, orient="row")
        pl.concat([frame, more]).sort(frame.columns[:-1]).write_csv(bundle / name)

    broke, other = "A999998", "A999999"
    member = pl.read_csv(bundle / "reference" / "accounts.csv", infer_schema=False).row(0)
    add("reference/accounts.csv", [[broke, *member[1:]], [other, *member[1:]]])
    prices = pl.read_csv(bundle / "opening" / "settlement_prices.csv", infer_schema=False)
    future = sorted(i for i in prices["instrument_id"] if i.startswith("IF") and len(i) == 6)[-1]
    add(
        "opening/positions.csv",
        [[broke, future, "SPEC", "10", "0"], [other, future, "SPEC", "0", "10"]],
    )
    add("opening/balances.csv", [[broke, "1000.00"], [other, "50000000.00"]])
    return broke


def _job(kafka, day: dict[str, object], name: str, restore: bool = False):  # type: ignore[no-untyped-def]
    root = day["root"]
    assert isinstance(root, Path)
    return start_preaggregation(
        kafka.bootstrap,
        DAY.isoformat(),
        root / "staging",
        root / name / "freeze.json",
        root / name / "checkpoints",
        root / name / "job.log",
        group=f"preaggregate-{name}",
        start_offsets=root / "start.json",
        checkpoint_ms=500,
        restore=restore,
    )


def _records(start: dict[str, dict[int, int]], end: dict[str, dict[int, int]]) -> int:
    return sum(o for t in EVENT_TOPICS for o in end[t].values()) - sum(
        start.get(t, {}).get(p, 0) for t in EVENT_TOPICS for p in end[t]
    )


def _wait_committed(kafka, group: str, at_least: int, job, log: Path, timeout: float = 240) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while committed(kafka.bootstrap, group, EVENT_TOPICS) < at_least:
        assert job.poll() is None, log.read_text()[-4000:]
        assert time.monotonic() < deadline, f"{group} stuck below {at_least}"
        time.sleep(0.5)


def _freeze(kafka, day: dict[str, object], name: str, job) -> tuple[Path, dict[str, object]]:  # type: ignore[no-untyped-def]
    """The close: record the end offsets, let the job reach them and stop, fold its topics."""
    root = day["root"]
    assert isinstance(root, Path)
    end = offsets(kafka.bootstrap, "end")
    freeze = root / name / "freeze.json"
    freeze.write_text(json.dumps(end))
    assert job.wait(300) == 0, (root / name / "job.log").read_text()[-4000:]
    assert freeze.with_name("freeze.json.done").exists()
    snapshot = root / name / "snapshot"
    freeze_snapshot(kafka.bootstrap, f"preaggregate-{name}", DAY.isoformat(), snapshot)
    start = day["start"]
    assert isinstance(start, dict)
    return snapshot, completeness(DAY, start, end, snapshot)


def test_killed_twice_and_restored_equals_the_batch_run(kafka, day) -> None:  # type: ignore[no-untyped-def]
    bundle, root, start = day["bundle"], day["root"], day["start"]
    assert isinstance(bundle, Path) and isinstance(root, Path) and isinstance(start, dict)
    log, group = root / "crashed" / "job.log", "preaggregate-crashed"

    # the crashed run follows the day as it is produced, in three pieces
    job = _job(kafka, day, "crashed")
    risk = start_risk_monitor(
        kafka.bootstrap,
        DAY.isoformat(),
        bundle,
        root / "crashed" / "risk.log",
        group=group,
        interval=1,
        until=root / "crashed" / "freeze.json.done",
    )
    try:
        produce_bundle(bundle, kafka.bootstrap, DAY, (0, PIECES))
        first = _records({}, offsets(kafka.bootstrap, "end"))  # committed offsets are absolute
        _wait_committed(kafka, group, first, job, log)
        stop(job, signal.SIGKILL)  # crash 1, after a checkpoint of the first piece
        produce_bundle(bundle, kafka.bootstrap, DAY, (1, PIECES))
        job = _job(kafka, day, "crashed", restore=True)
        _wait_committed(kafka, group, first + 1, job, log)
        stop(job, signal.SIGKILL)  # crash 2, part way into the second piece
        produce_bundle(bundle, kafka.bootstrap, DAY, (2, PIECES))
        job = _job(kafka, day, "crashed", restore=True)
        crashed, crashed_proof = _freeze(kafka, day, "crashed", job)
        assert risk.wait(120) == 0, (root / "crashed" / "risk.log").read_text()[-4000:]
    finally:
        stop(job)
        stop(risk)
    assert (
        log.read_text().count("restoring from file:") + log.read_text().count("restoring from /")
        == 2
    )

    # (an uninterrupted stream equal to the batch run: tests/test_stream_day.py, test_dead_letters)
    assert crashed_proof["complete"], crashed_proof
    topics = crashed_proof["topics"]
    assert isinstance(topics, dict)
    assert sum(t["records_aggregated"] for t in topics.values()) == _records(
        start, offsets(kafka.bootstrap, "end")
    )
    assert_same_as_file_fed(bundle, DAY, crashed, root / "batch")  # acceptance (a) and (b)

    # acceptance (d), second half: the account left short of funds raised one alert, once
    risk_alerts = [
        a
        for a in committed_alerts(kafka.bootstrap)
        if a.get("source") == "risk" and a.get("trading_day") == DAY.isoformat()
    ]
    negative = [a for a in risk_alerts if a["kind"] == "AVAILABLE_NEGATIVE"]
    assert day["broke"] in {a["account_id"] for a in negative}, risk_alerts
    assert all(Decimal(str(a["value"])) < 0 for a in negative)
    keys = [(a["kind"], a["account_id"], a["subject"]) for a in risk_alerts]
    assert len(keys) == len(set(keys)), "an alert was raised twice"
