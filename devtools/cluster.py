"""``dayclear cluster up|status|down``: the production topology on this machine, every part a real
process on loopback, started from the project's own files.

* **Kafka:** three KRaft nodes (broker and controller in one JVM each, a 3-voter controller quorum)
  on ``DAYCLEAR_CLUSTER_KAFKA_PORT`` + 0, 1, 2 (controllers + 100). Every topic defaults to
  replication factor 3 with ``min.insync.replicas`` 2 (the brokers' defaults, so the topics the jobs
  create themselves get them too); the project's producers are idempotent with ``acks=all``
  (:data:`jobs.kafka_io.PRODUCER_SETTINGS`).
* **Flink:** a standalone session cluster, one JobManager and two TaskManagers, started with the
  scripts of the PyFlink distribution (``pyflink/bin/jobmanager.sh`` and ``taskmanager.sh``, in the
  foreground so that each is one process of ours) over a generated ``FLINK_CONF_DIR``: RocksDB state,
  checkpoints and savepoints on disk under the cluster's folder, an exponential-delay restart
  strategy. Jobs go to it when ``DAYCLEAR_FLINK_REST`` names its REST address (jobs/streaming.py);
  the Kafka connector and dayclear's functions travel with each job (``pipeline.jars``).
* **Airflow and PostgreSQL:** :mod:`devtools.airflow_services` (``up``, ``status``, ``down``).
* **The portal:** ``dayclear portal serve`` on ``DAYCLEAR_CLUSTER_PORTAL_PORT``.

Pid files, logs, data and configuration live under ``$DAYCLEAR_STATE/cluster/``; ``cluster/env``
holds the ``export`` lines that point the project's commands at the cluster. ``down`` stops what
``up`` started, in the reverse order.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from confluent_kafka import KafkaException

from dayclear.config import (
    CLUSTER_FLINK_REST,
    CLUSTER_KAFKA_PORT,
    CLUSTER_PORTAL_PORT,
    ROOT,
    flink_env,
    state_dir,
)
from devtools import airflow_services, kafka_broker
from devtools.processes import spawn
from jobs.kafka_io import new_admin

log = logging.getLogger("devtools.cluster")

BROKERS = 3
TASK_MANAGERS = 2
SLOTS_PER_TASK_MANAGER = 2
REPLICATION = 3
MIN_INSYNC = 2
PARTS = ("kafka", "flink", "airflow", "portal")
PYFLINK = Path(sys.prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
PYFLINK = PYFLINK / "site-packages" / "pyflink"


class ClusterError(RuntimeError):
    """A part did not come up (the message says which and where its log is)."""


@dataclass(frozen=True)
class Settings:
    """Where the cluster lives and listens (from the environment, see :meth:`from_env`)."""

    state: Path
    kafka_port: int
    rest_host: str
    rest_port: int
    portal_port: int

    @classmethod
    def from_env(cls) -> Settings:
        rest = CLUSTER_FLINK_REST.get() or "127.0.0.1:28081"
        host, _, port = rest.rpartition(":")
        return cls(
            state=state_dir().absolute(),
            kafka_port=int(CLUSTER_KAFKA_PORT.get() or "29092"),
            rest_host=host or "127.0.0.1",
            rest_port=int(port),
            portal_port=int(CLUSTER_PORTAL_PORT.get() or "8300"),
        )

    @property
    def home(self) -> Path:
        return self.state / "cluster"

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    def broker_port(self, node: int) -> int:
        return self.kafka_port + node - 1

    def controller_port(self, node: int) -> int:
        return self.kafka_port + 100 + node - 1

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{self.broker_port(n)}" for n in range(1, BROKERS + 1))

    @property
    def rest(self) -> str:
        return f"{self.rest_host}:{self.rest_port}"

    @property
    def rpc_port(self) -> int:
        """The JobManager's RPC port (the TaskManagers register there): the REST port + 1."""
        return self.rest_port + 1

    @property
    def checkpoints(self) -> Path:
        return self.home / "flink" / "checkpoints"

    @property
    def savepoints(self) -> Path:
        return self.home / "flink" / "savepoints"


@dataclass(frozen=True)
class Health:
    """One line of ``dayclear cluster status``."""

    name: str
    healthy: bool
    detail: str

    def line(self) -> str:
        return f"{self.name:<16} {'ok' if self.healthy else 'DOWN':<5} {self.detail}"


# --- processes and pid files -----------------------------------------------------------------------
def _pid_file(settings: Settings, name: str) -> Path:
    return settings.home / f"{name}.pid"


def alive(pid: int) -> bool:
    """Is ``pid`` a running process (not a zombie waiting for its parent)?"""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def pid_of(settings: Settings, name: str) -> int | None:
    """The pid of the part ``name`` if it is running."""
    path = _pid_file(settings, name)
    if not path.exists():
        return None
    pid = int(path.read_text())
    return pid if alive(pid) else None


def _spawn(settings: Settings, name: str, command: list[str], env: dict[str, str]) -> int:
    pid = spawn(command, settings.logs / f"{name}.out", _pid_file(settings, name), env, ROOT)
    log.info("started %s (pid %d, log %s)", name, pid, settings.logs / f"{name}.out")
    return pid


def _stop(settings: Settings, names: Iterable[str], grace: float = 60.0) -> list[str]:
    """SIGTERM the process groups of ``names`` together, wait for them to end, SIGKILL what is left
    after ``grace``; returns the names that were running."""
    running = {n: p for n in names if (p := pid_of(settings, n)) is not None}
    for pid in running.values():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while any(alive(p) for p in running.values()) and time.monotonic() < deadline:
        time.sleep(0.3)
    for name, pid in running.items():
        if alive(pid):
            log.warning("%s (pid %d) did not stop within %.0f s: SIGKILL", name, pid, grace)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
    for name in names:
        _pid_file(settings, name).unlink(missing_ok=True)
    return list(running)


def _wait(what: str, ready: Callable[[], bool], timeout: float, log_file: Path) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise ClusterError(f"{what} not ready within {timeout:.0f} s; see {log_file}")
        time.sleep(0.5)


def _http_get(url: str, timeout: float = 2.0) -> tuple[int, Any]:
    """(status, parsed JSON or None) of a GET; status 0 when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body = response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        return exc.code, None
    except OSError:
        return 0, None
    try:
        return status, json.loads(body)
    except ValueError:
        return status, None


# --- Kafka ---------------------------------------------------------------------------------------
def broker_name(node: int) -> str:
    return f"kafka-{node}"


def _broker_home(settings: Settings, node: int) -> Path:
    return settings.home / broker_name(node)


def broker_properties(settings: Settings, node: int) -> dict[str, str]:
    port, controller = settings.broker_port(node), settings.controller_port(node)
    voters = ",".join(f"{n}@127.0.0.1:{settings.controller_port(n)}" for n in range(1, BROKERS + 1))
    return {
        "process.roles": "broker,controller",
        "node.id": str(node),
        "controller.quorum.voters": voters,
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(_broker_home(settings, node) / "data"),
        "num.partitions": "1",
        "default.replication.factor": str(REPLICATION),
        "min.insync.replicas": str(MIN_INSYNC),
        "unclean.leader.election.enable": "false",
        "auto.create.topics.enable": "false",
        "offsets.topic.replication.factor": str(REPLICATION),
        "offsets.topic.num.partitions": "4",
        "transaction.state.log.replication.factor": str(REPLICATION),
        "transaction.state.log.min.isr": str(MIN_INSYNC),
        "transaction.state.log.num.partitions": "4",
        "share.coordinator.state.topic.replication.factor": str(REPLICATION),
        "share.coordinator.state.topic.min.isr": str(MIN_INSYNC),
        "group.initial.rebalance.delay.ms": "0",
        "log.retention.hours": "168",
    }


def _configure_brokers(settings: Settings) -> None:
    """Write each node's configuration; format the storage of the nodes never started (one cluster
    id for all three, kept in ``cluster/kafka.cluster-id``)."""
    id_file = settings.home / "kafka.cluster-id"
    if not id_file.exists():
        id_file.write_text(kafka_broker.new_cluster_id())
    cluster_id = id_file.read_text().strip()
    formats: list[subprocess.Popen[bytes]] = []
    for node in range(1, BROKERS + 1):
        home = _broker_home(settings, node)
        home.mkdir(parents=True, exist_ok=True)
        kafka_broker.write_log4j(home, settings.logs / f"{broker_name(node)}.log")
        config = kafka_broker.write_properties(
            home / "server.properties", broker_properties(settings, node)
        )
        if not (home / "data" / "meta.properties").exists():
            formats.append(
                subprocess.Popen(
                    kafka_broker.format_command(home, config, cluster_id, max_heap="256m"),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                )
            )
    for process in formats:  # the three at once: a JVM start each
        _, error = process.communicate()
        if process.returncode:
            raise ClusterError(
                f"formatting a Kafka node's storage failed: {error.decode()[-2000:]}"
            )


#: How long a restart waits for its ports: the connections of a process that was killed linger
#: in FIN_WAIT2 up to ``net.ipv4.tcp_fin_timeout`` (60 s) while their peers keep them open, and
#: until then they hold the port against a new listener (seen: the JobManager restarted at once
#: after a SIGKILL found its REST port taken).
PORT_WAIT_S = 90.0


def _await_ports(name: str, ports: list[int], timeout: float = PORT_WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while taken := [p for p in ports if not kafka_broker.port_free(p)]:
        if time.monotonic() > deadline:
            raise ClusterError(
                f"{name}: port {taken[0]} on 127.0.0.1 is taken by another process"
                f" (waited {timeout:g} s)"
            )
        time.sleep(1)


def start_broker(settings: Settings, node: int) -> int:
    """Start node ``node`` (configured and formatted by :func:`up`) unless it runs already."""
    name = broker_name(node)
    running = pid_of(settings, name)
    if running:
        return running
    _await_ports(name, [settings.broker_port(node), settings.controller_port(node)])
    home = _broker_home(settings, node)
    command = kafka_broker.java_command(
        home, "kafka.Kafka", str(home / "server.properties"), max_heap="512m"
    )
    return _spawn(settings, name, command, {**os.environ})


def _brokers_registered(settings: Settings) -> bool:

    try:  # quietly: refused connections are expected while the brokers start
        metadata = new_admin(settings.bootstrap, log_level=0).list_topics(timeout=3)
    except KafkaException:
        return False
    return len(metadata.brokers) == BROKERS


def _up_kafka(settings: Settings, timeout: float) -> None:
    _configure_brokers(settings)
    for node in range(1, BROKERS + 1):
        start_broker(settings, node)
    _wait(
        f"the {BROKERS} Kafka brokers",
        lambda: _brokers_registered(settings),
        timeout,
        settings.logs,
    )
    created = kafka_broker.create_topics(settings.bootstrap)
    log.info("Kafka at %s; topics created: %s", settings.bootstrap, created or "none (all there)")
    _wait(
        "in-sync replicas",
        lambda: all(h.healthy for h in kafka_health(settings)),
        timeout,
        settings.logs,
    )


def partitions_in_sync(bootstrap: str, topics: Iterable[str]) -> dict[str, list[tuple[int, int]]]:
    """Per topic of ``topics``: (replicas, in-sync replicas) of each partition."""

    metadata = new_admin(bootstrap).list_topics(timeout=5)
    return {
        topic: [
            (len(p.replicas), len(p.isrs))
            for _, p in sorted(metadata.topics[topic].partitions.items())
        ]
        for topic in topics
        if topic in metadata.topics
    }


def kafka_health(settings: Settings) -> list[Health]:
    """One line per broker (process, port, in the ISR of every partition it holds of the day's
    topics) and one for the day's topics (every partition with all its replicas in sync)."""

    topics = kafka_broker.topic_partitions()
    try:  # quietly: a broker down is what this reports
        metadata = new_admin(settings.bootstrap, log_level=0).list_topics(timeout=5)
    except KafkaException as exc:
        metadata, error = None, str(exc)
    lines = []
    for node in range(1, BROKERS + 1):
        name, port = broker_name(node), settings.broker_port(node)
        pid = pid_of(settings, name)
        if pid is None:
            lines.append(Health(name, False, f"127.0.0.1:{port} not running"))
            continue
        if metadata is None or node not in metadata.brokers:
            lines.append(Health(name, False, f"127.0.0.1:{port} pid {pid}, not registered"))
            continue
        held = behind = led = 0
        for topic in topics:
            held_topic = metadata.topics.get(topic)
            for p in held_topic.partitions.values() if held_topic else []:
                if node in p.replicas:
                    held += 1
                    behind += node not in p.isrs
                    led += p.leader == node
        lines.append(
            Health(
                name,
                behind == 0 and held > 0,
                f"127.0.0.1:{port} pid {pid}, leader of {led}, in sync on {held - behind}/{held}"
                " partitions of the day's topics",
            )
        )
    if metadata is None:
        lines.append(Health("kafka-topics", False, f"no metadata: {error}"))
        return lines
    missing = [t for t in topics if t not in metadata.topics]
    short = [
        f"{t}[{i}] {len(p.isrs)}/{len(p.replicas)}"
        for t in topics
        if t in metadata.topics
        for i, p in sorted(metadata.topics[t].partitions.items())
        if len(p.isrs) < len(p.replicas) or len(p.replicas) < REPLICATION
    ]
    total = sum(len(metadata.topics[t].partitions) for t in topics if t in metadata.topics)
    if missing or short:
        detail = f"missing {missing}; " if missing else ""
        detail += f"under-replicated: {', '.join(short[:6])}{' ...' if len(short) > 6 else ''}"
        lines.append(Health("kafka-topics", False, detail))
    else:
        lines.append(
            Health(
                "kafka-topics",
                True,
                f"{total} partitions of {len(topics)} topics, all "
                f"{REPLICATION}/{REPLICATION} in sync (min.insync.replicas {MIN_INSYNC})",
            )
        )
    return lines


# --- Flink ---------------------------------------------------------------------------------------
def jobmanager_name() -> str:
    return "flink-jobmanager"


def taskmanager_name(n: int) -> str:
    return f"flink-taskmanager-{n}"


def flink_config(settings: Settings) -> dict[str, Any]:
    """The session cluster's ``config.yaml`` (flat keys), the PyFlink distribution's JVM options
    kept."""
    shipped = yaml.safe_load((PYFLINK / "conf" / "config.yaml").read_text())
    java_opts = shipped["env"]["java"]["opts"]["all"]
    return {
        "env.java.opts.all": java_opts,
        "jobmanager.rpc.address": "127.0.0.1",
        "jobmanager.rpc.port": settings.rpc_port,
        "jobmanager.bind-host": "127.0.0.1",
        "jobmanager.memory.process.size": "1024m",
        "jobmanager.execution.failover-strategy": "region",
        "taskmanager.bind-host": "127.0.0.1",
        "taskmanager.host": "127.0.0.1",
        "taskmanager.numberOfTaskSlots": SLOTS_PER_TASK_MANAGER,
        "taskmanager.memory.process.size": "1536m",
        "rest.address": settings.rest_host,
        "rest.bind-address": settings.rest_host,
        "rest.port": settings.rest_port,
        "blob.server.port": "0",
        "parallelism.default": 1,
        "heartbeat.interval": 2000,
        "heartbeat.timeout": 15000,
        "state.backend.type": "rocksdb",
        "execution.checkpointing.incremental": True,
        "execution.checkpointing.dir": settings.checkpoints.as_uri(),
        "execution.checkpointing.savepoint-dir": settings.savepoints.as_uri(),
        "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
        "restart-strategy.type": "exponential-delay",
        "restart-strategy.exponential-delay.initial-backoff": "1 s",
        "restart-strategy.exponential-delay.max-backoff": "30 s",
        "restart-strategy.exponential-delay.backoff-multiplier": 2.0,
        "restart-strategy.exponential-delay.attempts-before-reset-backoff": 20,
        "io.tmp.dirs": str(settings.home / "flink" / "tmp"),
        "python.executable": sys.executable,
        "python.client.executable": sys.executable,
    }


def _configure_flink(settings: Settings) -> Path:
    conf = settings.home / "flink" / "conf"
    conf.mkdir(parents=True, exist_ok=True)
    for shipped in (PYFLINK / "conf").iterdir():
        if shipped.name != "config.yaml":
            (conf / shipped.name).write_bytes(shipped.read_bytes())
    # in the foreground the scripts log to the console (our logs/<part>.out) and to a file: one is
    # enough
    console = conf / "log4j-console.properties"
    console.write_text(
        "".join(
            line
            for line in console.read_text().splitlines(keepends=True)
            if not line.startswith("rootLogger.appenderRef.rolling")
        )
    )
    (conf / "config.yaml").write_text(yaml.safe_dump(flink_config(settings), sort_keys=True))
    for folder in (settings.checkpoints, settings.savepoints, settings.home / "flink" / "tmp"):
        folder.mkdir(parents=True, exist_ok=True)
    return conf


def _flink_env(settings: Settings) -> dict[str, str]:
    return {
        **flink_env(),
        "FLINK_CONF_DIR": str(settings.home / "flink" / "conf"),
        "FLINK_LOG_DIR": str(settings.logs),
        "FLINK_PID_DIR": str(settings.home / "flink"),
    }


def start_jobmanager(settings: Settings) -> int:
    running = pid_of(settings, jobmanager_name())
    if running:
        return running
    _await_ports("Flink", [settings.rest_port, settings.rpc_port])
    command = ["bash", str(PYFLINK / "bin" / "jobmanager.sh"), "start-foreground"]
    return _spawn(settings, jobmanager_name(), command, _flink_env(settings))


def start_taskmanager(settings: Settings, n: int) -> int:
    name = taskmanager_name(n)
    running = pid_of(settings, name)
    if running:
        return running
    command = ["bash", str(PYFLINK / "bin" / "taskmanager.sh"), "start-foreground"]
    command += ["-D", f"taskmanager.resource-id={name}"]
    return _spawn(settings, name, command, _flink_env(settings))


def registered_taskmanagers(settings: Settings) -> dict[str, dict[str, Any]] | None:
    """The TaskManagers registered at the JobManager by id (None if its REST API does not answer)."""
    status, body = _http_get(f"http://{settings.rest}/taskmanagers")
    if status != 200 or not isinstance(body, dict):
        return None
    return {tm["id"]: tm for tm in body.get("taskmanagers", [])}


def _up_flink(settings: Settings, timeout: float) -> None:
    _configure_flink(settings)
    start_jobmanager(settings)
    _wait(
        "the Flink JobManager",
        lambda: _http_get(f"http://{settings.rest}/overview")[0] == 200,
        timeout,
        settings.logs / f"{jobmanager_name()}.out",
    )
    for n in range(1, TASK_MANAGERS + 1):
        start_taskmanager(settings, n)
    _wait(
        "the Flink TaskManagers",
        lambda: all(h.healthy for h in flink_health(settings)),
        timeout,
        settings.logs,
    )
    log.info("Flink session cluster at http://%s", settings.rest)


def flink_health(settings: Settings) -> list[Health]:
    lines = []
    pid = pid_of(settings, jobmanager_name())
    status, overview = _http_get(f"http://{settings.rest}/overview")
    if pid is None:
        lines.append(Health("flink-jm", False, f"http://{settings.rest} not running"))
    elif status != 200 or not isinstance(overview, dict):
        lines.append(Health("flink-jm", False, f"pid {pid}, REST {settings.rest} answers {status}"))
    else:
        lines.append(
            Health(
                "flink-jm",
                True,
                f"pid {pid}, http://{settings.rest}: {overview['taskmanagers']} TaskManagers, "
                f"{overview['slots-available']}/{overview['slots-total']} slots free, "
                f"{overview['jobs-running']} jobs running",
            )
        )
    registered = registered_taskmanagers(settings) or {}
    for n in range(1, TASK_MANAGERS + 1):
        name = taskmanager_name(n)
        tm_pid = pid_of(settings, name)
        if tm_pid is None:
            lines.append(Health(f"flink-tm-{n}", False, "not running"))
        elif name not in registered:
            lines.append(Health(f"flink-tm-{n}", False, f"pid {tm_pid}, not registered"))
        else:
            tm = registered[name]
            lines.append(
                Health(
                    f"flink-tm-{n}",
                    True,
                    f"pid {tm_pid}, registered, {tm['freeSlots']}/{tm['slotsNumber']} slots free",
                )
            )
    return lines


# --- the portal ----------------------------------------------------------------------------------
def _portal_url(settings: Settings) -> str:
    return f"http://127.0.0.1:{settings.portal_port}/login"


def _up_portal(settings: Settings, timeout: float) -> None:
    if pid_of(settings, "portal") is None:
        if not kafka_broker.port_free(settings.portal_port):
            raise ClusterError(f"portal: port {settings.portal_port} on 127.0.0.1 is taken")
        command = [sys.executable, "-m", "dayclear.cli", "portal", "serve"]
        command += ["--state", str(settings.state), "--port", str(settings.portal_port)]
        env = {**os.environ, "PYTHONPATH": str(ROOT), "DAYCLEAR_STATE": str(settings.state)}
        _spawn(settings, "portal", command, env)
    _wait(
        "the portal",
        lambda: _http_get(_portal_url(settings))[0] == 200,
        timeout,
        settings.logs / "portal.out",
    )


def portal_health(settings: Settings) -> Health:
    pid = pid_of(settings, "portal")
    if pid is None:
        return Health("portal", False, "not running")
    status, _ = _http_get(_portal_url(settings))
    return Health("portal", status == 200, f"pid {pid}, {_portal_url(settings)} answers {status}")


# --- Airflow and PostgreSQL (devtools/airflow_services.py) ----------------------------------------
def airflow_health(settings: Settings) -> list[Health]:
    try:
        return [Health(n, ok, detail) for n, ok, detail in airflow_services.status(settings.state)]
    except NotImplementedError as exc:
        return [Health("airflow", False, f"not available: {exc}")]


# --- the whole -----------------------------------------------------------------------------------
def _parts_file(settings: Settings) -> Path:
    return settings.home / "parts.json"


def started_parts(settings: Settings) -> list[str]:
    """The parts the last ``up`` started (all of them if it did not say)."""
    path = _parts_file(settings)
    return json.loads(path.read_text()) if path.exists() else list(PARTS)


#: Job settings for the cluster (jobs/stream_preaggregate.py reads ``DAYCLEAR_<KEY>``): the
#: pre-aggregation picks the heap state backend for the mini-cluster; on the cluster it keeps RocksDB,
#: whose incremental checkpoints write what changed, not the whole day's state every time.
JOB_SETTINGS = {
    "DAYCLEAR_STATE_BACKEND_TYPE": "rocksdb",
    "DAYCLEAR_EXECUTION_CHECKPOINTING_INCREMENTAL": "true",
}


def env_lines(settings: Settings) -> str:
    """What points the project's commands and jobs at this cluster."""
    settings_lines = "".join(f"export {k}={v}\n" for k, v in JOB_SETTINGS.items())
    return (
        f"export DAYCLEAR_STATE={settings.state}\n"
        f"export DAYCLEAR_KAFKA_BOOTSTRAP={settings.bootstrap}\n"
        f"export DAYCLEAR_FLINK_REST={settings.rest}\n"
    ) + settings_lines


def up(settings: Settings, parts: Iterable[str] = PARTS, timeout: float = 180.0) -> None:
    """Start ``parts`` (in the order of :data:`PARTS`) and wait until each is healthy."""
    chosen = [p for p in PARTS if p in set(parts)]
    settings.logs.mkdir(parents=True, exist_ok=True)
    _parts_file(settings).write_text(json.dumps(chosen))
    (settings.home / "env").write_text(env_lines(settings))
    if "kafka" in chosen:
        _up_kafka(settings, timeout)
    if "flink" in chosen:
        _up_flink(settings, timeout)
    if "airflow" in chosen:
        os.environ.setdefault("DAYCLEAR_KAFKA_BOOTSTRAP", settings.bootstrap)
        os.environ.setdefault("DAYCLEAR_FLINK_REST", settings.rest)
        for key, value in JOB_SETTINGS.items():
            os.environ.setdefault(key, value)
        try:
            airflow_services.up(settings.state)
        except NotImplementedError as exc:
            log.error("Airflow and PostgreSQL not started: %s", exc)
    if "portal" in chosen:
        _up_portal(settings, timeout)


def status(settings: Settings) -> list[Health]:
    parts = started_parts(settings)
    lines: list[Health] = []
    if "kafka" in parts:
        lines += kafka_health(settings)
    if "flink" in parts:
        lines += flink_health(settings)
    if "airflow" in parts:
        lines += airflow_health(settings)
    if "portal" in parts:
        lines.append(portal_health(settings))
    return lines


def down(settings: Settings) -> list[str]:
    """Stop everything ``up`` started, the last started first; returns what was running."""
    stopped = _stop(settings, ["portal"], grace=15)
    if "airflow" in started_parts(settings):
        try:
            airflow_services.down(settings.state)
        except NotImplementedError as exc:
            log.warning("Airflow: %s", exc)
    stopped += _stop(settings, [taskmanager_name(n) for n in range(1, TASK_MANAGERS + 1)])
    stopped += _stop(settings, [jobmanager_name()])
    stopped += _stop(settings, [broker_name(n) for n in range(1, BROKERS + 1)], grace=60)
    return stopped
