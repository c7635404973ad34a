"""The one config module (issue 16): the state folder has one default (the checkout's ``.state``,
whatever the working directory; ``$XDG_STATE_HOME/dayclear`` when installed) and one layout
(dayclear.config.StateLayout) for every prong, and the built package works outside a checkout."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from datetime import date
from pathlib import Path

import pytest

from dayclear import config as paths
from dayclear.config import StateLayout
from portal import app
from portal import days as d


def test_the_portal_defaults_to_the_checkouts_state_not_the_working_directorys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 16: ``uvicorn portal.app:app_from_env`` served ``./.state`` of wherever it ran."""
    monkeypatch.delenv("DAYCLEAR_STATE", raising=False)
    monkeypatch.setattr(paths, "ROOT", tmp_path / "checkout")
    (tmp_path / "checkout").mkdir()
    (tmp_path / "checkout" / "pyproject.toml").write_text("")
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


def test_installed_the_state_defaults_to_xdg_state_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DAYCLEAR_STATE", raising=False)
    monkeypatch.setattr(paths, "ROOT", tmp_path / "site-packages")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert not paths.in_checkout()
    assert paths.state_dir() == tmp_path / "xdg" / "dayclear"


def test_every_setting_is_a_dayclear_variable_with_one_default() -> None:
    names = [s.name for s in paths.SETTINGS]
    assert len(names) == len(set(names)) and all(n.startswith("DAYCLEAR_") for n in names)
    assert paths.KAFKA_PORT.default == "19092"


def test_the_broker_address_defaults_to_the_embedded_broker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DAYCLEAR_KAFKA_BOOTSTRAP", raising=False)
    monkeypatch.setenv("DAYCLEAR_KAFKA_PORT", "19555")
    assert paths.kafka_bootstrap() == "127.0.0.1:19555"
    monkeypatch.setenv("DAYCLEAR_KAFKA_BOOTSTRAP", "127.0.0.1:1,127.0.0.1:2")
    assert paths.kafka_bootstrap() == "127.0.0.1:1,127.0.0.1:2"


def test_the_built_wheel_works_outside_a_checkout(tmp_path: Path) -> None:
    """The wheel (``uv build``) unpacked in a folder of its own, run from elsewhere: the defaults
    leave the checkout, the packaged contract, SQL and portal templates are found, and the CLI
    answers."""
    root = Path(__file__).resolve().parent.parent
    subprocess.run(
        [shutil.which("uv") or "uv", "build", "--wheel", "-q", "-o", str(tmp_path / "dist")],
        cwd=root,
        check=True,
    )
    (wheel,) = (tmp_path / "dist").glob("dayclear-*.whl")
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    probe = (
        "import json, sys\n"
        "from dayclear import config\n"
        "from schemas.registry import file_spec\n"
        "import jobs.preaggregate, portal.app\n"
        "print(json.dumps({'checkout': config.in_checkout(), 'state': str(config.state_dir()),"
        " 'version': config.code_version(), 'spec': file_spec('funds').path,"
        " 'root': str(config.ROOT)}))\n"
    )
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path / "home"),
        "XDG_STATE_HOME": str(tmp_path / "xdg"),
        "PYTHONPATH": str(site),
    }
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["root"] == str(site) and not found["checkout"]
    assert found["state"] == str(tmp_path / "xdg" / "dayclear")
    assert "+" not in found["version"]  # no git commit outside a checkout
    assert found["spec"].endswith("funds.csv")
    for packaged in ("jobs/sql/aggregates.sql", "portal/templates", "schemas/files"):
        assert (site / packaged).exists(), packaged
    cli = subprocess.run(
        [sys.executable, "-m", "dayclear.cli", "config"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert cli.returncode == 0, cli.stderr
    assert str(tmp_path / "xdg" / "dayclear") in cli.stdout
