"""One publisher of a day at a time: an OS lock on ``OUT/<D>/.publish.lock``.

:func:`publication.publish.publish_files` takes the lock before it chooses the version number and
keeps it until ``LATEST`` has moved. It is ``fcntl.flock`` on the lock file: the kernel releases it
when its holder exits or is killed, so a dead publisher never leaves the day locked. The holder
writes its pid, host, start time and command line into the file (and empties it when it is done).

A second publisher of the same day waits for the lock, up to ``DAYCLEAR_PUBLISH_LOCK_TIMEOUT``
seconds (default 300; 0 refuses at once), saying once on the log who it waits for. When it gets the
lock it publishes as if it had come later: a result byte-identical to the version just published
publishes nothing new. When the wait runs out it refuses with a :class:`PublishError` naming the day,
the lock file and the holder (docs/decisions.md, Publication).

The lock file is never deleted: a file removed while another publisher waits on it would let a third
one lock a new file of the same name, and two publishers would hold "the" lock at once.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from dayclear.config import PUBLISH_LOCK_TIMEOUT
from settlement.errors import PublishError

LOCK_NAME = ".publish.lock"
TIMEOUT_ENV = PUBLISH_LOCK_TIMEOUT.name
#: a day's publication at exchange scale holds the lock ~10 s (docs/benchmarks.md: writing,
#: flushing and verifying 4.4 GB); five minutes is a publisher that is stuck, not a slow one
DEFAULT_TIMEOUT_S = 300.0
POLL_S = 0.05

log = logging.getLogger(__name__)


def lock_timeout() -> float:
    """How long a publisher waits for the day's lock: ``DAYCLEAR_PUBLISH_LOCK_TIMEOUT`` seconds."""
    text = PUBLISH_LOCK_TIMEOUT.get() or ""
    try:
        return max(0.0, float(text)) if text else DEFAULT_TIMEOUT_S
    except ValueError:
        raise ValueError(f"{TIMEOUT_ENV}={text!r} is not a number of seconds") from None


@contextmanager
def publication_lock(day_dir: Path, day: str, timeout: float | None = None) -> Iterator[Path]:
    """Hold the publication lock of ``day`` (its folder ``day_dir``) for the ``with`` block: wait
    up to ``timeout`` seconds (default :func:`lock_timeout`), else raise :class:`PublishError`."""
    path = day_dir / LOCK_NAME
    wait = lock_timeout() if timeout is None else timeout
    try:
        day_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:  # a full disk or a read-only one: not even the lock can be made
        raise PublishError(
            f"{day} cannot be published: creating {exc.filename}: {exc.strerror}", str(path)
        ) from exc
    try:
        _acquire(fd, path, day, wait)
        _write_holder(fd, path, day)
        try:
            yield path
        finally:
            os.ftruncate(fd, 0)  # no holder any more (a stale name would mislead the next reader)
    finally:
        os.close(fd)  # releases the lock


def holder_text(path: Path) -> str:
    """Who holds (or last held) the lock, as written in the lock file."""
    try:
        holder = json.loads(path.read_bytes() or b"null")
    except (OSError, ValueError):
        holder = None
    if not isinstance(holder, dict):
        return "a publisher that has not written its name yet"
    return (
        f"pid {holder.get('pid')} on host {holder.get('host')} since {holder.get('since')}"
        f" ({holder.get('command')})"
    )


def _acquire(fd: int, path: Path, day: str, wait: float) -> None:
    deadline = time.monotonic() + wait
    said = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        if time.monotonic() >= deadline:
            raise PublishError(
                f"{day} is being published by another publisher: {path} is held by "
                f"{holder_text(path)}; gave up after waiting {wait:g} s ({TIMEOUT_ENV}). "
                "Run again once it has finished: a byte-identical result publishes nothing new.",
                str(path),
            )
        if not said:
            log.warning(
                "waiting up to %g s for the publication lock of %s: %s is held by %s",
                wait,
                day,
                path,
                holder_text(path),
            )
            said = True
        time.sleep(POLL_S)


def _write_holder(fd: int, path: Path, day: str) -> None:
    holder = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "since": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(sys.argv)[:500],
    }
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(holder) + "\n").encode(), 0)
    except OSError as exc:
        raise PublishError(
            f"{day} cannot be published: writing {path}: {exc.strerror}", str(path)
        ) from exc
