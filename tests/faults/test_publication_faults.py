"""Publication under faults (issue 15; docs/reliability.md, Fault campaign): real publisher
processes (tests/faults/publisher.py: the settlement task's settle-and-publish of a frozen day) on
real files, killed half-way, starved of disk space, and started twice for the same day.

Each case ends as an undisturbed run does: ``v1`` (or the re-issue's ``v2``) with every file
byte-identical to the undisturbed publication, ``LATEST`` naming it, no temporary folder left, and
every trade of the frozen day in the published ``trades.csv`` once (none lost, none duplicated).
A test waits on what the publisher has done on disk (its pause marker, its log line), never on a
sleep: ``DAYCLEAR_TEST_PUBLISH_PAUSE`` (publication/publish.py) stops a publisher at a named point.
"""

from __future__ import annotations

import csv
import fcntl
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

import pytest

from publication.day_lock import LOCK_NAME, TIMEOUT_ENV
from publication.publish import PAUSE_ENV
from schemas.registry import file_spec
from tests.faults.publisher import prepare
from tests.published import member_rows
from tests.rules_day import DAY

ROOT = Path(__file__).resolve().parents[2]
DAY_DIR = DAY.isoformat()


class Publisher:
    """One publisher process of the worked day, its output read as it comes."""

    def __init__(
        self, work: Path, out: Path, *, reason: str = "", pause: str = "", wait: float = 60
    ):
        env = {k: v for k, v in os.environ.items() if k not in (PAUSE_ENV, TIMEOUT_ENV)}
        env[TIMEOUT_ENV] = str(wait)
        if pause:
            env[PAUSE_ENV] = pause
        cmd = [sys.executable, "-m", "tests.faults.publisher", str(work), str(out)]
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            cmd + (["--reason", reason] if reason else []),
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.out: list[str] = []
        self.err: list[str] = []
        self._readers = [
            threading.Thread(target=_read, args=(self.proc.stdout, self.out), daemon=True),
            threading.Thread(target=_read, args=(self.proc.stderr, self.err), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def finish(self, timeout: float = 120) -> int:
        code = self.proc.wait(timeout)
        for reader in self._readers:
            reader.join(timeout)
        self.seconds = time.monotonic() - self.started
        return code

    @property
    def stdout(self) -> str:
        return "".join(self.out)

    @property
    def stderr(self) -> str:
        return "".join(self.err)


def _read(stream: IO[str] | None, lines: list[str]) -> None:
    assert stream is not None
    for line in stream:
        lines.append(line)


def wait_for(
    condition: Callable[[], bool], what: str, publisher: Publisher, timeout: float = 120
) -> None:
    """Poll ``condition`` (a state on disk or in the publisher's output) until it holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if publisher.proc.poll() is not None:
            pytest.fail(f"the publisher exited ({publisher.proc.returncode}) before {what}")
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} after {timeout} s")
        time.sleep(0.02)


def folder_bytes(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def spools(snapshot: Path) -> list[str]:
    folder = snapshot / ".eod_spool"
    return listing(folder) if folder.is_dir() else []


def trade_figures(snapshot: Path, folder: Path) -> dict[str, int]:
    """Trades frozen in the snapshot (events in) against the trade legs published in ``folder``."""
    columns = file_spec("agg_legs").column_names
    with (snapshot / "legs" / "part-00000.csv").open() as handle:
        frozen = {row["trade_id"] for row in csv.DictReader(handle, fieldnames=columns)}
    legs = [(r["trade_id"], r["account_id"], r["side"]) for r in member_rows(folder, "trades")]
    settled = {trade for trade, _, _ in legs}
    return {
        "events_in": len(frozen),
        "events_settled": len(settled & frozen),
        "lost": len(frozen - settled),
        "duplicated": len(legs) - len(set(legs)),
    }


def report(case: str, figures: dict[str, object]) -> None:
    """The figures of docs/reliability.md's fault table (shown with ``-s`` or ``-rA``)."""
    print(f"fault figures {case}: {json.dumps(figures, sort_keys=True)}")


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The worked day frozen (bundle and snapshot) and published once undisturbed."""
    work = tmp_path_factory.mktemp("faults-day")
    prepare(work)
    out = work / "undisturbed"
    undisturbed = Publisher(work, out)
    assert undisturbed.finish() == 0, undisturbed.stderr
    v1 = folder_bytes(out / DAY_DIR / "v1")
    assert len(v1) == 15 and "members/M1/trades.csv" in v1
    return {"work": work, "snapshot": work / "snapshot", "v1": v1, "published": out / DAY_DIR}


@pytest.fixture(scope="module")
def corrected(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same day re-issued with a corrected opening balance: account A (member M1) opened
    with 1,000,250.00, not 1,000,000.00. Only M1's funds and the closing balances change."""
    work = tmp_path_factory.mktemp("faults-corrected")
    bundle, _ = prepare(work)
    balances = bundle / "opening" / "balances.csv"
    text = balances.read_text()
    assert "\nA,1000000.00\n" in text
    balances.write_text(text.replace("\nA,1000000.00\n", "\nA,1000250.00\n"))
    return work


def _lock_is_free(day_dir: Path) -> bool:
    with (day_dir / LOCK_NAME).open("rb") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True


def test_a_publisher_killed_before_its_rename_leaves_nothing_and_the_rerun_publishes_v1(
    day: dict[str, object], tmp_path: Path
) -> None:
    """Killed with its temporary folder complete, flushed and verified, just before the rename."""
    work, snapshot = Path(str(day["work"])), Path(str(day["snapshot"]))
    out, marker = tmp_path / "out", tmp_path / "paused"
    day_dir = out / DAY_DIR
    killed = Publisher(work, out, pause=f"verified:{marker}")
    wait_for(marker.exists, "pause before the rename", killed)
    partial = Path(marker.read_text())
    assert partial.parent == day_dir and partial.name.startswith(".v1.")
    assert folder_bytes(partial) == day["v1"]
    killed.proc.send_signal(signal.SIGKILL)
    assert killed.finish() == -signal.SIGKILL
    killed_at = time.monotonic()

    # nothing half-published: no version folder, no LATEST; the kernel has released the lock
    left = listing(day_dir)
    assert not [n for n in left if n == "LATEST" or re.fullmatch(r"v\d+", n)], left
    assert partial.name in left and _lock_is_free(day_dir)
    killed_spool = f"{socket.gethostname()}-{killed.proc.pid}"
    assert killed_spool in spools(snapshot)

    rerun = Publisher(work, out)
    assert rerun.finish() == 0, rerun.stderr
    assert "unchanged" not in rerun.stdout
    # the dead publisher's temporary folder and spool are gone; v1 is the undisturbed one
    assert listing(day_dir) == [LOCK_NAME, "LATEST", "v1"]
    assert (day_dir / "LATEST").read_text() == "v1\n"
    assert folder_bytes(day_dir / "v1") == day["v1"]
    assert (day_dir / LOCK_NAME).read_bytes() == b""  # no holder named any more
    assert spools(snapshot) == []
    figures = trade_figures(snapshot, day_dir / "v1")
    assert figures["events_settled"] == figures["events_in"] == 3
    assert figures["lost"] == figures["duplicated"] == 0
    report(
        "SIGKILL before the rename",
        {**figures, "recovered_s": round(time.monotonic() - killed_at, 2)},
    )


def test_a_publisher_killed_after_its_rename_is_completed_by_the_rerun(
    day: dict[str, object], tmp_path: Path
) -> None:
    """Killed between the rename of ``v1`` and the move of ``LATEST``: ``v1`` is whole (it was
    verified before its rename) and the rerun, byte-identical, only moves ``LATEST``."""
    work, snapshot = Path(str(day["work"])), Path(str(day["snapshot"]))
    out, marker = tmp_path / "out", tmp_path / "paused"
    day_dir = out / DAY_DIR
    killed = Publisher(work, out, pause=f"renamed:{marker}")
    wait_for(marker.exists, "pause after the rename", killed)
    killed.proc.send_signal(signal.SIGKILL)
    assert killed.finish() == -signal.SIGKILL
    killed_at = time.monotonic()
    assert "LATEST" not in listing(day_dir)
    assert folder_bytes(day_dir / "v1") == day["v1"]

    rerun = Publisher(work, out)
    assert rerun.finish() == 0, rerun.stderr
    assert "(unchanged: identical to the latest version)" in rerun.stdout
    assert listing(day_dir) == [LOCK_NAME, "LATEST", "v1"]
    assert (day_dir / "LATEST").read_text() == "v1\n"
    assert folder_bytes(day_dir / "v1") == day["v1"]
    report(
        "SIGKILL after the rename",
        {
            **trade_figures(snapshot, day_dir / "v1"),
            "recovered_s": round(time.monotonic() - killed_at, 2),
        },
    )


@pytest.fixture
def small_disk(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A 1 MiB tmpfs mounted as the output folder (root only), unmounted afterwards."""
    out = tmp_path / "out"
    out.mkdir()
    if not shutil.which("mount"):
        pytest.skip("a full disk needs a small tmpfs mounted as the output folder: no mount(8)")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m,mode=0755", "tmpfs", str(out)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(
            "a full disk needs a small tmpfs mounted as the output folder, and mounting is not "
            f"permitted here (root or CAP_SYS_ADMIN needed): {mounted.stderr.strip()}"
        )
    try:
        yield out
    finally:
        subprocess.run(["umount", "--lazy", str(out)], check=True)


def _fill(disk: Path, pages_free: int) -> Path:
    """A ballast file that leaves ``pages_free`` pages of ``disk`` free."""
    stats = os.statvfs(disk)
    ballast = disk / "ballast"
    fd = os.open(ballast, os.O_CREAT | os.O_WRONLY, 0o644)
    try:
        os.posix_fallocate(fd, 0, (stats.f_bavail - pages_free) * stats.f_frsize)
    finally:
        os.close(fd)
    assert os.statvfs(disk).f_bavail == pages_free
    return ballast


def test_a_full_disk_during_publication_publishes_nothing_and_names_the_file(
    day: dict[str, object], corrected: Path, small_disk: Path
) -> None:
    """A re-issue of a published day (v1, copied onto the small disk) runs out of space while it
    writes its files; once there is room again, the same re-issue publishes v2."""
    day_dir = small_disk / DAY_DIR
    shutil.copytree(Path(str(day["published"])), day_dir)
    v1 = folder_bytes(day_dir / "v1")
    page = os.statvfs(small_disk).f_frsize
    assert max(len(data) for data in v1.values()) <= page  # one page a file on this tmpfs
    # room for the lock's holder and half of the files: the disk fills while the files are written
    ballast = _fill(small_disk, len(v1) // 2)

    reason = "corrected opening balance of A"
    starved = Publisher(corrected, small_disk, reason=reason)
    assert starved.finish() == 2, starved.stdout + starved.stderr
    failed_at = time.monotonic()
    message = starved.stderr
    assert "Traceback" not in message
    found = re.search(
        rf"dayclear: {DAY_DIR} could not be published as v2: writing (\S+): "
        r"No space left on device\. Nothing was published: LATEST still names v1\.",
        message,
    )
    assert found, message
    written = Path(found[1]).relative_to(day_dir)  # the file of v2's temporary folder
    assert written.parts[0].startswith(".v2.") and written.parts[0].endswith(".partial")
    assert written.relative_to(written.parts[0]).as_posix() in v1
    assert message.rstrip().endswith("nothing was published.")
    # nothing published, the previous LATEST intact, no temporary folder left behind
    assert listing(day_dir) == [LOCK_NAME, "LATEST", "v1"]
    assert (day_dir / "LATEST").read_text() == "v1\n"
    assert folder_bytes(day_dir / "v1") == v1
    assert spools(corrected / "snapshot") == []

    ballast.unlink()
    later = Publisher(corrected, small_disk, reason=reason)
    assert later.finish() == 0, later.stderr
    assert listing(day_dir) == [LOCK_NAME, "LATEST", "v1", "v2"]
    assert (day_dir / "LATEST").read_text() == "v2\n"
    assert folder_bytes(day_dir / "v1") == v1
    v2 = folder_bytes(day_dir / "v2")
    assert json.loads(v2["manifest.json"])["lineage"]["reason"] == reason
    changes = json.loads(v2["changes.json"])
    assert changes["changed_files"] == ["closing/balances.csv", "members/M1/funds.csv"]
    assert b"A,1004723.42\n" in v2["closing/balances.csv"]  # 1,004,473.42 in v1, + 250.00
    figures = trade_figures(corrected / "snapshot", day_dir / "v2")
    assert figures["events_settled"] == figures["events_in"] == 3
    assert figures["lost"] == figures["duplicated"] == 0
    report(
        "full disk",
        {
            **figures,
            "failed_file": written.relative_to(written.parts[0]).as_posix(),
            "recovered_s": round(time.monotonic() - failed_at, 2),
        },
    )


def test_two_publishers_of_the_same_day_publish_one_version(
    day: dict[str, object], tmp_path: Path
) -> None:
    """The first holds the day's lock (stopped while it writes its files); a third that will not
    wait refuses and names the holder; the second waits, then finds the same bytes published."""
    work, snapshot = Path(str(day["work"])), Path(str(day["snapshot"]))
    out, marker = tmp_path / "out", tmp_path / "paused"
    day_dir = out / DAY_DIR
    first = Publisher(work, out, pause=f"written:{marker}")
    wait_for(marker.exists, "first publisher holding the lock", first)

    impatient = Publisher(work, out, wait=0)
    assert impatient.finish() == 2, impatient.stdout + impatient.stderr
    refusal = impatient.stderr
    assert "Traceback" not in refusal
    for named in (
        f"{DAY_DIR} is being published by another publisher",
        str(day_dir / LOCK_NAME),
        f"pid {first.proc.pid} on host {socket.gethostname()} since ",
        "tests/faults/publisher.py",  # its command line
        "nothing was published.",
    ):
        assert named in refusal, (named, refusal)

    second = Publisher(work, out)
    wait_for(lambda: "waiting up to 60 s" in second.stderr, "second publisher waiting", second)
    # both have settled: each its own spool under the snapshot, neither touching the other's
    host = socket.gethostname()
    assert {f"{host}-{first.proc.pid}", f"{host}-{second.proc.pid}"} <= set(spools(snapshot))
    released = time.monotonic()
    marker.unlink()  # the first goes on
    assert first.finish() == 0, first.stderr
    assert second.finish() == 0, second.stderr
    waited_after_release = time.monotonic() - released

    assert "(unchanged" not in first.stdout
    assert "(unchanged: identical to the latest version)" in second.stdout
    assert listing(day_dir) == [LOCK_NAME, "LATEST", "v1"]
    assert (day_dir / "LATEST").read_text() == "v1\n"
    assert folder_bytes(day_dir / "v1") == day["v1"]
    assert spools(snapshot) == []
    figures = trade_figures(snapshot, day_dir / "v1")
    assert figures["lost"] == figures["duplicated"] == 0
    report(
        "two publishers",
        {
            **figures,
            "versions": 1,
            "refused_in_s": round(impatient.seconds, 2),
            "second_done_after_release_s": round(waited_after_release, 2),
        },
    )
