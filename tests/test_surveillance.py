"""The continuously running surveillance job on the real broker and a Flink mini-cluster (streaming
mode, checkpoints, transactional Kafka sink): a self-trade and an account reaching the cancel
threshold each raise exactly one alert, visible to a read_committed consumer within the test's wait."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from jobs.kafka_io import TopicReader, end_offsets, producer
from jobs.stream_jobs import committed, start_surveillance, stop

if TYPE_CHECKING:
    from devtools.kafka_broker import Broker

pytestmark = pytest.mark.slow
DAY = "2026-11-24"
INPUTS = ("orders", "trades")


def _order(seq: int, event: str, account: str, n: int) -> dict[str, object]:
    return {
        "trading_day": DAY,
        "seq": seq,
        "ts": f"{DAY}T10:00:{n:02d}.000000",
        "event": event,
        "order_id": f"OSURV{n:04d}",
        "account_id": account,
        "instrument_id": "IF2612",
        "side": "BUY",
        "offset": "OPEN",
        "hedge_flag": "SPEC",
        "order_type": "LIMIT",
        "price": "4000.0",
        "qty": 1,
    }


def _trade(seq: int, buyer: str, seller: str) -> dict[str, object]:
    return {
        "trading_day": DAY,
        "seq": seq,
        "ts": f"{DAY}T10:01:{seq:02d}.000000",
        "trade_id": f"TSURV{seq:04d}",
        "instrument_id": "IF2612",
        "price": "4000.2",
        "qty": 2,
        "buy_order_id": "OB",
        "buy_account_id": buyer,
        "buy_offset": "OPEN",
        "buy_hedge_flag": "SPEC",
        "sell_order_id": "OS",
        "sell_account_id": seller,
        "sell_offset": "OPEN",
        "sell_hedge_flag": "SPEC",
    }


def start_job(bootstrap: str, day: str, work: Path, group: str, restore: bool = False):  # type: ignore[no-untyped-def]
    return start_surveillance(
        bootstrap,
        day,
        work / "checkpoints",
        work / "surveillance.log",
        group=group,
        cancel_threshold=3,
        checkpoint_ms=500,
        restore=restore,
    )


def send(bootstrap: str, records: list[tuple[str, dict[str, object]]]) -> None:
    sender = producer(bootstrap)
    for topic, record in records:
        sender.send(topic, key=str(record["instrument_id"]), value=record)
    sender.close()


def checkpointed(bootstrap: str, group: str, job, log: Path, wait: float = 150) -> None:  # type: ignore[no-untyped-def]
    """Once the job's group has committed every order and trade on the topics now: a checkpoint
    has completed after the job read them all, and with it the alerts they raised were committed."""
    ends = end_offsets(bootstrap, INPUTS)
    sent = sum(o for partitions in ends.values() for o in partitions.values())
    deadline = time.monotonic() + wait
    while committed(bootstrap, group, INPUTS) < sent:
        assert job.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, f"{group} has not checkpointed the inputs"
        time.sleep(0.2)


def alerts_of(
    bootstrap: str,
    day: str,
    wanted: int,
    job: subprocess.Popen[bytes],
    log: Path,
    group: str,
    wait: float = 150,
) -> list[dict[str, object]]:
    """The committed alerts of ``day``, once ``wanted`` are there and the job has checkpointed
    every input (so a duplicate would be committed by then too)."""
    reader = TopicReader(bootstrap, ["alerts"])

    def more() -> list[dict[str, object]]:
        alerts = [json.loads(m.value() or b"null") for m in reader.read(idle_s=1)]
        return [a for a in alerts if isinstance(a, dict) and a.get("trading_day") == day]

    found: list[dict[str, object]] = []
    deadline = time.time() + wait
    try:
        while time.time() < deadline and len(found) < wanted:
            assert job.poll() is None, log.read_text()[-3000:]
            found += more()
            time.sleep(0.5)
        checkpointed(bootstrap, group, job, log, wait)
        found += more()
    finally:
        reader.close()
    return found


def test_self_trade_and_cancel_count_raise_one_alert_each(kafka, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    job = start_job(kafka.bootstrap, DAY, tmp_path, "surveillance-test")
    try:
        send(
            kafka.bootstrap,
            [
                ("trades", _trade(9001, "A000001", "A000002")),
                ("trades", _trade(9002, "A000005", "A000005")),  # the self-trade
                *(("orders", _order(9000 + n, "NEW", "A000007", n)) for n in range(1, 5)),
                *(("orders", _order(9100 + n, "CANCEL", "A000007", n)) for n in range(1, 5)),
                *(("orders", _order(9200 + n, "CANCEL", "A000008", n)) for n in range(1, 3)),
            ],
        )  # A000007 cancels 4 times (threshold 3), A000008 twice
        ours = alerts_of(
            kafka.bootstrap, DAY, 2, job, tmp_path / "surveillance.log", "surveillance-test"
        )
    finally:
        stop(job)
    kinds = sorted((a["kind"], a["account_id"], a["subject"]) for a in ours)
    assert kinds == [
        ("CANCEL_COUNT", "A000007", "IF2612"),
        ("SELF_TRADE", "A000005", "TSURV9002"),
    ], ours
    assert any((tmp_path / "checkpoints").rglob("chk-*")), "the job should have checkpointed"


def test_killed_twice_and_restored_from_checkpoints_alerts_exactly_once(
    kafka: Broker, tmp_path: Path
) -> None:
    """Crash (SIGKILL) the job twice mid-day; each restart resumes from the latest checkpoint: the
    cancel count survives (the alert comes once, at the third cancel, which arrives after the first
    crash), no self-trade alert is lost or repeated."""
    day, group, log = "2026-11-25", "surveillance-restart", tmp_path / "surveillance.log"

    def trade(seq: int, account: str) -> tuple[str, dict[str, object]]:
        return "trades", _trade(seq, account, account) | {"trading_day": day}

    def cancel(seq: int) -> tuple[str, dict[str, object]]:
        return "orders", _order(seq, "CANCEL", "A000009", seq % 60) | {"trading_day": day}

    job = start_job(kafka.bootstrap, day, tmp_path, group)
    try:
        send(kafka.bootstrap, [trade(1, "A000011"), cancel(101), cancel(102)])
        assert len(alerts_of(kafka.bootstrap, day, 1, job, log, group)) == 1
        checkpointed(kafka.bootstrap, group, job, log)  # a checkpoint after the two cancels
        stop(job, signal.SIGKILL)  # crash 1
        send(kafka.bootstrap, [trade(2, "A000012"), cancel(103)])  # third cancel: the alert
        job = start_job(kafka.bootstrap, day, tmp_path, group, restore=True)
        assert len(alerts_of(kafka.bootstrap, day, 3, job, log, group)) == 3
        send(kafka.bootstrap, [trade(3, "A000013")])
        time.sleep(0.3)  # not a wait for a state: the crash may come at any point of the trade
        stop(job, signal.SIGKILL)  # crash 2, possibly mid-transaction
        send(kafka.bootstrap, [cancel(104), trade(4, "A000014")])  # fourth cancel: no new alert
        job = start_job(kafka.bootstrap, day, tmp_path, group, restore=True)
        found = alerts_of(kafka.bootstrap, day, 5, job, log, group)
    finally:
        stop(job)
    assert sorted((a["kind"], a["account_id"]) for a in found) == [
        ("CANCEL_COUNT", "A000009"),
        ("SELF_TRADE", "A000011"),
        ("SELF_TRADE", "A000012"),
        ("SELF_TRADE", "A000013"),
        ("SELF_TRADE", "A000014"),
    ], found
    assert (
        log.read_text().count("restoring from file:") + log.read_text().count("restoring from /")
        == 2
    )
