"""The member's zip is streamed (``portal.archive``): the same bytes as the zip ``zipfile`` builds in
memory, which the portal served before (kept below as the reference), with the SHA-256 and length
announced before the body, a bounded memory whatever the size of the files, and a file that does not
match its manifest never served."""

from __future__ import annotations

import hashlib
import io
import json
import random
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from portal import archive
from portal import days as d

DAY, VERSION, MEMBER = "2026-11-23", "v1", "M001"


def reference_archive(src: d.Sources, day: str, version: str, member: str) -> bytes:
    """The archive as the portal built it before it streamed (commit 0447ed4, ``days.py``)."""
    mine = d.member_manifest(src, day, version, member)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zipped:
        for name, meta in sorted(mine["files"].items()):
            info = zipfile.ZipInfo(f"{day}_{version}_{member}/{name}", archive.ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            data = d.member_file(src, day, version, member, name)
            assert hashlib.sha256(data).hexdigest() == meta["sha256"]
            zipped.writestr(info, data)
        info = zipfile.ZipInfo(f"{day}_{version}_{member}/manifest.json", archive.ZIP_TIME)
        zipped.writestr(info, json.dumps(mine, indent=1))
    return buffer.getvalue()


def published(root: Path, files: dict[str, bytes]) -> d.Sources:
    """A version with ``files`` in M001's folder (and one of M002's), listed in its manifest."""
    folder = root / "published" / DAY / VERSION
    listed = {}
    for path, data in {**{f"members/{MEMBER}/{n}": c for n, c in files.items()},
                       "members/M002/funds.csv": b"account_id\nA-M002\n"}.items():  # fmt: skip
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_bytes(data)
        listed[path] = {"sha256": hashlib.sha256(data).hexdigest(), "rows": data.count(b"\n")}
    totals = {MEMBER: {"margin": "12.50"}, "M002": {"margin": "1.00"}}
    manifest = {"trading_day": DAY, "version": 1, "files": listed, "members": totals}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return d.Sources.under(root)


def csv_rows(n: int, seed: int = 7) -> bytes:
    rnd = random.Random(seed)
    return "".join(
        f"A{i:06d},{rnd.random():.12f},{rnd.randint(-(10**9), 10**9)}\n" for i in range(n)
    ).encode()


@pytest.mark.parametrize(
    "files",
    [
        {"funds.csv": b"account_id\nA-M001\n"},
        {"a_empty.csv": b"", "positions.csv": csv_rows(50), "trades.csv": csv_rows(30_000)},
    ],
    ids=["one-small-file", "empty-and-a-1.5MB-file"],
)
def test_the_streamed_zip_is_the_reference_zip_byte_for_byte(
    tmp_path: Path, files: dict[str, bytes]
) -> None:
    src = published(tmp_path, files)
    expected = reference_archive(src, DAY, VERSION, MEMBER)
    cache = archive.PlanCache()
    for _ in range(2):  # measured, then from the cache
        zipped = archive.member_archive(src, DAY, VERSION, MEMBER, cache)
        chunks = list(zipped.chunks)
        assert b"".join(chunks) == expected
        assert (zipped.sha256, zipped.length) == (
            hashlib.sha256(expected).hexdigest(),
            len(expected),
        )
    assert len(chunks) > 2 and b"A-M002" not in expected
    names = zipfile.ZipFile(io.BytesIO(expected)).namelist()
    assert names == [f"{DAY}_{VERSION}_{MEMBER}/{n}" for n in sorted(files)] + [
        f"{DAY}_{VERSION}_{MEMBER}/manifest.json"
    ]


def peak_while_streaming(src: d.Sources) -> tuple[int, int]:
    """(the largest Python allocation peak while measuring and streaming the archive, its length)."""
    tracemalloc.start()
    try:
        zipped = archive.member_archive(src, DAY, VERSION, MEMBER)
        length = sum(len(chunk) for chunk in zipped.chunks)
        return tracemalloc.get_traced_memory()[1], length
    finally:
        tracemalloc.stop()


def test_streaming_memory_does_not_grow_with_the_size_of_the_files(tmp_path: Path) -> None:
    small = peak_while_streaming(published(tmp_path / "small", {"trades.csv": csv_rows(2_000)}))
    large = peak_while_streaming(published(tmp_path / "large", {"trades.csv": csv_rows(40_000)}))
    assert large[1] > 15 * small[1]  # an archive 15 times larger (2 MB of CSV, 0.6 MB zipped)...
    assert large[0] < small[0] + 512 * 1024  # ...in the same memory, give or take a chunk or two
    # (the in-memory zip held the whole file and the whole archive: over 3 MB for the large one)


def test_a_file_that_does_not_match_its_manifest_is_refused_before_the_first_byte(
    tmp_path: Path,
) -> None:
    src = published(tmp_path, {"funds.csv": b"account_id\nA-M001\n"})
    cache = archive.PlanCache()
    archive.member_archive(src, DAY, VERSION, MEMBER, cache)  # measured and cached
    (tmp_path / "published" / DAY / VERSION / "members" / MEMBER / "funds.csv").write_bytes(
        b"account_id\nA-XXXX\n"
    )
    for plans in (cache, None):  # from the cache and measured again
        with pytest.raises(d.Tampered, match="does not match its manifest"):
            archive.member_archive(src, DAY, VERSION, MEMBER, plans)


def test_a_file_changed_while_streaming_cuts_the_archive_short(tmp_path: Path) -> None:
    src = published(tmp_path, {"a.csv": csv_rows(10), "b.csv": csv_rows(10, seed=8)})
    zipped = archive.member_archive(src, DAY, VERSION, MEMBER)
    sent = bytearray(next(zipped.chunks))  # a.csv's header is on its way
    (tmp_path / "published" / DAY / VERSION / "members" / MEMBER / "b.csv").write_bytes(b"x\n")
    with pytest.raises(d.Tampered, match="does not match its manifest"):
        for chunk in zipped.chunks:
            sent += chunk
    assert 0 < len(sent) < zipped.length  # short of its Content-Length: no client takes it whole
