"""The embedded Kafka: a real single-node KRaft broker (broker + controller in one JVM) on loopback.

Jars come from Maven Central through ``pom.xml`` (``make jars`` -> ``target/kafka-libs``). Data and
logs live under ``$DAYCLEAR_STATE/kafka``. ``start`` formats the storage on first start, launches
``kafka.Kafka``, and waits until the broker answers; ``stop`` ends it cleanly (SIGTERM, then SIGKILL
after a grace period). A port already taken is a clear error, not a hang.
"""

from __future__ import annotations

import base64
import contextlib
import os
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import KafkaException

from dayclear.config import jars_dir, java_home, kafka_port, state_layout
from jobs import kafka_io
from jobs.kafka_io import partition_counts
from schemas.registry import ALERTS_TOPIC, DEAD_LETTER_TOPIC, EVENT_TOPICS, topic_spec

LIBS = jars_dir() / "kafka-libs"


@dataclass(frozen=True)
class Broker:
    bootstrap: str
    pid: int
    data_dir: Path


def _home() -> Path:
    path = state_layout().kafka
    path.mkdir(parents=True, exist_ok=True)
    return path


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def write_log4j(home: Path, log: Path) -> Path:
    """A log4j2 configuration writing the broker's log to ``log``."""
    path = home / "log4j2.properties"
    path.write_text(
        "status = warn\nappender.file.type = File\nappender.file.name = file\n"
        f"appender.file.fileName = {log}\n"
        "appender.file.layout.type = PatternLayout\nappender.file.layout.pattern = [%d] %p %m (%c)%n\n"
        "rootLogger.level = INFO\nrootLogger.appenderRef.file.ref = file\n"
    )
    return path


def write_properties(path: Path, props: dict[str, str]) -> Path:
    path.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
    return path


def new_cluster_id() -> str:
    cluster_id = "-"
    while cluster_id.startswith("-"):  # the storage tool would read "-..." as an option
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    return cluster_id


def format_command(home: Path, config: Path, cluster_id: str, max_heap: str = "1g") -> list[str]:
    """The command formatting a KRaft node's storage (an already formatted folder is left as is)."""
    return java_command(
        home,
        "kafka.tools.StorageTool",
        *("format", "-t", cluster_id, "-c", str(config), "--ignore-formatted"),
        max_heap=max_heap,
    )


def format_storage(home: Path, config: Path, cluster_id: str) -> None:
    """Format a KRaft node's storage (once: an already formatted folder is left as it is)."""
    subprocess.run(
        format_command(home, config, cluster_id),
        check=True,
        capture_output=True,
    )


def _config(home: Path, port: int) -> Path:
    controller = port + 1
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{controller}",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(home / "data"),
        "num.partitions": "1",
        "auto.create.topics.enable": "false",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "4",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "4",
        "group.initial.rebalance.delay.ms": "0",
        "log.retention.hours": "168",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
    }
    write_log4j(home, home / "broker.log")
    return write_properties(home / "server.properties", props)


def java_command(home: Path, main: str, *args: str, max_heap: str = "1g") -> list[str]:
    """``java`` running ``main`` of the Kafka jars, logging with ``home``'s log4j2.properties."""
    java = Path(java_home()) / "bin" / "java" if java_home() else Path("java")
    if not LIBS.exists():
        raise FileNotFoundError(f"no Kafka jars in {LIBS}: run `make jars` (mvn package) first")
    return [
        str(java),
        "-Xms256m",
        f"-Xmx{max_heap}",
        f"-Dlog4j2.configurationFile={home / 'log4j2.properties'}",
        "-cp",
        f"{LIBS}/*",
        main,
        *args,
    ]


def status() -> Broker | None:
    home = _home()
    pid_file = home / "broker.pid"
    if not pid_file.exists():
        return None
    pid = int(pid_file.read_text())
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        pid_file.unlink(missing_ok=True)
        return None
    return Broker(f"127.0.0.1:{kafka_port()}", pid, home / "data")


def start(timeout: float = 90.0) -> Broker:
    running = status()
    if running:
        return running
    home, port = _home(), kafka_port()
    for p in (port, port + 1):
        if not port_free(p):
            raise RuntimeError(
                f"port {p} on 127.0.0.1 is taken by another process: stop it or set DAYCLEAR_KAFKA_PORT"
            )
    config = _config(home, port)
    if not (home / "data" / "meta.properties").exists():
        format_storage(home, config, new_cluster_id())
    with (home / "broker.out").open("a") as out:
        process = subprocess.Popen(
            java_command(home, "kafka.Kafka", str(config)),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=home,
        )
    (home / "broker.pid").write_text(str(process.pid))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"the Kafka broker exited with {process.returncode}; see {home / 'broker.log'}"
            )
        if answers(port) and _metadata_ready(f"127.0.0.1:{port}"):
            return Broker(f"127.0.0.1:{port}", process.pid, home / "data")
        time.sleep(0.5)
    stop()
    raise TimeoutError(
        f"the Kafka broker did not answer within {timeout:.0f}s; see {home / 'broker.log'}"
    )


def _metadata_ready(bootstrap: str) -> bool:

    try:
        partition_counts(bootstrap, timeout=3)
        return True
    except KafkaException:
        return False


def stop(grace: float = 30.0) -> bool:
    running = status()
    if not running:
        return False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(running.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            os.kill(running.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.3)
    else:
        os.killpg(running.pid, signal.SIGKILL)
    (_home() / "broker.pid").unlink(missing_ok=True)
    return True


def topic_partitions() -> dict[str, int]:
    topics = {t: topic_spec(t).partitions for t in EVENT_TOPICS}
    topics[DEAD_LETTER_TOPIC] = topic_spec(DEAD_LETTER_TOPIC).partitions
    topics[ALERTS_TOPIC] = topic_spec(ALERTS_TOPIC).partitions
    return topics


def create_topics(bootstrap: str) -> list[str]:
    """Create the event, dead-letter and alerts topics with the partition counts of ``schemas/`` (and
    the brokers' ``default.replication.factor`` and ``min.insync.replicas``)."""

    return kafka_io.create_topics(bootstrap, topic_partitions())
