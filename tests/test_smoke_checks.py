"""The smoke DAG's service check reads a cluster's bootstrap list (smoke_tests/checks.py): found by
the scheduler test on the three-broker Kafka, where the check took the whole list for one address."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from smoke_tests.checks import broker_problems


@pytest.fixture
def listening() -> Iterator[str]:
    """A real listening socket on loopback, as host:port."""
    server = socket.create_server(("127.0.0.1", 0))
    try:
        yield f"127.0.0.1:{server.getsockname()[1]}"
    finally:
        server.close()


@pytest.fixture
def closed() -> str:
    """A loopback port nothing listens on."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
    return f"127.0.0.1:{port}"


def test_one_answering_broker_of_three_passes(listening: str, closed: str) -> None:
    assert broker_problems(f"{closed},{listening},{closed}", timeout=1) == []


def test_a_single_broker_passes(listening: str) -> None:
    assert broker_problems(listening, timeout=1) == []


def test_no_answering_broker_is_a_problem_naming_each(closed: str) -> None:
    problems = broker_problems(f"{closed},{closed}", timeout=1)
    assert len(problems) == 1
    assert problems[0].startswith(f"no Kafka broker of {closed},{closed} answers: {closed} (")
