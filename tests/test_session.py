"""The session's bookkeeping without the services: its fixed layout, how a dead or foreign job is
told from a live one, and the reasons the stream cannot close a day (each one sends the close to
the batch fallback). The real-service paths are in tests/test_stream_close.py."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from driver.session import (
    Session,
    job_running,
    offsets_json,
    offsets_of,
    read_session,
    session_paths,
)
from driver.stream_close import StreamUnavailable, close_from_stream
from edge.formats import json_bytes

DAY = date(2026, 11, 27)


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DAYCLEAR_STATE", str(tmp_path))
    return tmp_path


def _record(pid: int, bootstrap: str = "127.0.0.1:1") -> Session:
    session = Session(
        day=DAY,
        run=1,
        group="dayclear-preaggregate-stream-2026-11-27-r1",
        pid=pid,
        bootstrap=bootstrap,
        bundle=Path("/nowhere"),
        start_offsets={"orders": {0: 5, 1: 7}, "trades": {0: 0}},
    )
    session.paths.root.mkdir(parents=True)
    session.paths.record.write_bytes(json_bytes(session.as_json()))
    return session


def test_the_layout_is_fixed_under_the_state_folder(state: Path) -> None:
    paths = session_paths(DAY)
    assert paths.root == state / "stream" / "2026-11-27"
    assert [p.name for p in (paths.freeze, paths.done, paths.record)] == [
        "freeze.json",
        "freeze.json.done",
        "session.json",
    ]


def test_the_record_reads_back(state: Path) -> None:
    session = _record(pid=12345)
    assert read_session(DAY) == session
    assert offsets_of(offsets_json(session.start_offsets)) == session.start_offsets


def test_a_dead_or_foreign_process_is_not_the_job(state: Path) -> None:
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    assert not job_running(_record(pid=finished.pid))
    session = read_session(DAY)
    assert session is not None
    foreign = replace(session, pid=os.getpid())  # alive, but not the job
    assert not job_running(foreign)


def test_a_zombie_job_is_not_running(state: Path) -> None:
    """A job that died before its parent waited for it is a zombie: not running."""
    freeze = str(session_paths(DAY).freeze)
    code = "import sys; sys.exit(0)"
    job = subprocess.Popen([sys.executable, "-c", code, "jobs.stream_preaggregate", freeze])
    session = _record(pid=job.pid)
    deadline = time.monotonic() + 30
    while Path(f"/proc/{job.pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] != "Z":
        assert time.monotonic() < deadline, "the child did not exit"
        time.sleep(0.01)  # it exits at once and stays a zombie until wait()
    try:
        assert not job_running(session)
    finally:
        job.wait()


def test_a_live_job_of_the_session_is_running(state: Path) -> None:
    freeze = str(session_paths(DAY).freeze)
    code = "import sys; sys.stdin.read()"
    job = subprocess.Popen(
        [sys.executable, "-c", code, "jobs.stream_preaggregate", freeze], stdin=subprocess.PIPE
    )
    try:
        assert job_running(_record(pid=job.pid))
    finally:
        job.communicate(b"")


def test_the_stream_is_unavailable_without_a_session_or_a_live_job(state: Path) -> None:
    with pytest.raises(StreamUnavailable, match="no streaming session of 2026-11-27"):
        close_from_stream(DAY, Path("/nowhere"), "127.0.0.1:1", state / "snapshot")
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    _record(pid=finished.pid)
    with pytest.raises(StreamUnavailable, match=re.escape("reads 127.0.0.1:1, not 127.0.0.1:2")):
        close_from_stream(DAY, Path("/nowhere"), "127.0.0.1:2", state / "snapshot")
    with pytest.raises(StreamUnavailable, match=rf"\(pid {finished.pid}\) is not running") as exc:
        close_from_stream(DAY, Path("/nowhere"), "127.0.0.1:1", state / "snapshot")
    assert exc.value.reason == str(exc.value)
    assert not (state / "snapshot").exists() and not session_paths(DAY).freeze.exists()
