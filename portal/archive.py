"""A member's folder as a zip, streamed: the same bytes as ``zipfile`` writes into a buffer (files in
name order, fixed timestamps, the member's manifest slice last), but written chunk by chunk, so that
the server's memory does not grow with the size of the files.

A zip's local header carries the entry's CRC and compressed size *before* its data, and the response
carries the SHA-256 of the whole zip (``X-Content-SHA256``) and its length before the body. Both
are therefore measured first, in passes that read and compress the files chunk by chunk and keep
nothing but the counts: :func:`plan_archive` measures every entry (CRC, size, compressed size), then
hashes the archive as :func:`_chunks` will write it. A published version never changes (a re-issue is
a new version), so the plan is kept (:class:`PlanCache`, keyed by the member's manifest slice) and
later downloads only check the files against the manifest and stream. While streaming, every entry is
checked again against its plan and the manifest; a file that changed since (it never should) stops
the response short of its ``Content-Length``, so no client takes it for a whole archive.

Entries and the archive stay below 2 GiB (no ZIP64, as ``zipfile`` would not write it either below
that size); a larger member folder is refused with :class:`TooLarge`.
"""

from __future__ import annotations

import hashlib
import json
import threading
import zipfile
import zlib
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from portal import days as d

CHUNK = 64 * 1024
ZIP_TIME = (2000, 1, 1, 0, 0, 0)  # fixed, so an archive of the same files is the same bytes
ZIP_LIMIT = 2**31 - 1  # zipfile's ZIP64_LIMIT: below it no entry needs the ZIP64 extension


class TooLarge(ValueError):
    """A member folder whose zip would need ZIP64 (2 GiB or more)."""


@dataclass(frozen=True)
class Entry:
    """One file of the archive and what the measuring pass found: its CRC-32, size and compressed
    size, and where its local header starts."""

    name: str
    path: Path | None  # the published file, or None for the manifest slice (``data``)
    data: bytes
    sha256: str  # the manifest's (for a file), to check the bytes against
    compress_type: int
    crc: int = 0
    size: int = 0
    compressed: int = 0
    offset: int = 0

    def info(self) -> zipfile.ZipInfo:
        """The ``ZipInfo`` that ``zipfile.ZipFile.writestr`` ends with for this entry."""
        info = zipfile.ZipInfo(self.name, ZIP_TIME)
        info.compress_type = self.compress_type
        info.external_attr = 0o600 << 16  # what zipfile sets when none is given
        info.flag_bits = 0
        info.CRC, info.file_size, info.compress_size = self.crc, self.size, self.compressed
        info.header_offset = self.offset
        return info


@dataclass(frozen=True)
class Plan:
    """Everything about an archive but its bytes: the entries, measured, and the whole zip's SHA-256
    and length."""

    entries: tuple[Entry, ...]
    sha256: str
    length: int


def _raw(entry: Entry) -> Iterator[bytes]:
    """The entry's bytes in chunks; a file is checked against the manifest's SHA-256 as it is read
    (:class:`portal.days.Tampered` at its end when it does not match)."""
    if entry.path is None:
        yield entry.data
        return
    digest = hashlib.sha256()
    with entry.path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
            yield chunk
    if digest.hexdigest() != entry.sha256:
        raise d.Tampered(f"{entry.path} does not match its manifest")


def _compressed(entry: Entry) -> Iterator[tuple[bytes, bytes]]:
    """``(raw chunk, compressed chunk)`` pairs, compressed as zipfile does (raw deflate, default
    level); the last pair carries the compressor's flush."""
    if entry.compress_type == zipfile.ZIP_STORED:
        for chunk in _raw(entry):
            yield chunk, chunk
        return
    compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
    for chunk in _raw(entry):
        yield chunk, compressor.compress(chunk)
    yield b"", compressor.flush()


def _measured(entry: Entry, offset: int) -> Entry:
    crc = size = compressed = 0
    for raw, packed in _compressed(entry):
        crc, size, compressed = zlib.crc32(raw, crc), size + len(raw), compressed + len(packed)
    if size >= ZIP_LIMIT or compressed >= ZIP_LIMIT or offset >= ZIP_LIMIT:
        raise TooLarge(f"{entry.name}: the archive would need ZIP64")
    return replace(entry, crc=crc, size=size, compressed=compressed, offset=offset)


class _Tail:
    """Where ``zipfile`` writes the central directory: it only needs ``tell`` (the archive's offset
    so far), ``seek`` to that same place, and ``write``."""

    def __init__(self, offset: int) -> None:
        self.offset, self.parts = offset, bytearray()

    def tell(self) -> int:
        return self.offset + len(self.parts)

    def seek(self, offset: int, whence: int = 0) -> int:
        if (offset, whence) != (self.tell(), 0):
            raise OSError("the central directory is written forwards only")
        return offset

    def write(self, data: bytes) -> int:
        self.parts += data
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def _central_directory(entries: tuple[Entry, ...], offset: int) -> bytes:
    """The central directory and end record, written by ``zipfile`` itself over the entries."""
    tail = _Tail(offset)
    archive = zipfile.ZipFile(tail, "w")
    archive.filelist.extend(entry.info() for entry in entries)
    archive.close()
    return bytes(tail.parts)


def _chunks(entries: tuple[Entry, ...]) -> Iterator[bytes]:
    """The archive's bytes: each entry's local header and its compressed data, then the central
    directory. Each entry is checked against its measurement (and its file against the manifest)."""
    end = 0
    for entry in entries:
        yield entry.info().FileHeader(False)
        crc = size = 0
        for raw, packed in _compressed(entry):
            crc, size = zlib.crc32(raw, crc), size + len(raw)
            if packed:
                yield packed
        if (crc, size) != (entry.crc, entry.size):
            raise d.Tampered(f"{entry.name} changed while the archive was written")
        end = entry.offset + len(entry.info().FileHeader(False)) + entry.compressed
    yield _central_directory(entries, end)


def _entries(src: d.Sources, day: str, version: str, member: str) -> tuple[Entry, ...]:
    mine = d.member_manifest(src, day, version, member)
    folder = f"{day}_{version}_{member}"
    files = tuple(
        Entry(
            f"{folder}/{name}",
            src.out / day / version / "members" / member / name,
            b"",
            meta["sha256"],
            zipfile.ZIP_DEFLATED,
        )
        for name, meta in sorted(mine["files"].items())
    )
    manifest = json.dumps(mine, indent=1).encode()
    slice_entry = Entry(f"{folder}/manifest.json", None, manifest, "", zipfile.ZIP_STORED)
    return (*files, slice_entry)


def plan_archive(entries: tuple[Entry, ...]) -> Plan:
    """Measure every entry, then hash the archive as it will be streamed (nothing is kept)."""
    measured = []
    offset = 0
    for entry in entries:
        done = _measured(entry, offset)
        measured.append(done)
        offset += len(done.info().FileHeader(False)) + done.compressed
    digest, length = hashlib.sha256(), 0
    for chunk in _chunks(tuple(measured)):
        digest.update(chunk)
        length += len(chunk)
    return Plan(tuple(measured), digest.hexdigest(), length)


class PlanCache:
    """The plans of the archives served lately, keyed by what makes an archive (the day, version and
    member, and the SHA-256 of its manifest slice, which names every file's SHA-256)."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._plans: OrderedDict[tuple[str, ...], Plan] = OrderedDict()
        self._lock = threading.Lock()

    def plan(self, entries: tuple[Entry, ...], *where: str) -> Plan:
        key = (*where, hashlib.sha256(entries[-1].data).hexdigest())
        with self._lock:
            found = self._plans.get(key)
            if found is not None:
                self._plans.move_to_end(key)
        if found is None:
            found = plan_archive(entries)
            with self._lock:
                self._plans[key] = found
                while len(self._plans) > self.size:
                    self._plans.popitem(last=False)
        return found


@dataclass(frozen=True)
class Archive:
    """A member's zip ready to stream: its SHA-256 and length (for the headers) and its bytes."""

    sha256: str
    length: int
    chunks: Iterator[bytes]


def member_archive(
    src: d.Sources, day: str, version: str, member: str, cache: PlanCache | None = None
) -> Archive:
    """The member's whole folder as a zip (files in name order, fixed timestamps) with its manifest
    slice. Every file is checked against the manifest before the first byte (``Tampered``);
    :class:`portal.days.NotFound` for a day, version or member the caller may not name."""
    entries = _entries(src, day, version, member)
    where = (str(src.out), day, version, member)
    plan = cache.plan(entries, *where) if cache is not None else plan_archive(entries)
    if cache is not None:  # the measuring pass checked them otherwise
        for entry in plan.entries:
            for _ in _raw(entry):
                pass
    return Archive(plan.sha256, plan.length, _chunks(plan.entries))


def archive_bytes(src: d.Sources, day: str, version: str, member: str) -> bytes:
    """The whole zip at once (tests and tools; the portal streams it)."""
    return b"".join(member_archive(src, day, version, member).chunks)
