"""The one reader of ``schemas/``: topic and file specifications, and the types derived from them.

Everything that needs a column list, a type, a sort order, a Kafka partition count or a path
asks this module; nothing else spells them out by hand.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pyarrow as pa

SCHEMA_DIR = Path(__file__).resolve().parent

#: Internal decimal scales of the logical types (see ``files/*.json`` "types").
SCALES = {"price": 6, "money": 2, "rate": 8, "ratio4": 4, "decimal6": 6}


#: Domains a numeric column may declare (``"domain"`` in ``files/*.json``, ``"x-domain"`` or an
#: integer ``"minimum": 1`` in ``topics/*.json``): the values it may hold, as (low, low inclusive,
#: high) with ``None`` for no bound; the high bound is inclusive.
DOMAINS: dict[str, tuple[int, bool, int | None]] = {
    "positive": (0, False, None),
    "non_negative": (0, True, None),
    "rate": (0, True, 1),  # a fraction in [0, 1]
    "positive_rate": (0, False, 1),  # a fraction in (0, 1]
}
DOMAIN_WORDS = {
    "positive": "positive",
    "non_negative": "zero or more",
    "rate": "within [0, 1]",
    "positive_rate": "within (0, 1]",
}


@dataclass(frozen=True)
class Column:
    """A column and what the edge checks of it (edge.tables, settlement.crosscheck).

    ``domains`` bound its values (:data:`DOMAINS`), each on every row or, written ``"rate if
    fee_basis=RATIO"`` in the schema, only where another column holds a value; ``references`` names the ``"file.column"`` its values must be found in;
    ``same_day`` says the date (or the date of the timestamp) is the bundle's trading day;
    ``on_tick`` that a price is a multiple of its instrument's product tick; ``places_from`` the
    product column that bounds its decimal places (``settle_decimals``)."""

    name: str
    type: str  # string, date, timestamp, int, enum:A,B, price, money, rate, ratio4, decimal6
    nullable: bool = False
    domains: tuple[tuple[str, str, str], ...] = ()  # (domain, when column, when value)
    references: str = ""
    same_day: bool = False
    on_tick: bool = False
    places_from: str = ""

    @property
    def enum_values(self) -> tuple[str, ...]:
        return tuple(self.type[5:].split(",")) if self.type.startswith("enum:") else ()

    @property
    def scale(self) -> int | None:
        return SCALES.get(self.type)


@dataclass(frozen=True)
class FileSpec:
    name: str
    path: str
    columns: tuple[Column, ...]
    optional: bool
    sort_by: tuple[str, ...]
    key: tuple[str, ...]
    description: str

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    key: str
    columns: tuple[Column, ...]
    json_schema: dict[str, object]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


def _domains(declared: str | list[str]) -> tuple[tuple[str, str, str], ...]:
    """``"positive"`` or ``["non_negative", "rate if fee_basis=RATIO"]`` as (domain, column, value)."""
    found = []
    for text in [declared] if isinstance(declared, str) else declared:
        domain, _, when = text.partition(" if ")
        column, _, value = when.partition("=")
        if domain not in DOMAINS:
            raise ValueError(f"unknown domain {domain!r} in schemas/")
        found.append((domain, column, value))
    return tuple(found)


def _file_column(c: dict[str, Any]) -> Column:
    return Column(
        c["name"],
        c["type"],
        c.get("nullable", False),
        domains=_domains(c.get("domain", [])),
        references=c.get("references", ""),
        same_day=c.get("same_day", False),
        places_from=c.get("places_from", ""),
    )


def _topic_column(name: str, prop: dict[str, Any]) -> Column:
    nullable = "anyOf" in prop or (isinstance(prop.get("type"), list))
    xtype = prop["x-type"]
    if xtype == "enum":
        values = prop.get("enum") or prop["anyOf"][0]["enum"]
        xtype = "enum:" + ",".join(values)
    domain = prop.get("x-domain", "positive" if prop.get("minimum") == 1 else [])
    return Column(
        name,
        xtype,
        nullable,
        domains=_domains(domain),
        references=prop.get("x-references", ""),
        same_day=prop.get("x-same-day", False),
        on_tick=prop.get("x-on-tick", False),
    )


@cache
def file_specs() -> dict[str, FileSpec]:
    specs: dict[str, FileSpec] = {}
    for group in ("reference", "opening", "published", "aggregates", "journal"):
        doc = json.loads((SCHEMA_DIR / "files" / f"{group}.json").read_text())
        for name, d in doc["files"].items():
            specs[name] = FileSpec(
                name=name,
                path=d["path"],
                columns=specs[d["columns_from"]].columns
                if "columns_from" in d
                else tuple(_file_column(c) for c in d["columns"]),
                optional=d.get("optional", False),
                sort_by=tuple(d.get("sort_by", ())),
                key=tuple(d.get("key", ())),
                description=d.get("description", ""),
            )
    return specs


def file_spec(name: str) -> FileSpec:
    return file_specs()[name]


def group_specs(group: str) -> list[FileSpec]:
    doc = json.loads((SCHEMA_DIR / "files" / f"{group}.json").read_text())
    return [file_spec(n) for n in doc["files"]]


@cache
def topic_specs() -> dict[str, TopicSpec]:
    specs: dict[str, TopicSpec] = {}
    for path in sorted((SCHEMA_DIR / "topics").glob("*.json")):
        doc = json.loads(path.read_text())
        kafka = doc["x-kafka"]
        cols = [_topic_column(fname, prop) for fname, prop in doc["properties"].items()]
        specs[doc["title"]] = TopicSpec(
            doc["title"], kafka["partitions"], kafka["key"], tuple(cols), doc
        )
    return specs


def topic_spec(name: str) -> TopicSpec:
    return topic_specs()[name]


EVENT_TOPICS = ("orders", "trades", "fund_movements")
DEAD_LETTER_TOPIC = "dead_letters"
ALERTS_TOPIC = "alerts"


def header(name: str) -> list[str]:
    """Column names of a bundle file (by spec name) or an event topic, in order."""
    return topic_spec(name).column_names if name in EVENT_TOPICS else file_spec(name).column_names


def arrow_type(column: Column) -> pa.DataType:
    """Arrow type of a logical column type: decimals are decimal128 at their internal scale."""
    t = column.type
    if t in SCALES:
        return pa.decimal128(38, SCALES[t])
    if t == "int":
        return pa.int64()
    if t == "date":
        return pa.date32()
    if t == "timestamp":
        return pa.timestamp("us")
    return pa.string()


def arrow_schema(spec: FileSpec | TopicSpec) -> pa.Schema:
    return pa.schema([pa.field(c.name, arrow_type(c), nullable=c.nullable) for c in spec.columns])


def flink_type(column: Column) -> str:
    """Flink SQL type of a column as the jobs declare it (decimals as exact DECIMAL)."""
    t = column.type
    if t in SCALES:
        return f"DECIMAL(38, {SCALES[t]})"
    if t == "int":
        return "BIGINT"
    return "STRING"
