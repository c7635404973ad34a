"""The services of the production topology (dayclear cluster, devtools/airflow_services.py) run as
detached processes: each in its own process group (stopped with its children), its output appended
to a log, its pid in a file."""

from __future__ import annotations

import subprocess
from pathlib import Path


def spawn(command: list[str], log: Path, pid_file: Path, env: dict[str, str], cwd: Path) -> int:
    """Start ``command`` detached, appending its output to ``log``; write its pid to ``pid_file``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as out:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: stopping it stops its children
            env=env,
        )
    pid_file.write_text(f"{process.pid}\n")
    return process.pid
