"""The stream-first close (issue 14, items 1 and 6) on the real broker, Flink and Airflow:
``dayclear_settlement`` under ``airflow dags test`` settles a simulated day (a) from its running
streaming session, and (b) through the bounded batch job when the session's job was killed before
the close, saying why; (c) both publish the same bytes, only the lineage's ``settled_by`` differs.

The broker is shared with the other tests of the session, so the day's range starts after what the
topics hold already: each path's snapshots folder gets a previous close at those offsets, which is
where both the session and the batch close start the day."""

from __future__ import annotations

import csv
import json
import signal
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from devtools.demo import settle_with_airflow
from devtools.simulator import SimulationConfig, simulate
from driver.journal_follower import segments
from driver.session import Session, follower_running, open_session
from edge.journal_files import SEGMENT_MANIFEST
from jobs.kafka_io import offsets, produce_bundle
from jobs.stream_jobs import stop, wait_caught_up
from portal.i18n import COOKIE
from schemas.registry import EVENT_TOPICS
from tests.conftest import run_dayclear
from tests.portal_server import PASSWORDS, provision, serve, signed_in

pytestmark = pytest.mark.slow
#: no other test produces this day; the December index futures and options expire on it (third
#: Friday), and bond futures trade (issue 14 item 6: the journal on such a day, both paths)
DAY = date(2026, 12, 18)
PREVIOUS = date(2026, 12, 17)
BOND_PRODUCTS = {"TS", "TF", "T", "TL"}


@pytest.fixture(scope="module")
def day(kafka, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("stream-close")
    bundle = root / "bundle"
    simulate(SimulationConfig(day=DAY, accounts=300, members=15, trades=1200, seed=31), bundle)
    before = {t: {str(p): o for p, o in e.items()} for t, e in offsets(kafka.bootstrap).items()}
    for path in ("stream", "batch"):  # the state folder of each path, as the portal reads it
        previous = root / path / "snapshots" / PREVIOUS.isoformat() / "completeness.json"
        previous.parent.mkdir(parents=True)
        previous.write_text(
            json.dumps({"trading_day": PREVIOUS.isoformat(), "end_offsets": before})
        )
    return {"root": root, "bundle": bundle}


def _open(kafka, day: dict[str, Any], path: str) -> Session:  # type: ignore[no-untyped-def]
    snapshot = day["root"] / path / "snapshots" / DAY.isoformat()
    return open_session(DAY, day["bundle"], kafka.bootstrap, snapshot=snapshot)


def _caught_up(kafka, session: Session) -> None:  # type: ignore[no-untyped-def]
    """Until the job's group has committed every record in the topics (absolute offsets)."""
    assert session.job is not None
    held = sum(o for t, parts in offsets(kafka.bootstrap).items() for o in parts.values())
    wait_caught_up(kafka.bootstrap, session.group, EVENT_TOPICS, held, session.job)


def _priced_legs(session: Session) -> int:
    """The legs the journal follower has priced into segments so far."""
    return sum(
        json.loads((segment / SEGMENT_MANIFEST).read_text())["legs"]
        for segment in segments(session.paths.journal)
    )


def _wait_priced(session: Session, legs: int, timeout: float = 180) -> None:
    """Until the follower's segments hold ``legs`` legs (it writes one every few seconds)."""
    deadline = time.monotonic() + timeout
    while (priced := _priced_legs(session)) < legs:
        assert time.monotonic() < deadline, f"{priced} of {legs} legs priced"
        time.sleep(0.5)


def _settle(kafka, day: dict[str, Any], path: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """The settlement DAG for the day under ``airflow dags test``, with the path's own folders."""
    state = day["root"] / path
    snapshot, out, log = (
        state / "snapshots" / DAY.isoformat(),
        state / "published",
        state / "af.log",
    )
    settle_with_airflow(DAY, day["bundle"], snapshot, out, log, bootstrap=kafka.bootstrap)
    day_dir = out / DAY.isoformat()
    folder = day_dir / (day_dir / "LATEST").read_text().strip()
    return {
        "state": state,
        "folder": folder,
        "manifest": json.loads((folder / "manifest.json").read_text()),
        "status": json.loads((day_dir / "status.json").read_text()),
        "proof": json.loads((snapshot / "completeness.json").read_text()),
        "log": log.read_text(),
    }


@pytest.fixture(scope="module")
def by_stream(kafka, day: dict[str, Any]) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """(a) The session runs while the day is produced; the DAG's close freezes it."""
    session = _open(kafka, day, "stream")
    assert session.job is not None
    try:
        produce_bundle(day["bundle"], kafka.bootstrap, DAY)
        _caught_up(kafka, session)
        trades = (day["bundle"] / "events" / "trades.csv").read_text().count("\n") - 1
        _wait_priced(session, 2 * trades)  # during the session, before the close
        priced = {"legs": 2 * trades, "segments": len(segments(session.paths.journal))}
        settled = _settle(kafka, day, "stream")
        assert session.job.wait(60) == 0  # it stopped by itself, at the close's offsets
    finally:
        stop(session.job)
    assert session.paths.done.exists()
    return {**settled, "session": session, "priced": priced}


@pytest.fixture(scope="module")
def by_batch(kafka, day: dict[str, Any], by_stream: dict[str, Any]) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """(b) A second session of the same day catches up, then crashes (SIGKILL) before the close."""
    session = _open(kafka, day, "batch")
    assert session.job is not None
    assert (session.run, by_stream["session"].run) == (2, 1)
    assert session.group != by_stream["session"].group  # a fresh run reads nothing of the first
    try:
        _caught_up(kafka, session)
    finally:
        stop(session.job, signal.SIGKILL)
    return {**_settle(kafka, day, "batch"), "session": session}


def test_the_day_is_settled_from_the_running_stream(by_stream: dict[str, Any]) -> None:
    settled_by = by_stream["status"]["settled_by"]
    assert settled_by["path"] == "stream", settled_by
    assert by_stream["manifest"]["lineage"]["settled_by"] == settled_by
    assert by_stream["proof"]["complete"] and by_stream["proof"]["frozen_by"] == settled_by
    assert by_stream["status"]["settled_version"] == 1 and by_stream["status"]["stream_complete"]
    assert "falling back" not in by_stream["log"]
    shown = json.loads(run_dayclear("session", "status", "--day", str(DAY), check=True).stdout)
    assert shown["group"] == by_stream["session"].group
    assert (shown["run"], shown["frozen"], shown["running"]) == (1, True, False)


def test_the_legs_are_priced_during_the_session(by_stream: dict[str, Any]) -> None:
    """Issue 14 item 2: every leg was priced into a journal segment before the close, and the
    close's journal is those segments merged, not the legs read back again."""
    priced, session = by_stream["priced"], by_stream["session"]
    assert priced["segments"] >= 1
    snapshot = by_stream["state"] / "snapshots" / DAY.isoformat()
    manifest = json.loads((snapshot / "journal" / "manifest.json").read_text())
    assert manifest["legs"] == priced["legs"]
    assert _priced_legs(session) == priced["legs"]  # the close found nothing left to price
    assert not follower_running(session)


def test_a_killed_stream_falls_back_to_the_batch_job(by_batch: dict[str, Any]) -> None:
    settled_by = by_batch["status"]["settled_by"]
    pid = by_batch["session"].pid
    assert settled_by == {
        "path": "batch",
        "reason": f"stream unavailable: the streaming job of {DAY} (pid {pid}) is not running",
    }
    assert by_batch["manifest"]["lineage"]["settled_by"] == settled_by
    assert by_batch["proof"]["complete"] and by_batch["proof"]["frozen_by"] == settled_by
    assert "falling back to the bounded batch job" in by_batch["log"]
    assert not follower_running(by_batch["session"])  # nothing of the dead session runs on


def test_the_journal_is_the_same_on_both_paths(
    by_stream: dict[str, Any], by_batch: dict[str, Any]
) -> None:
    """The journal merged from the session's segments and the one the batch close built from the
    frozen legs: the same members' trades.csv (by SHA-256 and rows) and the same position sums, on a
    day with an options expiry and bond futures."""
    journals = [
        s["state"] / "snapshots" / DAY.isoformat() / "journal" for s in (by_stream, by_batch)
    ]
    stream, batch = (json.loads((j / "manifest.json").read_text()) for j in journals)
    assert stream == batch and stream["legs"] > 0
    for part in sorted((journals[1] / "leg_sums").iterdir()):
        assert (journals[0] / "leg_sums" / part.name).read_bytes() == part.read_bytes(), part.name
    with (by_stream["folder"] / "exchange" / "settlement_prices.csv").open() as handle:
        prices = list(csv.DictReader(handle))
    expired = [p for p in prices if p["price_source"] == "FINAL" and "-" in p["instrument_id"]]
    assert expired, "options should expire on the day"
    assert any(p["product"] in BOND_PRODUCTS and p["volume"] != "0" for p in prices), "bonds trade"


def test_both_paths_publish_the_same_bytes(
    by_stream: dict[str, Any], by_batch: dict[str, Any]
) -> None:
    stream, batch = _files(by_stream["folder"]), _files(by_batch["folder"])
    assert stream.keys() == batch.keys()
    assert [p for p in stream if stream[p] != batch[p]] == []
    assert (
        any(p.startswith("members/") for p in stream) and "exchange/settlement_prices.csv" in stream
    )
    both = [dict(by_stream["manifest"]), dict(by_batch["manifest"])]
    for manifest in both:
        manifest["lineage"] = {k: v for k, v in manifest["lineage"].items() if k != "settled_by"}
    assert both[0] == both[1]


def test_the_portal_day_page_says_which_path_settled_it(
    by_stream: dict[str, Any], by_batch: dict[str, Any]
) -> None:
    for settled, shown in ((by_stream, "stream"), (by_batch, "not running")):
        provision(settled["state"], [])
        with serve(settled["state"]) as url:
            cookies = {COOKIE: "en"}  # the page in English (the portal's default is zh-CN)
            client = signed_in(url, "staff", PASSWORDS["staff"], cookies=cookies)
            try:
                page = client.get(f"/staff/days/{DAY}").text
            finally:
                client.close()
        settled_by = page.split('id="settled-by">', 1)[1].split("</dd>", 1)[0]
        assert shown in settled_by and settled["status"]["settled_by"]["path"] in settled_by


def _files(folder: Path) -> dict[str, bytes]:
    """Every published file but the manifest, by its path in the version folder."""
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "manifest.json"
    }
