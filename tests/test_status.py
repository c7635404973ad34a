"""A day is final only when its latest version is settled, audited and smoke-tested."""

from __future__ import annotations

from pathlib import Path

from publication.status import mark, read_status


def test_final_needs_settlement_audit_and_smoke_of_the_same_version(tmp_path: Path) -> None:
    day = "2026-11-23"
    assert mark(tmp_path, day, settled_version=1)["final"] is False
    assert mark(tmp_path, day, audit={"version": 1, "passed": True})["final"] is False
    assert mark(tmp_path, day, smoke={"version": 1, "passed": True})["final"] is True
    # a re-issue (v2) is not final until it is audited and smoke-tested itself
    assert mark(tmp_path, day, settled_version=2)["final"] is False
    assert (
        mark(
            tmp_path,
            day,
            audit={"version": 2, "passed": False},
            smoke={"version": 2, "passed": True},
        )["final"]
        is False
    )
    assert read_status(tmp_path, day)["audit"] == {"version": 2, "passed": False}
