"""A stable sort of more rows than memory holds, for the simulator's days of a hundred million events.

Rows are appended in generation order. Every ``run_rows`` rows, the run so far is sorted (stably) and
pickled to a temporary file in pages of ``page_rows``; :meth:`SpillSort.sorted` merges the runs
with :func:`heapq.merge`, which takes equal keys from the earlier run first. Stable within each run
and earlier-run-first across runs is exactly a stable sort of the whole sequence, so the result is
``sorted(rows, key=key)`` row for row: the simulator writes the same bytes at any size, with memory
in proportion to ``run_rows`` and the number of runs times ``page_rows``, not to the day.

A day that fits in one run never touches the disk.
"""

from __future__ import annotations

import heapq
import pickle
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, Generic, TypeVar

T = TypeVar("T")

#: rows held in memory before a run is spilled (a simulated order is ~0.4 KB of Python objects)
RUN_ROWS = 2_000_000
#: rows per pickled page of a spilled run: what each run holds in memory while the runs merge
PAGE_ROWS = 5_000


class SpillSort(Generic[T]):
    """Append rows, then iterate them once in ``key`` order (stable). Use as a context manager: the
    spilled runs are deleted on exit. ``run_rows`` and ``page_rows`` default to the module's
    :data:`RUN_ROWS` and :data:`PAGE_ROWS` as they are when the sort is made."""

    def __init__(
        self,
        key: Callable[[T], Any],
        run_rows: int | None = None,
        page_rows: int | None = None,
        folder: Path | None = None,
    ) -> None:
        self.run_rows = RUN_ROWS if run_rows is None else run_rows
        self.page_rows = PAGE_ROWS if page_rows is None else page_rows
        if self.run_rows < 1 or self.page_rows < 1:
            raise ValueError(
                f"run and page rows must be positive: {self.run_rows}, {self.page_rows}"
            )
        self.key, self.folder = key, folder
        self._run: list[T] = []
        self._spilled: list[Path] = []
        self._temp: Path | None = None
        self._count = 0

    def __enter__(self) -> SpillSort[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        return self._count

    def append(self, row: T) -> None:
        self._run.append(row)
        self._count += 1
        if len(self._run) >= self.run_rows:
            self._spill()

    def _spill(self) -> None:
        if self._temp is None:
            self._temp = Path(tempfile.mkdtemp(prefix="dayclear-sort-", dir=self.folder))
        self._run.sort(key=self.key)
        path = self._temp / f"run-{len(self._spilled):05d}.pickle"
        with path.open("wb") as f:
            for at in range(0, len(self._run), self.page_rows):
                pickle.dump(self._run[at : at + self.page_rows], f, pickle.HIGHEST_PROTOCOL)
        self._spilled.append(path)
        self._run = []

    def sorted(self) -> Iterator[T]:
        """Every row appended, in ``key`` order, ties in the order they were appended."""
        self._run.sort(key=self.key)
        if not self._spilled:
            yield from self._run
            return
        files = [path.open("rb") for path in self._spilled]
        try:
            yield from heapq.merge(*(_pages(f) for f in files), iter(self._run), key=self.key)
        finally:
            for f in files:
                f.close()

    def close(self) -> None:
        self._run = []
        if self._temp is not None:
            shutil.rmtree(self._temp, ignore_errors=True)
            self._temp = None
        self._spilled = []


def _pages(f: BinaryIO) -> Iterator[Any]:
    """The rows of a spilled run, a page at a time."""
    while True:
        try:
            page = pickle.load(f)
        except EOFError:
            return
        yield from page
