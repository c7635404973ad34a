"""``make demo``: the whole path once, on the embedded default.

start Kafka -> simulate a trading day into Kafka (and its bundle of reference data and opening state)
-> close: record the end offsets and run the Flink pre-aggregation job over the topics -> run the
settlement DAG, then the data-audit and smoke-test DAGs, with ``airflow dags test`` -> print where the files and the
reconciliation report are, and a summary -> stop Kafka.
The demo resets the local broker's data so that a second run starts from the same state.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

from . import kafka_broker
from .airflow_env import airflow_env
from .kafka_io import produce_bundle
from .paths import ROOT, state_dir
from .simulator import SimulationConfig, simulate
from .stream_jobs import GROUP, start_surveillance, stop, wait_caught_up


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


def run_demo(day: date, accounts: int = 2000, trades: int = 4000, serve: bool = False) -> int:
    state = state_dir()
    bundle, snapshot, out = (
        state / "bundles" / day.isoformat(),
        state / "snapshots" / day.isoformat(),
        state / "published",
    )
    log = state / "demo.log"
    log.write_text("")
    kafka_broker.stop()
    shutil.rmtree(state / "kafka" / "data", ignore_errors=True)
    job = None
    try:
        _step("starting the embedded Kafka broker (KRaft, single node)")
        broker = kafka_broker.start()
        kafka_broker.create_topics(broker.bootstrap)
        print(f"    broker at {broker.bootstrap}")

        _step(
            "starting the intraday surveillance job (Flink streaming, checkpointed, exactly-once alerts)"
        )

        shutil.rmtree(state / "checkpoints" / "surveillance", ignore_errors=True)
        job = start_surveillance(
            broker.bootstrap, day.isoformat(), state / "checkpoints" / "surveillance", log
        )

        _step(f"simulating trading day {day} ({accounts} accounts, {trades} trades) into Kafka")
        shutil.rmtree(bundle, ignore_errors=True)
        counts = simulate(SimulationConfig(day=day, accounts=accounts, trades=trades), bundle)
        produced = produce_bundle(bundle, broker.bootstrap, day)
        print(f"    generated {counts}; produced {produced}")
        wait_caught_up(
            broker.bootstrap,
            GROUP,
            ("orders", "trades"),
            produced["orders"] + produced["trades"],
            job,
        )
        print("    the surveillance job has read the whole day (committed at a checkpoint)")

        _step(
            "running the settlement DAG (airflow dags test dayclear_settlement): at the close it records the"
        )
        print(
            "    end offsets, runs the Flink pre-aggregation job over the topics, checks the completeness proof,"
        )
        print("    settles and publishes")
        shutil.rmtree(snapshot, ignore_errors=True)
        settle_with_airflow(day, bundle, snapshot, out, log, bootstrap=broker.bootstrap)
        record = json.loads((snapshot / "completeness.json").read_text())
        print(f"    snapshot {snapshot}  complete={record['complete']}")

        _step("running the ops-control DAG (stream health, completeness proof after the close)")
        ops_conf = {
            "day": day.isoformat(),
            "snapshot": str(snapshot),
            "phase": "close",
            "bootstrap": broker.bootstrap,
        }
        run_airflow(
            "dags", "test", "dayclear_ops", day.isoformat(), "-c", json.dumps(ops_conf), log=log
        )
        stop(job)  # the session is over; its last checkpoint is retained

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
                "bootstrap": broker.bootstrap,
            }
        )
        run_airflow("dags", "test", "dayclear_smoke", day.isoformat(), "-c", smoke_conf, log=log)

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
        report = out / day.isoformat() / "audit" / latest / "reconciliation.html"
        status = json.loads((out / day.isoformat() / "status.json").read_text())
        print(f"    reconciliation:   {report}")
        print(
            f"    day status:       settled v{status['settled_version']}, audit passed={status['audit']['passed']}, "
            f"smoke passed={status['smoke']['passed']}, final={status['final']}"
        )
        print(f"    logs:             {log}")
    finally:
        if job is not None:
            stop(job)
        _step("stopping the Kafka broker")
        kafka_broker.stop()
    if serve:
        serve_portal(state, bundle, day)
    return 0


def serve_portal(state: Path, bundle: Path, day: date, port: int = 8300) -> None:
    """Provision the demo's portal users (staff + one per member) and serve the portal until Ctrl-C."""
    import uvicorn

    from portal.accounts import provision_demo_users
    from portal.app import create_app
    from portal.store import Store
    from settlement.bundle import load_reference

    store = Store(state / "portal" / "portal.sqlite")
    members = load_reference(bundle, day).members["member_id"].sort().to_list()
    credentials = state / "portal" / "credentials.txt"
    made = provision_demo_users(store, members, credentials)
    _step(f"settlement portal at http://127.0.0.1:{port}/  (Ctrl-C to stop)")
    print(f"    sign-in names and passwords: {credentials} ({len(made)} new; staff user: staff,")
    print("    member users: m001, m002, ...)")
    uvicorn.run(create_app(state), host="127.0.0.1", port=port, log_level="warning")
