"""The published bytes of three runs, as one digest list: the futures worked example (two days
through ``dayclear replay``), the five-day run (tests/test_five_days.py's days) and a simulated
day with an options expiry and bond futures (2026-12-18) through ``dayclear replay``.

Each published file is listed with its SHA-256. A manifest is listed with its ``code_version``
removed, the only field that names the code that ran. Two checkouts that publish the same bytes
print the same list; ``bench/same_publication.sh BASE`` runs this script on BASE and on the working
tree and diffs the two lists (issue 16: behaviour preserved across the layout move).

    python bench/publication_digest.py WORKDIR > digest.txt
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

log = logging.getLogger("publication_digest")
ROOT = Path(__file__).resolve().parent.parent


def _first_module(*names: str) -> Any:
    """The first of ``names`` that imports: the script runs on both sides of a layout move."""
    for name in names:
        try:
            return importlib.import_module(name)
        except ModuleNotFoundError:
            continue
    raise ModuleNotFoundError(" or ".join(names))


def _dayclear(*args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "dayclear.cli", *args], cwd=ROOT, check=True, stdout=sys.stderr
    )


def _latest(out: Path, day: str) -> Path:
    return out / day / (out / day / "LATEST").read_text().strip()


def _without_code_version(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_code_version(v) for k, v in value.items() if k != "code_version"}
    if isinstance(value, list):
        return [_without_code_version(v) for v in value]
    return value


def digest(out: Path, label: str) -> list[str]:
    """``label/relative/path sha256`` for every file under ``out``, sorted."""
    lines = []
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if path.name == "manifest.json":
            manifest = _without_code_version(json.loads(data))
            data = json.dumps(manifest, sort_keys=True).encode()
        lines.append(f"{label}/{path.relative_to(out)} {hashlib.sha256(data).hexdigest()}")
    return lines


def worked_example(work: Path) -> Path:
    sys.path.insert(0, str(ROOT))
    from tests.worked_days import day_one, day_two

    out = work / "worked" / "out"
    d1 = day_one().write(work / "worked" / "d1")
    _dayclear("replay", str(d1), "--day", "2026-11-23", "--out", str(out))
    v1 = _latest(out, "2026-11-23")
    d2 = day_two(v1 / "closing").write(work / "worked" / "d2")
    for name in ("positions", "balances", "settlement_prices"):
        shutil.copy(v1 / "closing" / f"{name}.csv", d2 / "opening" / f"{name}.csv")
    _dayclear("replay", str(d2), "--day", "2026-11-24", "--out", str(out))
    return out


def five_days(work: Path) -> Path:
    multiday = _first_module("devtools.multiday", "dayclear.multiday")
    simulator = _first_module("devtools.simulator", "dayclear.simulator")
    first = simulator.SimulationConfig(
        day=date(2026, 6, 17), accounts=300, members=12, trades=1500, seed=5
    )
    out = work / "five" / "out"
    multiday.settle_days(first, 5, work / "five" / "bundles", out, work / "five" / "work")
    return out


def simulated_day(work: Path) -> Path:
    bundle = work / "simulated" / "bundle"
    out = work / "simulated" / "out"
    _dayclear(
        "simulate", "--day", "2026-12-18", "--out", str(bundle),
        "--accounts", "400", "--members", "8", "--trades", "3000", "--seed", "11",
    )  # fmt: skip
    _dayclear("replay", str(bundle), "--day", "2026-12-18", "--out", str(out))
    return out


def main() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    work = Path(sys.argv[1])
    if work.exists():
        shutil.rmtree(work)
    lines: list[str] = []
    for label, run in (
        ("worked", worked_example),
        ("five", five_days),
        ("simulated", simulated_day),
    ):
        log.info("running %s", label)
        lines += digest(run(work), label)
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
