"""Durable writes: what is published survives a crash of the machine that published it.

``os.rename`` makes a publication atomic for readers, not durable: after a power cut the
renamed folder may hold files whose blocks never reached the disk. So every publication here
writes its files, flushes them (``fsync``), then renames, then flushes the directory that holds
the new name. A crash at any point leaves either the old state or the whole new one.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def naming(path: Path) -> Iterator[None]:
    """An ``OSError`` raised in the block names ``path``: a failed write or flush (a full disk)
    names no file of its own, and a failed copy names its source first."""
    try:
        yield
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(path)) from exc


def sync_file(path: Path) -> None:
    """Flush one file's data and metadata to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        with naming(path):  # a full disk may show only here (delayed allocation)
            os.fsync(fd)
    finally:
        os.close(fd)


def sync_dir(path: Path) -> None:
    """Flush a directory, so that the names created, linked or renamed in it are on disk."""
    sync_file(path)  # Linux: a directory opened read-only can be fsync'ed


def sync_tree(folder: Path) -> None:
    """Flush every file under ``folder``, then every directory, deepest first."""
    files, dirs = [], [folder]
    for root, dirnames, filenames in os.walk(folder):
        files += [Path(root, name) for name in filenames]
        dirs += [Path(root, name) for name in dirnames]
    # fsync releases the GIL: the disk queue gets a flush per core at once
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        list(pool.map(sync_file, files))
    for directory in sorted(dirs, key=lambda d: len(d.parts), reverse=True):
        sync_dir(directory)


def replace_file(path: Path, data: bytes) -> None:
    """Write ``path`` whole or not at all: a flushed temporary file renamed over it."""
    commit_file(staged_file(path, data), path)


def staged_file(path: Path, data: bytes) -> Path:
    """``data`` written and flushed under a hidden temporary name beside ``path``, to be renamed
    over it by :func:`commit_file`: what needs disk space is done before anything is visible."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial")
    try:
        with naming(tmp), tmp.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def commit_file(staged: Path, path: Path) -> None:
    """The file staged by :func:`staged_file` renamed over ``path``, and the name flushed."""
    os.replace(staged, path)
    sync_dir(path.parent)


def link_or_copy(source: Path, target: Path) -> None:
    """``target`` made the same file as ``source``: a hard link, or a copy on another file system.
    Not flushed here: the caller flushes the folder it publishes (:func:`sync_tree`)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:  # another file system
        shutil.copyfile(source, target)
