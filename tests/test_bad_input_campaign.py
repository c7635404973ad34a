"""The bad-input mutation campaign (issue 18; DATA_CONTRACT "A day bundle"): valid bundles (the
worked example's day one and a simulated day) are broken one mutation at a time, and every broken
bundle must stop ``dayclear replay`` with exit 2, no traceback, nothing published (``LATEST`` and
the earlier version untouched), and a report naming the mutated file, line and field.

Mutations: a number made negative, zero, non-numeric or over-precise; a required cell emptied; an
id changed to an unknown one; a date moved to another day; a row duplicated or deleted; a header
renamed or removed, a row given an extra field; bytes that are not UTF-8; an empty file; a file
missing. Which cells take which mutation comes from ``schemas/`` (the contract): a negative number
only where the column has a domain, zero where it must be positive, an unknown id where the column
references another file. A deletion or a missing optional file is only a mutation where the
contract makes the row or file necessary (something refers to it, a ``seq`` after it, a listed
future's margin rate, ...); the others leave a valid bundle. An added column is allowed by the
contract and must be accepted (last test).

The run is in-process (``dayclear.cli.main``) on the Python edge, with the Flink job replaced by a
failure: a mutation that passed the checks would fail the test. Each file's parse is memoized by
its bytes, so a mutation re-reads only the file it changed. Deterministic (``derandomize``).
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import itertools
import json
import logging
import shutil
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dayclear import cli
from devtools.simulator import SimulationConfig, simulate
from driver import pipeline
from edge import events, validate
from edge.events import topic_file_spec
from edge.tables import HEADER, parse_csv_file
from schemas.registry import EVENT_TOPICS, SCALES, FileSpec, group_specs
from settlement.model import Parsed
from tests.worked_days import day_one

log = logging.getLogger(__name__)
DAY = date(2026, 11, 23)
PER_BASE = 260  # mutations per valid bundle; two bundles: 520
SPECS: dict[str, FileSpec] = {
    **{s.path: s for g in ("reference", "opening") for s in group_specs(g)},
    **{f"events/{t}.csv": topic_file_spec(t) for t in EVENT_TOPICS},
}


@dataclass(frozen=True)
class Mutation:
    kind: str
    file: str  # path inside the bundle
    apply: Callable[[Path], None]
    line: str | None  # the record the report must name ("line 7", HEADER), None: the file only
    field: str | None


def _rows(bundle: Path, file: str) -> tuple[list[str], list[list[str]]]:
    with (bundle / file).open(newline="") as f:
        header, *rows = list(csv.reader(f))
    return header, rows


def _write(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def _set_cell(file: str, row: int, column: str, value: str) -> Callable[[Path], None]:
    def apply(bundle: Path) -> None:
        header, rows = _rows(bundle, file)
        rows[row][header.index(column)] = value
        _write(bundle / file, header, rows)

    return apply


def _over_precise(value: str, column_type: str) -> str:
    if column_type == "int":
        return value + ".5"
    whole = value.split(".")[0]
    return f"{whole}.{'1' * (SCALES[column_type] + 1)}"


def _other_day(value: str) -> str:
    return (DAY + timedelta(days=1)).isoformat() + value[10:]


def cell_mutations(bundle: Path) -> list[Mutation]:
    """Every cell mutation the schema says is wrong, for every non-empty cell of the bundle."""
    found = []
    for file, spec in SPECS.items():
        if not (bundle / file).exists():
            continue
        header, rows = _rows(bundle, file)
        for n, row in enumerate(rows):
            line = f"line {n + 2}"
            for column in spec.columns:
                value = row[header.index(column.name)]
                if not value:
                    continue
                numeric = column.type == "int" or column.type in SCALES
                always = [d for d, when, _ in column.domains if not when]
                edits = {
                    "empty": "" if not column.nullable else None,
                    "negative": "-" + value.lstrip("-") if always and value.strip("0.") else None,
                    "zero": "0" if {"positive", "positive_rate"} & set(always) else None,
                    "non_numeric": value[:1] + "x" + value[1:] if numeric else None,
                    "over_precise": _over_precise(value, column.type) if numeric else None,
                    "unknown_id": "ZZUNKNOWN9" if column.references else None,
                    "other_day": _other_day(value) if column.same_day else None,
                }
                if always and not value.strip("0.") and edits["negative"] is None:
                    edits["negative"] = "-1"
                found += [
                    Mutation(kind, file, _set_cell(file, n, column.name, new), line, column.name)
                    for kind, new in edits.items()
                    if new is not None
                ]
    return found


def _delete_row(file: str, row: int) -> Callable[[Path], None]:
    def apply(bundle: Path) -> None:
        header, rows = _rows(bundle, file)
        del rows[row]
        _write(bundle / file, header, rows)

    return apply


def _duplicate_row(file: str, row: int) -> Callable[[Path], None]:
    def apply(bundle: Path) -> None:
        header, rows = _rows(bundle, file)
        rows.insert(row + 1, rows[row])
        _write(bundle / file, header, rows)

    return apply


def _delete_file(file: str) -> Callable[[Path], None]:
    def apply(bundle: Path) -> None:
        (bundle / file).unlink()

    return apply


def _values(bundle: Path, file: str, column: str) -> list[str]:
    if not (bundle / file).exists():
        return []
    header, rows = _rows(bundle, file)
    return [r[header.index(column)] for r in rows]


def needed_rows(bundle: Path) -> dict[str, set[int]]:
    """Rows whose deletion breaks the contract: referred to by another file (``references`` in
    the schema), a ``seq`` followed by another, a listed future's margin rate, a final price, the
    D-1 price of a held instrument, the day's underlying of listed options, a tier of a product
    with several."""
    referred: dict[tuple[str, str], set[str]] = {}
    for file, spec in SPECS.items():
        for column in spec.columns:
            if column.references:
                target, target_column = column.references.split(".")
                key = (SPECS_BY_NAME[target].path, target_column)
                referred.setdefault(key, set()).update(_values(bundle, file, column.name))
    needed: dict[str, set[int]] = {}
    for (file, column_name), used in referred.items():
        needed.setdefault(file, set()).update(
            n for n, v in enumerate(_values(bundle, file, column_name)) if v in used
        )
    kinds = dict(
        zip(
            _values(bundle, "reference/products.csv", "product"),
            _values(bundle, "reference/products.csv", "kind"),
            strict=True,
        )
    )
    header, instruments = _rows(bundle, "reference/instruments.csv")
    listed = {
        r[0]: r[1] for r in instruments if r[header.index("last_trading_day")] >= DAY.isoformat()
    }
    futures = {i for i, p in listed.items() if kinds.get(p) != "INDEX_OPTION"}
    needed["reference/margin_rates.csv"] = {
        n
        for n, i in enumerate(_values(bundle, "reference/margin_rates.csv", "instrument_id"))
        if i in futures
    }
    needed["reference/final_settlement_prices.csv"] = set(
        range(len(_values(bundle, "reference/final_settlement_prices.csv", "instrument_id")))
    )
    held = set(_values(bundle, "opening/positions.csv", "instrument_id"))
    needed["opening/settlement_prices.csv"] = {
        n
        for n, i in enumerate(_values(bundle, "opening/settlement_prices.csv", "instrument_id"))
        if i in held
    }
    products = _values(bundle, "reference/products.csv", "product")
    underlying_of = dict(
        zip(products, _values(bundle, "reference/products.csv", "underlying"), strict=True)
    )
    option_underlyings = {underlying_of[p] for p in listed.values() if kinds[p] == "INDEX_OPTION"}
    needed["reference/underlyings.csv"] = {
        n
        for n, (d, u) in enumerate(
            zip(
                _values(bundle, "reference/underlyings.csv", "trading_day"),
                _values(bundle, "reference/underlyings.csv", "underlying"),
                strict=True,
            )
        )
        if d == DAY.isoformat() and u in option_underlyings
    }
    tiers = Counter(_values(bundle, "reference/declaration_tiers.csv", "product"))
    needed["reference/declaration_tiers.csv"] = {
        n
        for n, p in enumerate(_values(bundle, "reference/declaration_tiers.csv", "product"))
        if tiers[p] > 1
    }
    return needed


SPECS_BY_NAME = {
    **{s.name: s for g in ("reference", "opening") for s in group_specs(g)},
}


def _rename_header(file: str, column: str, drop: bool) -> Callable[[Path], None]:
    def apply(bundle: Path) -> None:
        header, rows = _rows(bundle, file)
        i = header.index(column)
        if drop:
            header.pop(i)
            for r in rows:
                r.pop(i)
        else:
            header[i] = column + "_renamed"
        _write(bundle / file, header, rows)

    return apply


def _raw_edit(file: str, edit: Callable[[bytes], bytes]) -> Callable[[Path], None]:
    def apply(bundle: Path) -> None:
        path = bundle / file
        path.write_bytes(edit(path.read_bytes()))

    return apply


def _line_edit(n: int, edit: Callable[[bytes], bytes]) -> Callable[[bytes], bytes]:
    def on_line(data: bytes) -> bytes:
        lines = data.split(b"\n")
        lines[n] = edit(lines[n])
        return b"\n".join(lines)

    return on_line


def _not_utf8(cell: int) -> Callable[[bytes], bytes]:
    def edit(line: bytes) -> bytes:
        cells = line.split(b",")
        cells[cell] = b"\xff" + cells[cell][1:]
        return b",".join(cells)

    return edit


def file_mutations(bundle: Path) -> list[Mutation]:
    found = []
    needed = needed_rows(bundle)
    for file, spec in SPECS.items():
        if not (bundle / file).exists():
            continue
        header, rows = _rows(bundle, file)
        key = "+".join(spec.key)
        for n in range(len(rows)):
            found.append(
                Mutation("duplicate_row", file, _duplicate_row(file, n), f"line {n + 3}", key)
            )
            found.append(
                Mutation(
                    "extra_field",
                    file,
                    _raw_edit(file, _line_edit(n + 1, lambda b: b + b",surplus")),
                    f"line {n + 2}",
                    None,
                )
            )
            for c, column in enumerate(header):
                if rows[n][c]:
                    found.append(
                        Mutation(
                            "not_utf8",
                            file,
                            _raw_edit(file, _line_edit(n + 1, _not_utf8(c))),
                            f"line {n + 2}",
                            column,
                        )
                    )
        found += [
            Mutation("delete_row", file, _delete_row(file, n), None, None)
            for n in sorted(needed.get(file, ()))
        ]
        for column in spec.column_names:
            found.append(
                Mutation("rename_header", file, _rename_header(file, column, False), HEADER, column)
            )
            found.append(
                Mutation("drop_column", file, _rename_header(file, column, True), HEADER, column)
            )
        found.append(Mutation("empty_file", file, _raw_edit(file, lambda _: b""), HEADER, "-"))
        # no tiers at all is allowed (no declaration fee), an incomplete schedule is not
        whole = needed.get(file) and spec.name != "declaration_tiers"
        if not spec.optional or file.startswith("events/") or whole:
            found.append(Mutation("missing_file", file, _delete_file(file), None, None))
    return found


def _memoized_parse() -> Callable[..., Parsed]:
    """edge.tables.parse_csv_file memoized by the file's bytes (it is a pure function of
    them): a mutation re-reads only the file it changed."""
    cache: dict[tuple[str, str | None, bytes], Parsed] = {}

    def parse(path: Path, spec: FileSpec, source: str | None = None) -> Parsed:
        if not path.exists():
            return parse_csv_file(path, spec, source)
        key = (spec.path, source, hashlib.blake2b(path.read_bytes()).digest())
        if key not in cache:
            cache[key] = parse_csv_file(path, spec, source)
        return cache[key]

    return parse


def _no_flink(*_: object, **__: object) -> None:
    raise AssertionError("a mutated bundle passed the checks and reached the Flink job")


@contextlib.contextmanager
def _edge_only() -> Iterator[None]:
    parse = _memoized_parse()
    with (
        mock.patch.object(validate, "parse_csv_file", parse),
        mock.patch.object(events, "parse_csv_file", parse),
        mock.patch.object(pipeline, "run_preaggregation", _no_flink),
    ):
        yield


def _published_before(out: Path) -> dict[str, bytes]:
    """A day with an earlier version: ``v1`` and ``LATEST``, which no bad run may touch."""
    folder = out / DAY.isoformat() / "v1"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.json").write_text('{"version": 1}\n')
    (out / DAY.isoformat() / "LATEST").write_text("v1\n")
    return _files(out)


def _files(out: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(out)): p.read_bytes()
        for p in sorted(out.rglob("*"))
        if p.is_file() and p.name != "breaks.json"
    }


def _replay(bundle: Path, out: Path) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = cli.main(["replay", str(bundle), "--day", DAY.isoformat(), "--out", str(out)])
    return code, err.getvalue()


def _named(problems: list[dict[str, str]], m: Mutation) -> bool:
    if m.line is None:  # a deleted row or file: named where it is missed, or by its file
        return any(p["source"] == m.file or m.file in p["message"] for p in problems)
    return any(
        p["source"] == m.file and p["record"] == m.line and m.field in (None, p["field"])
        for p in problems
    )


@pytest.fixture(scope="module")
def bases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("campaign")
    simulated = root / "simulated"
    simulate(
        SimulationConfig(day=DAY, accounts=12, members=3, trades=12, seed=5, orders_per_trade=1),
        simulated,
    )
    return {"worked_example": day_one().write(root / "worked_example"), "simulated": simulated}


TRIED: Counter[str] = Counter()


@pytest.mark.parametrize("base", ["worked_example", "simulated"])
def test_every_mutation_is_caught_and_named(
    base: str, bases: dict[str, Path], tmp_path: Path
) -> None:
    original = bases[base]
    with _edge_only():
        validate.check_bundle(original, DAY)  # the base itself is valid
    mutations = cell_mutations(original) + file_mutations(original)
    kinds = sorted({m.kind for m in mutations})
    by_kind = {k: [m for m in mutations if m.kind == k] for k in kinds}
    tried: Counter[str] = Counter()
    runs = itertools.count()

    @settings(
        max_examples=PER_BASE,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(st.data())
    def campaign(data: st.DataObject) -> None:
        kind = data.draw(st.sampled_from(kinds), label="kind")
        mutation = data.draw(st.sampled_from(by_kind[kind]), label="mutation")
        work = tmp_path / f"run{next(runs)}"
        bundle, out = work / "bundle", work / "out"
        shutil.copytree(original, bundle)
        before = _published_before(out)
        mutation.apply(bundle)
        try:
            code, stderr = _replay(bundle, out)
        except AssertionError as exc:
            raise AssertionError(f"{mutation}: {exc}") from None
        assert code == 2, f"{mutation}: exit {code}\n{stderr}"
        assert "Traceback" not in stderr and "nothing was published" in stderr
        assert _files(out) == before, f"{mutation}: the published day changed"
        report: dict[str, Any] = json.loads((out / DAY.isoformat() / "breaks.json").read_text())
        assert report["count"] == len(report["problems"]) >= 1
        assert _named(report["problems"], mutation), (
            f"{mutation.kind} of {mutation.file} {mutation.line} {mutation.field} not named:\n"
            + stderr
        )
        tried[kind] += 1
        shutil.rmtree(work)

    with _edge_only():
        campaign()
    TRIED.update(tried)
    log.info("%s: %d mutations tried, all caught: %s", base, sum(tried.values()), dict(tried))
    assert sum(tried.values()) >= PER_BASE
    assert set(tried) == set(kinds)  # every kind of mutation was tried


def test_an_added_column_is_accepted(bases: dict[str, Path], tmp_path: Path) -> None:
    """DATA_CONTRACT: extra columns are allowed; every file of both bundles takes one."""
    for base, original in bases.items():
        for file in SPECS:
            if not (original / file).exists():
                continue
            bundle = tmp_path / base / file.replace("/", "_")
            shutil.copytree(original, bundle)
            header, rows = _rows(bundle, file)
            _write(bundle / file, [*header, "note"], [[*r, "x"] for r in rows])
            with _edge_only():
                validate.check_bundle(bundle, DAY)
