"""Great Expectations suites over the inputs (reference data, events) and the published files.

The suites are derived from ``schemas/`` (columns, order, nullability, types as patterns, enumerations,
keys), plus sign rules a clearing house expects (quantities and margins are never negative). Frames
are read as text with pandas (GE 1.x has no Polars data source) so nothing passes through a float.
Results and Data Docs land in the audit folder of the version.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, TypedDict

import pandas as pd

from edge.events import topic_file_spec
from publication.publish import MEMBER_FILES
from schemas.registry import EVENT_TOPICS, FileSpec, file_spec, group_specs

PATTERNS = {
    "money": r"^-?\d+\.\d{2}$",
    "price": r"^-?\d+(\.\d+)?$",
    "rate": r"^-?\d+(\.\d+)?$",
    "ratio4": r"^-?\d+\.\d{4}$",
    "int": r"^-?\d+$",
    "date": r"^\d{4}-\d{2}-\d{2}$",
    "timestamp": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}$",
}
NON_NEGATIVE = {
    "long_qty",
    "short_qty",
    "long_qty_prev",
    "short_qty_prev",
    "margin",
    "margin_call",
    "long_margin",
    "short_margin",
    "fee",
    "trading_fees",
    "declaration_fees",
    "delivery_exercise_fees",
    "volume",
    "open_interest",
    "messages",
    "executed",
    "qty",
    "close_today_qty",
    "deposits",
    "withdrawals",
    "amount",
}


class FailedExpectation(TypedDict):
    """One expectation a suite failed, with up to five of the values it did not expect."""

    expectation: str
    column: str | None  # None for a table-level expectation
    unexpected: list[str]


class SuiteResult(TypedDict):
    """One suite's run: its success, how many expectations it has and those that failed."""

    success: bool
    expectations: int
    failed: list[FailedExpectation]


def _expectations(spec: FileSpec) -> list[Any]:
    # imported with the suite, as in validate() below: importing Great Expectations takes ~10 s.
    # great_expectations.expectations imports its classes without re-exporting them (no __all__,
    # no ``as`` aliases), so mypy's strict no_implicit_reexport flags each use below.
    import great_expectations.expectations as gxe

    out: list[Any] = [gxe.ExpectTableColumnsToMatchOrderedList(column_list=spec.column_names)]  # type: ignore[attr-defined]  # GE does not re-export it
    for column in spec.columns:
        if not column.nullable:
            out.append(gxe.ExpectColumnValuesToNotBeNull(column=column.name))  # type: ignore[attr-defined]  # GE does not re-export it
        if column.enum_values:
            out.append(
                gxe.ExpectColumnValuesToBeInSet(  # type: ignore[attr-defined]  # GE does not re-export it
                    column=column.name, value_set=list(column.enum_values)
                )
            )
        elif column.type in PATTERNS:
            pattern = PATTERNS[column.type]
            if column.name in NON_NEGATIVE:
                pattern = pattern.replace("^-?", "^")
            out.append(gxe.ExpectColumnValuesToMatchRegex(column=column.name, regex=pattern))  # type: ignore[attr-defined]  # GE does not re-export it
    if len(spec.key) == 1:
        out.append(gxe.ExpectColumnValuesToBeUnique(column=spec.key[0]))  # type: ignore[attr-defined]  # GE does not re-export it
    elif spec.key:
        out.append(gxe.ExpectCompoundColumnsToBeUnique(column_list=list(spec.key)))  # type: ignore[attr-defined]  # GE does not re-export it
    return out


def _frames(bundle: Path, folder: Path) -> dict[str, tuple[FileSpec, pd.DataFrame]]:

    frames: dict[str, tuple[FileSpec, pd.DataFrame]] = {}
    for spec in group_specs("reference"):
        if (bundle / spec.path).exists():
            frames[f"input_{spec.name}"] = (
                spec,
                pd.read_csv(bundle / spec.path, dtype=str, keep_default_na=False, na_values=[""]),
            )
    for topic in EVENT_TOPICS:
        path = bundle / "events" / f"{topic}.csv"
        if path.exists():
            frames[f"input_{topic}"] = (
                topic_file_spec(topic),
                pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""]),
            )
    exchange = file_spec("settlement_prices")
    frames["published_settlement_prices"] = (
        exchange,
        pd.read_csv(folder / exchange.path, dtype=str, keep_default_na=False, na_values=[""]),
    )
    for name in MEMBER_FILES:
        spec = file_spec(name)
        parts = [
            pd.read_csv(p, dtype=str, keep_default_na=False, na_values=[""])
            for p in sorted((folder / "members").glob(f"*/{name}.csv"))
        ]
        frames[f"published_{name}"] = (
            spec,
            pd.concat(parts, ignore_index=True)
            if parts
            else pd.DataFrame(columns=spec.column_names),
        )
    return frames


def validate(bundle: Path, folder: Path, project: Path) -> dict[str, SuiteResult]:
    """Run every suite; returns per suite its success and the failed expectations with examples."""
    # Great Expectations is imported only when a suite runs: importing it takes ~10 s.
    import great_expectations as gx

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    context = gx.get_context(mode="file", project_root_dir=str(project))
    source = context.data_sources.add_or_update_pandas("dayclear")
    results: dict[str, SuiteResult] = {}
    definitions = []
    batches = {}
    for name, (spec, frame) in _frames(bundle, folder).items():
        asset = source.add_dataframe_asset(name)
        batch = asset.add_batch_definition_whole_dataframe("whole")
        suite = context.suites.add_or_update(gx.ExpectationSuite(name=name))
        for expectation in _expectations(spec):
            suite.add_expectation(expectation)
        definition = context.validation_definitions.add_or_update(
            gx.ValidationDefinition(name=name, data=batch, suite=suite)
        )
        definitions.append(definition)
        batches[name] = frame
    for definition in definitions:
        result = definition.run(batch_parameters={"dataframe": batches[definition.name]})
        failed: list[FailedExpectation] = []
        for r in result.results:
            if r.success:
                continue
            config = r.expectation_config
            assert config is not None  # a suite's results always carry their expectation
            failed.append(
                {
                    "expectation": config.type,
                    "column": config.kwargs.get("column"),
                    "unexpected": [
                        str(v) for v in (r.result.get("partial_unexpected_list") or [])[:5]
                    ],
                }
            )
        results[definition.name] = {
            "success": result.success,
            "expectations": len(result.results),
            "failed": failed,
        }
    context.build_data_docs()
    return results
