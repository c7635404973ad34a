"""The trade journal on disk: legs priced in segments, the segments merged, read by the EOD.

:func:`write_segment` prices one run of legs with :mod:`settlement.journal` (its sums, exceptions
and each member's rendered trades.csv rows); :func:`finish_journal` merges segments. The streaming
session writes a segment as its legs are committed (driver/journal_follower.py) and the close
merges them; :func:`build_journal` does both from a frozen snapshot's ``agg_legs``, a segment per
chunk of whole lines (bounded memory at any number of legs). Either way ``<snapshot>/journal``
holds three things:

* ``leg_sums/part-<member_id>.arrow``: per (account, instrument, hedge flag), the chunks' sums
  added up, one part per member (a shard of members reads only its own, driver/shards.py),
  in Arrow IPC with the columns and types of ``journal_leg_sums`` (read back without parsing);
* ``exceptions.csv``: the legs the end of day reports as breaks (§5, unknown instruments);
* ``members/<member_id>/trades.csv``: each member's finished trades.csv, sorted by (seq, side) as
  the DATA_CONTRACT orders it, and ``manifest.json`` with each file's SHA-256 and row count.

The folder is written beside the snapshot under a temporary name and renamed into place when
complete, so a journal is whole or absent. The per-member files are final: publishing links them
into the version folder and verifies them against their hashes, without rendering them again.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from edge.aggregates import read_aggregate
from edge.durable import sync_dir, sync_tree
from edge.formats import json_bytes, text_csv_bytes, text_table
from edge.tables import empty_table, parse_text_frame, write_staged
from schemas.registry import file_spec
from settlement.errors import InputError, Problem
from settlement.journal import (
    CENTS,
    LOTS,
    PRICE_UNITS,
    Journal,
    add_up,
    exceptions,
    leg_sums,
    priced_legs,
    trade_rows,
)
from settlement.model import LINE
from settlement.numbers import MONEY_SCALE, PRICE_SCALE, from_units, units
from settlement.positions import KEY

JOURNAL = "journal"
CHUNK_BYTES = 256 << 20
FOLD_EVERY = 4
#: journal_leg_sums file column -> in-memory column of settlement.journal.leg_sums, and its scale
FILE_COLUMNS: dict[str, tuple[str, int | None]] = {
    **{c: (c, None) for c in LOTS if c != "close_prev_signed_q"},
    "close_prev_signed_qty": ("close_prev_signed_q", None),
    "buy_pq": ("buy_pq_u", PRICE_SCALE),
    "sell_pq": ("sell_pq_u", PRICE_SCALE),
    "close_value": ("close_value_u", PRICE_SCALE),
    "trading_fees": ("fee_c", MONEY_SCALE),
    "premium_received": ("premium_received_c", MONEY_SCALE),
    "premium_paid": ("premium_paid_c", MONEY_SCALE),
}
assert {v for v, _ in FILE_COLUMNS.values()} == {*LOTS, *PRICE_UNITS, *CENTS}


def _line_chunks(path: Path, size: int) -> Iterator[bytes]:
    """The file in pieces of about ``size`` bytes, each ending at a line end."""
    with path.open("rb") as handle:
        rest = b""
        while block := handle.read(size):
            block = rest + block
            cut = block.rfind(b"\n") + 1
            if cut == 0:
                rest = block
                continue
            rest = block[cut:]
            yield block[:cut]
        if rest:
            yield rest


def leg_chunks(snapshot: Path, chunk_bytes: int = CHUNK_BYTES) -> Iterator[pl.DataFrame]:
    """The snapshot's agg_legs, typed and checked, chunk by chunk (line numbers run on per file)."""
    spec = file_spec("agg_legs")
    folder = snapshot / spec.path.removesuffix(".csv")
    for part in sorted(p for p in folder.glob("part-*") if p.stat().st_size > 0):
        line = 1
        for data in _line_chunks(part, chunk_bytes):
            text = pl.read_csv(
                data, has_header=False, new_columns=spec.column_names, infer_schema=False
            )
            text = text.with_row_index(LINE, offset=line).with_columns(pl.col(LINE).cast(pl.Int64))
            line += text.height
            yield parse_text_frame(text, spec, f"snapshot/{spec.path} ({part.name})")


SEGMENT_MANIFEST = "segment.json"


def write_segment(
    legs: pl.DataFrame,
    instruments: pl.DataFrame,
    account_members: pl.DataFrame,
    folder: Path,
    legs_text: pl.DataFrame | None = None,
) -> None:
    """One run of legs priced into ``folder``, whole or absent (written under a temporary name,
    then renamed): its :func:`~settlement.journal.leg_sums` (``sums.arrow``), its exceptions
    (``exceptions.arrow``), each member's trades.csv rows as text sorted by (seq, side)
    (``runs/<member_id>.arrow``) and, if given, the legs as the snapshot stores them
    (``legs.csv``). The batch build writes one per chunk of a snapshot's legs; the streaming
    session one per run of legs committed by the job (driver/journal_follower.py)."""
    spec = file_spec("trades")
    work = folder.with_name(f".{folder.name}.partial")
    shutil.rmtree(work, ignore_errors=True)
    (work / "runs").mkdir(parents=True)
    priced = priced_legs(
        legs.join(instruments.select("instrument_id"), on="instrument_id", how="semi"),
        instruments,
    )
    leg_sums(priced).write_ipc(work / "sums.arrow")
    exceptions(legs, instruments).write_ipc(work / "exceptions.arrow")
    rows = trade_rows(priced).join(account_members, on="account_id", how="left")
    text = text_table(rows, spec).with_columns(rows["member_id"], rows["seq"].alias("_seq"))
    for (member,), part in text.partition_by("member_id", as_dict=True).items():
        part.drop("member_id").write_ipc(work / "runs" / f"{member}.arrow")
    if legs_text is not None:
        legs_text.write_csv(work / "legs.csv", include_header=False, null_value="")
    (work / SEGMENT_MANIFEST).write_bytes(json_bytes({"legs": legs.height}))
    sync_tree(work)
    os.replace(work, folder)
    sync_dir(folder.parent)


def finish_journal(
    segments: list[Path],
    folder: Path,
    instruments: pl.DataFrame,
    account_members: pl.DataFrame,
    member_ids: list[str],
) -> None:
    """The journal (module docstring) from its segments (:func:`write_segment`), written to
    ``folder``: the sums added up, the exceptions in (seq, leg_no) order, and each member's runs
    merged into its finished trades.csv with its SHA-256 in ``manifest.json``. What is left to do
    at the close is in proportion to positions, plus merging runs already priced and rendered."""
    spec = file_spec("trades")
    sums: list[pl.DataFrame] = []
    for segment in segments:
        sums.append(pl.read_ipc(segment / "sums.arrow", memory_map=False))
        if len(sums) == FOLD_EVERY:  # keep memory in proportion to positions, not to legs
            sums = [add_up(sums)]
    total = add_up(sums or [leg_sums(priced_legs(empty_table(file_spec("agg_legs")), instruments))])
    _write_sums(total, folder / "leg_sums", account_members)
    broken = [pl.read_ipc(s / "exceptions.arrow", memory_map=False) for s in segments]
    write_staged(
        pl.concat(broken).sort("seq", "leg_no")
        if broken
        else empty_table(file_spec("journal_exceptions")),
        file_spec("journal_exceptions"),
        folder / "exceptions" / "part-00000.csv",
    )
    files: dict[str, dict[str, object]] = {}
    empty = text_table(empty_table(spec).with_columns(pl.lit(0).alias("settle_decimals")), spec)
    for member in member_ids:
        member_runs = [r for s in segments if (r := s / "runs" / f"{member}.arrow").exists()]
        frame = (
            pl.concat([pl.read_ipc(p, memory_map=False) for p in member_runs])
            .sort("_seq", "side")
            .drop("_seq")
            if member_runs
            else empty
        )
        data = text_csv_bytes(frame)
        path = spec.path.format(member_id=member)
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_bytes(data)
        files[path] = {"sha256": hashlib.sha256(data).hexdigest(), "rows": frame.height}
    legs = sum(json.loads((s / SEGMENT_MANIFEST).read_text())["legs"] for s in segments)
    manifest = {"legs": legs, "keys": total.height, "files": files}
    (folder / "manifest.json").write_bytes(json_bytes(manifest))


def publish_journal(work: Path, snapshot: Path) -> Path:
    """``work`` made ``<snapshot>/journal``: on disk first, then renamed into place."""
    final = snapshot / JOURNAL
    sync_tree(work)  # on disk before the end of day may rely on it (edge/durable.py)
    shutil.rmtree(final, ignore_errors=True)
    os.replace(work, final)
    sync_dir(snapshot)
    return final


def build_journal(
    snapshot: Path,
    instruments: pl.DataFrame,
    account_members: pl.DataFrame,
    member_ids: list[str],
    chunk_bytes: int = CHUNK_BYTES,
) -> Path:
    """Write ``<snapshot>/journal`` (see the module docstring) from the snapshot's legs, one
    segment per chunk, and return it."""
    work = snapshot / f".{JOURNAL}.partial"
    shutil.rmtree(work, ignore_errors=True)
    segments = work / "segments"
    segments.mkdir(parents=True)
    for n, legs in enumerate(leg_chunks(snapshot, chunk_bytes)):
        write_segment(legs, instruments, account_members, segments / f"{n:06d}")
    finish_journal(sorted(segments.iterdir()), work, instruments, account_members, member_ids)
    shutil.rmtree(segments)
    return publish_journal(work, snapshot)


def _write_sums(sums: pl.DataFrame, folder: Path, account_members: pl.DataFrame) -> None:
    """One part per member (``part-<member_id>.csv``), so that a shard of members reads its own."""
    typed = sums.join(account_members, on="account_id", how="left").select(
        "member_id",
        *KEY,
        *(
            (pl.col(column) if scale is None else from_units(pl.col(column), scale)).alias(name)
            for name, (column, scale) in FILE_COLUMNS.items()
        ),
    )
    orphans = typed.filter(pl.col("member_id").is_null())
    if orphans.height:  # the gate refuses legs of unknown accounts: a contradiction, not a break
        raise ValueError(
            f"snapshot/agg_legs: account {orphans['account_id'][0]!r} belongs to no member "
            "in reference/accounts.csv (field account_id)"
        )
    schema = _sums_schema()
    folder.mkdir(parents=True, exist_ok=True)
    for (member,), part in typed.partition_by("member_id", as_dict=True).items():
        part.select(pl.col(c).cast(t) for c, t in schema.items()).write_ipc(
            folder / f"part-{member}.arrow", compression="uncompressed"
        )


def _sums_schema() -> pl.Schema:
    """The columns and types of journal_leg_sums as schemas/files/journal.json declares them."""
    return empty_table(file_spec("journal_leg_sums")).drop(LINE).schema


def _read_sums(path: Path) -> pl.DataFrame:
    """One member's part: Arrow IPC written by :func:`finish_journal`, its schema checked."""
    schema = _sums_schema()
    if not path.exists():
        return pl.DataFrame(schema=schema)
    frame = pl.read_ipc(path, memory_map=False)
    if frame.schema != schema:
        raise InputError(
            [
                Problem(
                    f"snapshot/{JOURNAL}/leg_sums/{path.name}",
                    "-",
                    ", ".join(
                        c for c in {*frame.schema, *schema} if frame.schema.get(c) != schema.get(c)
                    ),
                    "columns or types differ from schemas/files/journal.json",
                )
            ]
        )
    return frame


def read_journal(snapshot: Path, members: list[str] | None = None) -> Journal | None:
    """The journal built for ``snapshot`` (only the sums of ``members``' accounts if given), or
    None if there is none (yet)."""
    folder = snapshot / JOURNAL
    if not (folder / "manifest.json").exists():
        return None
    parts = (
        sorted((folder / "leg_sums").glob("part-*.arrow"))
        if members is None
        else [folder / "leg_sums" / f"part-{m}.arrow" for m in members]
    )
    stored = pl.concat([pl.DataFrame(schema=_sums_schema()), *(_read_sums(p) for p in parts)])
    sums = stored.select(
        *KEY,
        *(
            (pl.col(name).cast(pl.Int128) if scale is None else units(pl.col(name), scale)).alias(
                column
            )
            for name, (column, scale) in FILE_COLUMNS.items()
        ),
    )
    exceptions = read_aggregate(folder, "journal_exceptions", f"snapshot/{JOURNAL}")
    return Journal(sums=sums, exceptions=exceptions)


def journal_keys(snapshot: Path) -> int:
    """How many (account, instrument, hedge flag) keys the journal's sums hold."""
    return int(json.loads((snapshot / JOURNAL / "manifest.json").read_text())["keys"])


def journal_files(folder: Path) -> dict[str, tuple[str, int]]:
    """Path (relative to the version folder) -> (SHA-256, rows) of the journal's member files."""
    files = json.loads((folder / "manifest.json").read_text())["files"]
    return {path: (str(meta["sha256"]), int(meta["rows"])) for path, meta in files.items()}


@dataclass(frozen=True)
class JournalOnDisk:
    """A snapshot's journal as the shards of the end of day read it: each its members' sums."""

    snapshot: Path

    @property
    def folder(self) -> Path:
        """Where the journal's finished member ``trades.csv`` files are (the publication links them)."""
        return self.snapshot / JOURNAL

    def keys(self) -> int:
        return journal_keys(self.snapshot)

    def for_members(self, members: list[str]) -> Journal:
        journal = read_journal(self.snapshot, members)
        if journal is None:
            raise FileNotFoundError(f"{self.snapshot / JOURNAL}: no trade journal")
        return journal
