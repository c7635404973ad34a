"""Edits of a bundle's files for tests that break a day in a known way."""

from __future__ import annotations

import csv
from pathlib import Path


def edit_cell(path: Path, line: int, field: str, value: str) -> None:
    """Set ``field`` of the row on ``line`` (the header is line 1) of a CSV file."""
    rows = list(csv.DictReader(path.open()))
    rows[line - 2][field] = value
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
