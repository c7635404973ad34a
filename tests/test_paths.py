"""The state folder: one default (the checkout's ``.state``, whatever the working directory) and
one layout (dayclear.paths.StateLayout) for every prong (issue 16)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from dayclear import paths
from dayclear.paths import StateLayout
from portal import app
from portal import days as d


def test_the_portal_defaults_to_the_checkouts_state_not_the_working_directorys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 16: ``uvicorn portal.app:app_from_env`` served ``./.state`` of wherever it ran."""
    monkeypatch.delenv("DAYCLEAR_STATE", raising=False)
    monkeypatch.setattr(paths, "ROOT", tmp_path / "checkout")
    monkeypatch.chdir(tmp_path)
    served: list[Path] = []
    monkeypatch.setattr(app, "create_app", lambda state: served.append(state))
    app.app_from_env()
    assert served == [tmp_path / "checkout" / ".state"] == [paths.state_dir()]
    monkeypatch.setenv("DAYCLEAR_STATE", str(tmp_path / "elsewhere"))
    app.app_from_env()
    assert served[-1] == tmp_path / "elsewhere"


def test_the_layout_of_a_state_folder(tmp_path: Path) -> None:
    layout = StateLayout(tmp_path)
    day = date(2026, 11, 23)
    assert (layout.bundle(day), layout.snapshot(day), layout.stream(day)) == (
        tmp_path / "bundles" / "2026-11-23",
        tmp_path / "snapshots" / "2026-11-23",
        tmp_path / "stream" / "2026-11-23",
    )
    assert layout.portal_db == tmp_path / "portal" / "portal.sqlite"
    # the portal's own reading of a state folder (portal.days.Sources.under) agrees with it
    assert d.Sources.under(tmp_path) == d.Sources(
        layout.published, layout.snapshots, layout.ops, layout.bundles
    )
