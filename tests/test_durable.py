"""Durable publication (edge/durable.py): every byte is flushed to disk before its name
becomes visible, so a crash leaves the old state or the whole new one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import edge.durable as durable
from edge.journal_files import JOURNAL, read_journal
from publication.publish import publish
from settlement.eod import settle_day
from tests.rules_day import DAY, rules_day_with_journal


@pytest.fixture
def flushed(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The paths ``fsync`` was called on, in order (the real fsync still runs)."""
    seen: list[Path] = []
    real = os.fsync

    def recording(fd: int) -> None:
        seen.append(Path(os.readlink(f"/proc/self/fd/{fd}")))
        real(fd)

    monkeypatch.setattr(os, "fsync", recording)  # the module edge.durable calls
    return seen


def test_a_tree_is_flushed_files_first_then_directories_deepest_first(
    tmp_path: Path, flushed: list[Path]
) -> None:
    for name in ("a.csv", "m/1/b.csv", "m/1/c.csv", "m/2/d.csv"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x\n")
    durable.sync_tree(tmp_path)
    files = [tmp_path / n for n in ("a.csv", "m/1/b.csv", "m/1/c.csv", "m/2/d.csv")]
    assert sorted(flushed[:4]) == files
    assert flushed[4:6] in (
        [tmp_path / "m/1", tmp_path / "m/2"],
        [tmp_path / "m/2", tmp_path / "m/1"],
    )
    assert flushed[6:] == [tmp_path / "m", tmp_path]


def test_replace_file_leaves_the_new_content_and_no_partial(
    tmp_path: Path, flushed: list[Path]
) -> None:
    target = tmp_path / "day" / "LATEST"
    durable.replace_file(target, b"v1\n")
    durable.replace_file(target, b"v2\n")
    assert target.read_bytes() == b"v2\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["LATEST"]
    # the data under its temporary name, then the folder holding the new name
    assert flushed[-2:] == [target.parent / ".LATEST.partial", target.parent]


def test_publish_flushes_every_file_before_the_version_becomes_visible(
    tmp_path: Path, flushed: list[Path]
) -> None:
    reference, opening, aggregates, members, snapshot = rules_day_with_journal(tmp_path)
    result, _ = settle_day(DAY, reference, opening, aggregates, read_journal(snapshot))
    assert result is not None
    flushed.clear()  # the journal's own flushes are not the publication's
    publication = publish(
        result, tmp_path / "out", members, {"source": "test"}, "", snapshot / JOURNAL
    )
    day_dir = publication.folder.parent
    # the publisher's own temporary folder, flushed last of its tree
    (partial,) = {p for p in flushed if p.parent == day_dir and p.name.startswith(".v1.")}
    assert partial.name.endswith(".partial") and not partial.exists()
    in_partial = {p.relative_to(partial).as_posix() for p in flushed if p.is_relative_to(partial)}
    published = {
        p.relative_to(publication.folder).as_posix()
        for p in publication.folder.rglob("*")
        if p.is_file()
    }
    assert len(published) > 10 and published <= in_partial  # linked trade files too
    # then the new LATEST, staged before anything is renamed; after the rename of the version, the
    # folder holding its new name; after LATEST's rename, that folder again
    after = flushed[max(i for i, p in enumerate(flushed) if p.is_relative_to(partial)) + 1 :]
    assert after == [day_dir / ".LATEST.partial", day_dir, day_dir]
