"""The one reader of ``schemas/``: topic and file specifications, and the types derived from them.

Everything that needs a column list, a type, a sort order, a Kafka partition count or a path
asks this module; nothing else spells them out by hand.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pyarrow as pa

SCHEMA_DIR = Path(__file__).resolve().parent

#: Internal decimal scales of the logical types (see ``files/*.json`` "types").
SCALES = {"price": 6, "money": 2, "rate": 8, "ratio4": 4, "decimal6": 6}


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # string, date, timestamp, int, enum:A,B, price, money, rate, ratio4, decimal6
    nullable: bool = False

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
                else tuple(
                    Column(c["name"], c["type"], c.get("nullable", False)) for c in d["columns"]
                ),
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
        cols = []
        for fname, prop in doc["properties"].items():
            nullable = "anyOf" in prop or (isinstance(prop.get("type"), list))
            xtype = prop["x-type"]
            if xtype == "enum":
                values = prop.get("enum") or prop["anyOf"][0]["enum"]
                xtype = "enum:" + ",".join(values)
            cols.append(Column(fname, xtype, nullable))
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
