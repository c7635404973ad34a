"""A Flink session cluster's REST API, for what the Python drivers cannot do themselves.

A job submitted to a session cluster (``DAYCLEAR_FLINK_REST``, devtools/cluster.py) lives in the
cluster, not in the driver process that submitted it: a driver stopped or killed leaves the job
running. Whoever stops a session's job must therefore cancel it in the cluster too, by its id,
which the driver records beside the session (jobs/stream_preaggregate.py). On the embedded
mini-cluster the job dies with its driver and nothing is recorded.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from typing import Any

log = logging.getLogger(__name__)

#: states after which a job does nothing more (Flink's ``JobStatus.isGloballyTerminalState``)
TERMINAL = frozenset({"FINISHED", "CANCELED", "FAILED"})


class FlinkRestError(Exception):
    """The cluster did not answer as expected (names the address and the request)."""


def _request(rest: str, path: str, method: str = "GET", timeout: float = 5.0) -> tuple[int, Any]:
    request = urllib.request.Request(f"http://{rest}{path}", method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code, None
    except OSError as exc:
        raise FlinkRestError(f"{method} http://{rest}{path}: {exc}") from exc
    return status, json.loads(body) if body else None


def job_state(rest: str, job_id: str) -> str | None:
    """The job's state (``RUNNING``, ``CANCELED``...), or None when the cluster does not know it
    (a JobManager restarted without it, or a job long gone)."""
    status, body = _request(rest, f"/jobs/{job_id}")
    if status == 404:
        return None
    if status != 200 or not isinstance(body, dict):
        raise FlinkRestError(f"GET http://{rest}/jobs/{job_id} answered {status}")
    return str(body["state"])


def cancel(rest: str, job_id: str, timeout: float = 60.0) -> str | None:
    """Cancel the job unless it has ended already, and wait until it has. Returns its final state
    (None if the cluster does not know it)."""
    state = job_state(rest, job_id)
    if state is None or state in TERMINAL:
        return state
    status, _ = _request(rest, f"/jobs/{job_id}?mode=cancel", method="PATCH")
    if status not in (200, 202, 404):
        raise FlinkRestError(f"PATCH http://{rest}/jobs/{job_id}?mode=cancel answered {status}")
    deadline = time.monotonic() + timeout
    while (state := job_state(rest, job_id)) is not None and state not in TERMINAL:
        if time.monotonic() > deadline:
            raise FlinkRestError(f"job {job_id} on {rest} still {state} {timeout:g} s after cancel")
        time.sleep(0.5)
    log.info("job %s on %s cancelled (%s)", job_id, rest, state)
    return state
