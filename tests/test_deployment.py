"""docker-compose.yml describes production; no engine runs it here, so its structure is checked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from devtools import cluster

ROOT = Path(__file__).resolve().parent.parent


def _compose() -> dict[str, Any]:
    compose: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return compose


BROKERS = [f"kafka-{n}" for n in range(1, cluster.BROKERS + 1)]
TASK_MANAGERS = [f"flink-taskmanager-{n}" for n in range(1, cluster.TASK_MANAGERS + 1)]


def _flink_properties(service: dict) -> dict[str, str]:  # type: ignore[type-arg]
    text = service["environment"]["FLINK_PROPERTIES"]
    return {k.strip(): v.strip() for k, v in (line.split(":", 1) for line in text.splitlines())}


def test_services_of_the_production_topology() -> None:
    """The topology `dayclear cluster up` runs: three brokers, a JobManager and two TaskManagers,
    Postgres, Airflow's scheduler, API server and DAG processor, the portal."""
    services = _compose()["services"]
    assert {
        *BROKERS,
        "flink-jobmanager",
        *TASK_MANAGERS,
        "postgres",
        "airflow-init",
        "airflow-apiserver",
        "airflow-scheduler",
        "airflow-dag-processor",
        "portal",
    } <= set(services)
    assert len([s for s in services if s.startswith("kafka")]) == cluster.BROKERS == 3
    assert len([s for s in services if s.startswith("flink-taskmanager")]) == 2


def test_three_kraft_brokers_replicate_every_topic_three_times() -> None:
    services = _compose()["services"]
    voters = {f"{n}@kafka-{n}:9093" for n in range(1, cluster.BROKERS + 1)}
    local = cluster.Settings(Path("/s"), 29092, "127.0.0.1", 28081, 8300)
    for n, name in enumerate(BROKERS, start=1):
        broker = services[name]
        env = broker["environment"]
        assert broker["image"].startswith("apache/kafka:4.")
        assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
        assert env["KAFKA_NODE_ID"] == n
        assert set(env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")) == voters
        assert env["KAFKA_ADVERTISED_LISTENERS"] == f"PLAINTEXT://{name}:9092"
        assert f"{name}-data" in broker["volumes"][0]
        # the same settings as dayclear cluster's own brokers
        props = cluster.broker_properties(local, n)
        for key in (
            "default.replication.factor",
            "min.insync.replicas",
            "offsets.topic.replication.factor",
            "transaction.state.log.replication.factor",
            "transaction.state.log.min.isr",
            "auto.create.topics.enable",
            "unclean.leader.election.enable",
        ):
            assert str(env["KAFKA_" + key.upper().replace(".", "_")]).lower() == props[key], key
        assert env["KAFKA_DEFAULT_REPLICATION_FACTOR"] == 3
        assert env["KAFKA_MIN_INSYNC_REPLICAS"] == 2
    assert len({services[b]["environment"]["CLUSTER_ID"] for b in BROKERS}) == 1
    airflow = services["airflow-scheduler"]["environment"]
    assert set(airflow["DAYCLEAR_KAFKA_BOOTSTRAP"].split(",")) == {f"{b}:9092" for b in BROKERS}


def test_flink_session_cluster_with_rocksdb_checkpoints_and_restarts() -> None:
    services = _compose()["services"]
    jobmanager = _flink_properties(services["flink-jobmanager"])
    assert services["flink-jobmanager"]["command"] == "jobmanager"
    local = cluster.flink_config(cluster.Settings(Path("/s"), 29092, "127.0.0.1", 28081, 8300))
    for key in (
        "state.backend.type",
        "restart-strategy.type",
        "taskmanager.numberOfTaskSlots",
        "execution.checkpointing.externalized-checkpoint-retention",
        "jobmanager.execution.failover-strategy",
    ):
        assert jobmanager[key] == str(local[key]), key
    assert jobmanager["state.backend.type"] == "rocksdb"
    assert jobmanager["execution.checkpointing.dir"].startswith("file:///var/lib/dayclear/")
    for name in TASK_MANAGERS:
        service = services[name]
        assert service["command"] == "taskmanager"
        assert _flink_properties(service) == jobmanager
        assert "flink-jobmanager" in service["depends_on"]
    airflow = services["airflow-scheduler"]["environment"]
    assert airflow["DAYCLEAR_FLINK_REST"] == "flink-jobmanager:8081"


def test_every_service_is_runnable_and_dependencies_exist() -> None:
    compose = _compose()
    services = compose["services"]
    declared_volumes = set(compose["volumes"])
    for name, service in services.items():
        assert "image" in service or "build" in service, name
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown {dependency}"
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            assert source.startswith((".", "/")) or source in declared_volumes, (
                f"{name}: undeclared volume {source}"
            )
    published = [p.split(":")[0] for s in services.values() for p in s.get("ports", [])]
    assert len(published) == len(set(published)), "host ports must not clash"


def test_images_are_built_from_files_in_the_repo() -> None:
    for service in _compose()["services"].values():
        build = service.get("build")
        if build:
            dockerfile = ROOT / build["context"] / build["dockerfile"]
            assert dockerfile.exists(), dockerfile
            for line in dockerfile.read_text().splitlines():
                if line.startswith("COPY"):
                    sources = [s for s in line.split()[1:-1] if not s.startswith("--")]
                    for source in sources:
                        if not source.startswith("target/"):
                            assert (ROOT / source).exists(), f"{dockerfile}: {source}"


def test_flink_image_carries_the_pinned_kafka_connector() -> None:
    dockerfile = (ROOT / "deploy" / "flink" / "Dockerfile").read_text()
    pom = (ROOT / "pom.xml").read_text()
    assert "FROM flink:2.2.0" in dockerfile
    assert "flink-sql-connector-kafka-5.0.0-2.2.jar" in dockerfile
    assert "<flink.kafka.connector.version>5.0.0-2.2</flink.kafka.connector.version>" in pom


def test_secrets_are_not_in_the_file() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    assert "${AIRFLOW_DB_PASSWORD:?" in text
    assert "PASSWORD: airflow" not in text
