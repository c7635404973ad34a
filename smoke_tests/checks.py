"""Smoke checks before settlement (inputs and services) and after publication (what members get).

Each check returns a list of problems as plain sentences naming the file or service; empty = pass.
"""

from __future__ import annotations

import json
import logging
import socket
from datetime import date
from pathlib import Path

from dayclear.config import jars_dir, java_home
from edge.bundle import load_opening, load_reference
from publication.publish import MEMBER_FILES, verify_folder
from schemas.registry import group_specs
from settlement.errors import DayclearError

log = logging.getLogger(__name__)


def reference_problems(bundle: Path, day: date) -> list[str]:
    """Reference data and opening state for D are present, readable and consistent."""

    problems = [
        f"{spec.path} is missing from {bundle}"
        for spec in group_specs("reference")
        if not spec.optional and not (bundle / spec.path).exists()
    ]
    if problems:
        return problems
    try:
        reference = load_reference(bundle, day)
        load_opening(bundle, reference)
    except DayclearError as exc:
        return [str(p) for p in exc.problems]
    listed = reference.instruments.filter(reference.instruments["last_trading_day"] >= day)
    if listed.height == 0:
        problems.append(f"reference/instruments.csv lists no instrument trading on {day}")
    return problems


def broker_problems(bootstrap: str, timeout: float = 3.0) -> list[str]:
    """A problem when no broker of ``bootstrap`` (``host:port[,host:port...]``) answers. One broker
    of the cluster down is not a smoke failure (replication factor 3, ``min.insync.replicas`` 2:
    the cluster works on two); it is logged as a warning."""
    addresses = [a.strip() for a in bootstrap.split(",")]
    silent: list[str] = []
    for address in addresses:
        host, _, port = address.rpartition(":")
        try:
            with socket.create_connection((host, int(port)), timeout=timeout):
                pass
        except (OSError, ValueError) as exc:
            silent.append(f"{address} ({exc})")
    if len(silent) == len(addresses):
        return [f"no Kafka broker of {bootstrap} answers: {'; '.join(silent)}"]
    for broker in silent:
        log.warning("Kafka broker %s does not answer; the others do", broker)
    return []


def service_problems(bootstrap: str | None) -> list[str]:
    """A broker answers, and the Flink connector and a JVM are there for the pre-aggregation job."""

    problems: list[str] = broker_problems(bootstrap) if bootstrap else []
    if not sorted((jars_dir() / "flink-libs").glob("flink-sql-connector-kafka-*.jar")):
        problems.append(
            "the Flink Kafka SQL connector jar is missing from target/flink-libs (run `make jars`)"
        )
    if not java_home() or not (Path(java_home()) / "bin" / "java").exists():
        problems.append("no Java runtime found for Flink (JAVA_HOME)")
    return problems


def publication_problems(out: Path, day: date, member_ids: list[str]) -> list[str]:
    """After publication: LATEST points at a complete version whose files match manifest.json
    (SHA-256, rows, control totals), with a folder of five files for every member."""

    day_dir = out / day.isoformat()
    latest = day_dir / "LATEST"
    if not latest.exists():
        return [f"{latest} is missing: {day} was not published"]
    folder = day_dir / latest.read_text().strip()
    if not (folder / "manifest.json").exists():
        return [f"LATEST names {folder.name}, which has no manifest.json"]
    problems: list[str] = []
    try:
        verify_folder(folder)
    except OSError as exc:
        problems.append(str(exc))
    manifest = json.loads((folder / "manifest.json").read_text())
    for member in member_ids:
        for name in MEMBER_FILES:
            if f"members/{member}/{name}.csv" not in manifest["files"]:
                problems.append(f"{folder.name}: member {member} has no {name}.csv")
    if "exchange/settlement_prices.csv" not in manifest["files"]:
        problems.append(f"{folder.name}: exchange/settlement_prices.csv is missing")
    return problems
