"""docker-compose.yml describes production; no engine runs it here, so its structure is checked."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _compose() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_services_of_the_production_topology() -> None:
    services = _compose()["services"]
    assert {
        "kafka",
        "flink-jobmanager",
        "flink-taskmanager",
        "postgres",
        "airflow-init",
        "airflow-apiserver",
        "airflow-scheduler",
        "airflow-dag-processor",
        "portal",
    } <= set(services)
    assert services["kafka"]["image"].startswith("apache/kafka:4.")
    assert "broker,controller" in services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"]


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
