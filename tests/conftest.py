from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_dayclear(*args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    """Run the real ``dayclear`` command line in a child process."""
    done = subprocess.run(
        [sys.executable, "-m", "dayclear.cli", *args], capture_output=True, text=True, cwd=ROOT
    )
    if check and done.returncode != 0:
        raise AssertionError(f"dayclear {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done


@pytest.fixture(scope="session")
def kafka(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A real single-node KRaft broker for the session, on its own port and state folder."""
    import os

    state = tmp_path_factory.mktemp("kafka-state")
    os.environ["DAYCLEAR_STATE"] = str(state)
    # DAYCLEAR_TEST_KAFKA_PORT: another port when a second test session shares the machine
    os.environ["DAYCLEAR_KAFKA_PORT"] = os.environ.get("DAYCLEAR_TEST_KAFKA_PORT", "19192")
    from devtools import kafka_broker

    # DAYCLEAR_TEST_KAFKA_START_TIMEOUT: seconds for the broker to answer on a crowded machine
    broker = kafka_broker.start(float(os.environ.get("DAYCLEAR_TEST_KAFKA_START_TIMEOUT", "90")))
    kafka_broker.create_topics(broker.bootstrap)
    yield broker
    kafka_broker.stop()


@pytest.fixture(scope="session")
def portal_story(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A real published day with a story (v1 with audit breaks, v2 re-issued and final), a portal
    server over it, and its users: ``staff`` and one user per member.

    The story runs the Flink pre-aggregation twice (~2 min). While working on the portal alone,
    ``DAYCLEAR_TEST_PORTAL_STORY=DIR`` keeps the story made in DIR and copies it for later runs."""
    import json
    import os
    import shutil

    from tests.portal_day import MEMBERS, build_story
    from tests.portal_server import provision, serve

    state = tmp_path_factory.mktemp("portal-state")
    kept = (
        Path(os.environ.get("DAYCLEAR_TEST_PORTAL_STORY", ""))
        if os.environ.get("DAYCLEAR_TEST_PORTAL_STORY")
        else None
    )
    if kept and (kept / "story.json").is_file():
        shutil.copytree(kept / "state", state, dirs_exist_ok=True)
        story = json.loads((kept / "story.json").read_text())
        story["out"] = state / "published"
    else:
        story = build_story(state)
        if kept:
            shutil.copytree(state, kept / "state", ignore=shutil.ignore_patterns("portal"))
            (kept / "story.json").write_text(json.dumps(story, default=str))
    members = [f"M{i:03d}" for i in range(1, MEMBERS + 1)]
    store = provision(state, members)
    with serve(state) as url:
        yield {**story, "state": state, "url": url, "store": store, "members": members}
