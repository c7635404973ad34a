"""The simulator's sort on disk: exactly a stable in-memory sort, its runs deleted after."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devtools.spill_sort import SpillSort


def _first(row: tuple[int, int]) -> int:
    return row[0]


@settings(max_examples=200, deadline=None)
@given(
    keys=st.lists(st.integers(0, 6), max_size=60),
    run_rows=st.integers(1, 9),
    page_rows=st.integers(1, 4),
)
def test_spilled_runs_merge_to_a_stable_sort(
    keys: list[int], run_rows: int, page_rows: int, tmp_path_factory: pytest.TempPathFactory
) -> None:
    rows = [(k, n) for n, k in enumerate(keys)]  # few keys: many ties, told apart by n
    folder = tmp_path_factory.mktemp("spill")
    with SpillSort(_first, run_rows=run_rows, page_rows=page_rows, folder=folder) as spill:
        for row in rows:
            spill.append(row)
        assert len(spill) == len(rows)
        assert list(spill.sorted()) == sorted(rows, key=_first)
    assert list(folder.iterdir()) == []  # the runs are gone


def test_a_day_that_fits_in_one_run_never_touches_the_disk(tmp_path: Path) -> None:
    with SpillSort(_first, run_rows=10, folder=tmp_path) as spill:
        for row in [(3, 0), (1, 1), (3, 2), (2, 3)]:
            spill.append(row)
        assert list(tmp_path.iterdir()) == []
        assert list(spill.sorted()) == [(1, 1), (2, 3), (3, 0), (3, 2)]
        spill.append((0, 4))
    assert list(tmp_path.iterdir()) == []


def test_spilled_runs_are_files_until_closed(tmp_path: Path) -> None:
    spill: SpillSort[tuple[int, int]] = SpillSort(_first, run_rows=2, folder=tmp_path)
    for n in range(5):
        spill.append((5 - n, n))
    (temp,) = tmp_path.iterdir()
    assert len(list(temp.iterdir())) == 2  # two full runs spilled, the fifth row in memory
    assert [k for k, _ in spill.sorted()] == [1, 2, 3, 4, 5]
    spill.close()
    assert list(tmp_path.iterdir()) == []


def test_sizes_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        SpillSort(_first, run_rows=0)
