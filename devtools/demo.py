"""``make demo``: one trading day as a live session, then its close, on the embedded default.

start Kafka -> simulate the day's bundle (reference data, opening state, events) -> open the session:
the streaming pre-aggregation (driver.session.open_session, as in production), the surveillance
job and the risk monitor -> play the day's events into Kafka at a compressed pace (the trading
session in about two minutes) with one live line: exchange clock, events/s, each job's consumer
lag, alerts so far (devtools.live_progress) -> at the close the settlement DAG freezes the day stream
first (the batch job if the stream cannot) and publishes -> the ops, data-audit and smoke-test DAGs
with ``airflow dags test`` -> print where the files and the reconciliation report are, which path
settled the day, and a summary -> stop the jobs and Kafka.
The demo resets the local broker's data so that a second run starts from the same state.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections import Counter
from datetime import date
from pathlib import Path

from dayclear.config import ROOT, StateLayout, state_dir
from devtools import kafka_broker
from devtools.airflow_env import airflow_env
from devtools.live_progress import FollowedGroup, LiveStatus, ProgressLine, clock_text, play_rate
from devtools.simulator import SimulationConfig, simulate
from driver.session import Session, job_running, open_session, read_session, stop_job
from edge.bundle import load_reference
from jobs.kafka_io import offsets, produce_bundle
from jobs.stream_health import committed_alerts
from jobs.stream_jobs import GROUP, start_risk_monitor, start_surveillance, stop, wait_caught_up
from portal.accounts import provision_demo_users
from portal.server import serve
from portal.store import Store
from schemas.registry import EVENT_TOPICS

#: The topics the surveillance job reads (jobs/surveillance.py).
SURVEILLANCE_TOPICS = ("orders", "trades")
#: How long the session's job may take to start on a busy machine before the demo gives up.
JOB_START_TIMEOUT_S = 600.0


def _step(text: str) -> None:
    print(f"\n==> {text}", flush=True)


def run_airflow(*args: str, log: Path) -> None:
    airflow = Path(sys.executable).with_name("airflow")
    with log.open("a") as handle:
        done = subprocess.run(
            [str(airflow), *args],
            env=airflow_env(),
            stdout=handle,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    if done.returncode != 0:
        tail = "\n".join(log.read_text().splitlines()[-30:])
        raise RuntimeError(f"`airflow {' '.join(args)}` failed; log {log}:\n{tail}")


def prepare_airflow(log: Path) -> None:
    """Migrate the metadata DB and serialize the DAGs (both idempotent)."""
    run_airflow("db", "migrate", log=log)
    run_airflow("dags", "reserialize", log=log)


def settle_with_airflow(
    day: date, bundle: Path, snapshot: Path, out: Path, log: Path, bootstrap: str | None = None
) -> None:
    """Run the settlement DAG for ``day``; with ``bootstrap`` it freezes the snapshot from Kafka."""
    prepare_airflow(log)
    conf = {
        "day": day.isoformat(),
        "bundle": str(bundle),
        "snapshot": str(snapshot),
        "out": str(out),
    }
    if bootstrap:
        conf["bootstrap"] = bootstrap
    run_airflow(
        "dags", "test", "dayclear_settlement", day.isoformat(), "-c", json.dumps(conf), log=log
    )


def _wait_running(session: Session, timeout: float = JOB_START_TIMEOUT_S) -> None:
    """Until the session's job says it runs (its job is submitted to Flink), or fail with its log."""
    deadline = time.monotonic() + timeout
    while "running as" not in (log_text := _read(session.paths.log)):
        if session.job is not None and session.job.poll() is not None:
            raise RuntimeError(f"the session's job ended before it ran:\n{log_text[-3000:]}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the session's job did not start within {timeout:g} s")
        time.sleep(0.5)


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def _stop_stale_session(day: date) -> None:
    """Stop the job of an earlier, interrupted demo's session of ``day`` (its broker is gone)."""
    stale = read_session(day)
    if stale is not None and job_running(stale):
        print(f"    stopping the session job left running by an earlier run (pid {stale.pid})")
        stop_job(stale)


def run_demo(day: date, accounts: int = 2000, trades: int = 4000, serve: bool = False) -> int:
    began = time.monotonic()
    state = state_dir()
    layout = StateLayout(state)
    bundle, snapshot, out = layout.bundle(day), layout.snapshot(day), layout.published
    log = state / "demo.log"
    log.write_text("")
    surveillance_log, risk_log = state / "surveillance.log", state / "risk_monitor.log"
    for job_log in (surveillance_log, risk_log):
        job_log.write_text("")
    kafka_broker.stop()
    _stop_stale_session(day)
    shutil.rmtree(layout.kafka / "data", ignore_errors=True)
    surveillance = risk = None
    session: Session | None = None
    try:
        _step("starting the embedded Kafka broker (KRaft, single node)")
        broker = kafka_broker.start()
        bootstrap = broker.bootstrap
        kafka_broker.create_topics(bootstrap)
        print(f"    broker at {bootstrap}")

        _step(f"simulating trading day {day} ({accounts} accounts, {trades} trades)")
        shutil.rmtree(bundle, ignore_errors=True)
        counts = simulate(SimulationConfig(day=day, accounts=accounts, trades=trades), bundle)
        events = sum(counts.values())
        print(f"    {bundle}: reference data, opening state and the day's events {counts}")

        _step("opening the session: the jobs start before the first event")
        shutil.rmtree(snapshot, ignore_errors=True)
        (out / day.isoformat() / "breaks.json").unlink(missing_ok=True)  # an earlier run's
        shutil.rmtree(layout.checkpoints / "surveillance", ignore_errors=True)
        beginning = offsets(bootstrap, "beginning")
        surveillance = start_surveillance(
            bootstrap, day.isoformat(), layout.checkpoints / "surveillance", surveillance_log
        )
        print(
            f"    surveillance job (Flink streaming, exactly-once alerts), group {GROUP}, "
            f"pid {surveillance.pid}"
        )
        session = open_session(day, bundle, bootstrap, snapshot=snapshot)
        print(
            f"    streaming pre-aggregation (session run {session.run}), group {session.group}, "
            f"pid {session.pid}, under {session.paths.root}"
        )
        _wait_running(session)
        risk = start_risk_monitor(
            bootstrap, day.isoformat(), bundle, risk_log, group=session.group,
            until=session.paths.done,
        )  # fmt: skip
        print(f"    risk monitor following {session.group}, pid {risk.pid}")

        rate = play_rate(events)
        _step(
            f"playing the day into Kafka: {events:,} events at {rate:,.0f} events/s "
            "(orders, trades, fund movements in exchange time order)"
        )
        status = LiveStatus(
            bootstrap,
            {
                "pre-aggregation": FollowedGroup(
                    session.group, EVENT_TOPICS, session.start_offsets
                ),
                "surveillance": FollowedGroup(GROUP, SURVEILLANCE_TOPICS, beginning),
            },
        ).start()
        line = ProgressLine(status, sys.stdout)
        try:
            produce_bundle(bundle, bootstrap, day, rate=rate, progress=line)
        finally:
            status.stop()
        if line.last is not None:
            last_event = clock_text(line.last.clock)
            print(f"    played in {line.last.elapsed_s:,.0f} s; the last event at {last_event}")

        _step("closing and settling: the settlement DAG (airflow dags test dayclear_settlement)")
        print("    freezes the running stream at the end offsets (the bounded batch job if the")
        print("    stream cannot), checks the completeness proof, settles and publishes")
        settle_with_airflow(day, bundle, snapshot, out, log, bootstrap=bootstrap)
        record = json.loads((snapshot / "completeness.json").read_text())
        frozen_by = record.get("frozen_by", {})
        print(
            f"    snapshot {snapshot}  complete={record['complete']}  "
            f"frozen by the {frozen_by.get('path', '?')} path"
        )
        if session.job is not None and session.job.poll() is None:
            session.job.wait(60)  # it stops by itself once frozen

        _step("running the ops-control DAG (stream health, completeness proof after the close)")
        wait_caught_up(
            bootstrap,
            GROUP,
            SURVEILLANCE_TOPICS,
            sum(counts[t] for t in SURVEILLANCE_TOPICS),
            surveillance,
        )
        ops_conf = {
            "day": day.isoformat(),
            "snapshot": str(snapshot),
            "phase": "close",
            "bootstrap": bootstrap,
        }
        run_airflow(
            "dags", "test", "dayclear_ops", day.isoformat(), "-c", json.dumps(ops_conf), log=log
        )
        stop(surveillance)  # the session is over; its last checkpoint is retained
        stop(risk)

        _step(
            "running the data-audit DAG (independent DuckDB recompute, reconciliation, §12 invariants)"
        )
        audit_conf = json.dumps({"day": day.isoformat(), "bundle": str(bundle), "out": str(out)})
        run_airflow("dags", "test", "dayclear_audit", day.isoformat(), "-c", audit_conf, log=log)

        _step(
            "running the smoke-test DAG (known answers, reference data, services, published files)"
        )
        smoke_conf = json.dumps(
            {
                "day": day.isoformat(),
                "bundle": str(bundle),
                "out": str(out),
                "bootstrap": bootstrap,
            }
        )
        run_airflow("dags", "test", "dayclear_smoke", day.isoformat(), "-c", smoke_conf, log=log)

        alerts = Counter(
            str(a.get("source"))
            for a in committed_alerts(bootstrap)
            if a.get("trading_day", day.isoformat()) == day.isoformat()
        )
        _summary(day, out, log, session, alerts, time.monotonic() - began)
    finally:
        for job in (risk, surveillance):
            if job is not None:
                stop(job)
        if session is not None:
            stop_job(session)  # if the close did not freeze it: SIGTERM, then SIGKILL
            if session.job is not None:
                session.job.poll()
        _step("stopping the Kafka broker")
        kafka_broker.stop()
    if serve:
        serve_portal(state, bundle, day)
    return 0


def _summary(
    day: date, out: Path, log: Path, session: Session, alerts: Counter[str], took_s: float
) -> None:
    """Where the day's files are, what it settled to, which path settled it and its status."""
    latest = (out / day.isoformat() / "LATEST").read_text().strip()
    folder = out / day.isoformat() / latest
    manifest = json.loads((folder / "manifest.json").read_text())
    files = manifest["files"]
    accounts_settled = sum(m["rows"] for p, m in files.items() if p.endswith("/funds.csv"))
    margin_calls = sum(m["rows"] for p, m in files.items() if p.endswith("/margin_calls.csv"))
    _step("published")
    print(f"    folder:           {folder}")
    print(f"    exchange prices:  {folder / 'exchange' / 'settlement_prices.csv'}")
    print(f"    member files:     {folder / 'members'}/<member_id>/")
    print(f"    accounts settled: {accounts_settled}")
    print(f"    margin calls:     {margin_calls}")
    for key, value in manifest["exchange"].items():
        print(f"    exchange {key + ':':18} {value}")
    by_source = ", ".join(f"{source} {n}" for source, n in sorted(alerts.items()))
    print(f"    alerts:           {sum(alerts.values())} ({by_source or 'none'})")
    report = out / day.isoformat() / "audit" / latest / "reconciliation.html"
    status = json.loads((out / day.isoformat() / "status.json").read_text())
    settled_by = status.get("settled_by", {})
    print(f"    reconciliation:   {report}")
    print(
        f"    settled by:       the {settled_by.get('path', '?')} path: "
        f"{settled_by.get('reason', '?')}"
    )
    print(
        f"    day status:       settled v{status['settled_version']}, audit passed={status['audit']['passed']}, "
        f"smoke passed={status['smoke']['passed']}, final={status['final']}"
    )
    print(f"    logs:             {log}, {session.paths.log}, {log.parent}/surveillance.log,")
    print(f"                      {log.parent}/risk_monitor.log")
    print(f"    the demo took {took_s / 60:,.1f} min")


def serve_portal(state: Path, bundle: Path, day: date, port: int = 8300) -> None:
    """Provision the demo's portal users (staff + one per member) and serve the portal until Ctrl-C."""

    store = Store(StateLayout(state).portal_db)
    members = load_reference(bundle, day).members["member_id"].sort().to_list()
    credentials = state / "portal" / "credentials.txt"
    made = provision_demo_users(store, members, credentials)
    _step(f"settlement portal at http://127.0.0.1:{port}/  (Ctrl-C to stop)")
    print(f"    sign-in names and passwords: {credentials} ({len(made)} new; staff user: staff,")
    print("    member users: m001, m002, ...)")
    serve(state, "127.0.0.1", port)
