"""What every continuously running dayclear job shares: a Flink streaming table environment with the
Kafka connector, exactly-once checkpoints kept after a crash, and recovery from the newest one."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from dayclear.config import FLINK_REST_PORT, flink_rest, jars_dir

CONNECTOR_DIR = jars_dir() / "flink-libs"


def kafka_jars() -> str:
    """The Kafka SQL connector and dayclear's own Flink functions (both built by ``make jars``)."""
    jars = sorted(CONNECTOR_DIR.glob("flink-sql-connector-kafka-*.jar"))
    functions = CONNECTOR_DIR / "dayclear-flink-functions.jar"
    if not jars or not functions.exists():
        raise FileNotFoundError(
            f"no Kafka connector or function jar in {CONNECTOR_DIR}: run `make jars`"
        )
    return ";".join(j.as_uri() for j in [*jars, functions])


def streaming_env(
    checkpoints: Path, checkpoint_ms: int, restore: Path | None, parallelism: int
) -> Any:
    """A streaming ``TableEnvironment``: checkpoints every ``checkpoint_ms`` in exactly-once mode,
    retained on cancellation and crash under ``checkpoints``; ``restore`` resumes state, source
    positions and open sink transactions from that checkpoint. With ``DAYCLEAR_FLINK_REST``
    (host:port) the job is submitted to that session cluster instead of a mini-cluster."""
    # PyFlink is imported in the process that runs a job only: the drivers import this module for its
    # names and must not pay PyFlink's import.
    from pyflink.common import Configuration
    from pyflink.table import EnvironmentSettings, TableEnvironment

    remote = Configuration()
    rest = flink_rest()
    if rest:  # a standing session cluster (dayclear cluster up), not an in-process mini-cluster
        host, _, port = rest.rpartition(":")
        remote.set_string("execution.target", "remote")
        remote.set_string("rest.address", host)
        remote.set_string("rest.port", port)
        remote.set_string("python.executable", sys.executable)
    settings = EnvironmentSettings.new_instance().in_streaming_mode().with_configuration(remote)
    env = TableEnvironment.create(settings.build())
    conf = env.get_config()
    conf.set("pipeline.jars", kafka_jars())
    conf.set("parallelism.default", str(parallelism))
    conf.set("execution.checkpointing.interval", f"{checkpoint_ms} ms")
    conf.set("execution.checkpointing.mode", "EXACTLY_ONCE")
    conf.set("state.checkpoints.dir", checkpoints.resolve().as_uri())
    conf.set("execution.checkpointing.externalized-checkpoint-retention", "RETAIN_ON_CANCELLATION")
    conf.set("table.exec.source.idle-timeout", "1 s")
    rest_port = FLINK_REST_PORT.get()
    if rest_port and not rest:  # the mini-cluster's REST API (per operator: busy, back-pressured)
        conf.set("rest.port", rest_port)
    if restore is not None:
        conf.set("execution.state-recovery.path", restore.resolve().as_uri())
    return env


def latest_checkpoint(checkpoints: Path) -> Path | None:
    """The newest completed checkpoint (a ``chk-N`` folder with its ``_metadata``) of any run."""
    done = [p.parent for p in checkpoints.glob("*/chk-*/_metadata")]
    return max(done, key=lambda p: p.stat().st_mtime) if done else None


def stop_with_savepoint(client: Any, directory: Path) -> str:
    """Stop the job with a final savepoint (its sinks commit their last transactions) and return the
    savepoint's path. PyFlink 2.2's ``JobClient.stop_with_savepoint`` calls a Java signature that no
    longer exists (the format type became a parameter), so this calls the Java client directly."""
    from pyflink.java_gateway import get_gateway  # PyFlink only in a job's process (as above)

    canonical = get_gateway().jvm.org.apache.flink.core.execution.SavepointFormatType.CANONICAL
    future = client._j_job_client.stopWithSavepoint(False, directory.as_uri(), canonical)
    return str(future.get())
