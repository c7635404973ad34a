"""The gate: every record of the day's topic ranges is either admitted to the aggregates or refused,
with its reason, to the dead letters. Nothing is dropped silently.

The checks are generated from ``schemas/topics/*.json`` (required fields, integer minimums, enums,
patterns, nullability) plus what only dayclear knows: the open trading day, the reference accounts
and instruments, and ``seq`` uniqueness per topic (the first record by partition and offset wins; a
later one with the same ``seq`` is a duplicate). Records arrive from Kafka as raw text with their
partition and offset, so a record that is not even JSON is still accounted for.

Output per topic: ``raw_<topic>`` (the admitted records, the columns the aggregation SQL reads) and
``dead_<topic>`` (source topic, partition, offset, seq, reason, field, raw text).
"""

from __future__ import annotations

import json
from typing import Any, cast

from schemas.registry import topic_spec

#: The SQL decimal each ``x-type`` of number is read as by the aggregates (jobs/sql/views.sql): a
#: number that does not fit is refused at the gate, where the cast would stop the job (or round).
DECIMALS = {"price": (20, 6), "money": (20, 2)}

REFERENCES = {
    "account_id": "gate_accounts",
    "buy_account_id": "gate_accounts",
    "sell_account_id": "gate_accounts",
    "instrument_id": "gate_instruments",
}


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _value(topic: str, field: str, kind: str) -> str:
    """A field of the record, read from its parsed fields ``f`` (:data:`FIELDS_FUNCTION`): the
    topic's schema columns in order, ``f[1]`` the first."""
    at = topic_spec(topic).column_names.index(field) + 1
    text = f"f[{at}]"
    return f"TRY_CAST({text} AS BIGINT)" if kind == "int" else text


def checks(topic: str, day: str) -> list[dict[str, Any]]:
    """The topic's checks in the order they are tried, as ``gate_verdict`` reads them
    (src/main/java/dev/dayclear/flink/GateVerdict.java): each names its kind, the field's position
    in ``f`` (from 0) and the verdict it gives, ``<reason>|<field>``. From the schema: required
    fields, each field's JSON type (string or integer; null only where nullable), integer minimums, enums, patterns, real
    dates and times, numbers that fit the decimal the aggregates read them as; then what only
    dayclear knows: the open trading day and the reference ids."""
    spec = topic_spec(topic)
    props = cast(dict[str, Any], spec.json_schema["properties"])
    required = set(cast(list[str], spec.json_schema.get("required", [])))
    found: list[dict[str, Any]] = []

    def add(kind: str, at: int, reason: str, field: str, **more: Any) -> None:
        found.append({"check": kind, "at": at, "verdict": f"{reason}|{field}", **more})

    for at, column in enumerate(spec.columns):
        prop, name = props[column.name], column.name
        integer = column.type == "int"
        kind = "int" if integer else "string"
        if name in required and not column.nullable:
            add("missing", at, f"missing or not a valid {kind}", name, int=integer)
        # the wire's JSON types (jobs/wire.py): 52 and "52" read alike, the contract wants one
        json_type = "integer" if integer else "string"
        reason = f"missing or not a JSON {json_type}" + (" (null allowed)" * column.nullable)
        add("type", at, reason, name, expect=json_type[0], nullable=column.nullable,
            required=name in required)  # fmt: skip
        if "minimum" in prop:
            if not integer:
                raise ValueError(f"{topic}.{name}: a minimum on a text field")
            add("min", at, f"below {prop['minimum']}", name, min=int(prop["minimum"]))
        enum = prop.get("enum") or (prop.get("anyOf") or [{}])[0].get("enum")
        pattern = prop.get("pattern") or next(
            (p.get("pattern") for p in prop.get("anyOf", []) if "pattern" in p), None
        )
        if (enum or pattern) and integer:
            raise ValueError(f"{topic}.{name}: an enum or pattern on an integer field")
        if enum:
            add("enum", at, f"not one of {', '.join(enum)}", name, values=list(enum))
        if pattern:
            add("pattern", at, "does not match its format", name, pattern=pattern)
        x_type = prop.get("x-type")
        if x_type in ("date", "timestamp"):
            add(x_type, at, f"not a valid {x_type}", name)
        if x_type in DECIMALS:
            precision, scale = DECIMALS[x_type]
            add("decimal", at, f"does not fit DECIMAL({precision}, {scale})", name,
                precision=precision, scale=scale)  # fmt: skip
    day_at = spec.column_names.index("trading_day")
    add("day", day_at, f"trading day is not the open day {day} (closed or future day)",
        "trading_day")  # fmt: skip
    for at, column in enumerate(spec.columns):
        if column.name in REFERENCES:
            table = REFERENCES[column.name]
            noun = "account" if table == "gate_accounts" else "instrument"
            add("known", at, f"unknown {noun}", column.name, table=table)
    return found


def gate_sql(topic: str, day: str, streaming: bool = False) -> list[str]:
    """The views ``checked_<topic>``, ``raw_<topic>`` and ``dead_<topic>`` over ``kafka_<topic>``.

    Both modes judge a record with ``gate_verdict`` (:data:`VERDICT_FUNCTION`) over :func:`checks`.
    Batch mode (the close over a bounded range) keeps the first record of a ``seq`` by partition and
    offset. Streaming mode must stay append-only (the matchings downstream are a process table
    function that takes no retractions), so it keeps the first record of a ``seq`` to arrive (the
    same one: a re-sent record is in the partition of its key) with the ``first_seq`` function
    (:data:`FIRST_SEQ_FUNCTION`), whose state is a bitmap of the seqs seen."""
    spec = topic_spec(topic)
    listed = json.dumps(checks(topic, day), separators=(",", ":"), ensure_ascii=False)
    verdict = f"gate_verdict(f, {_lit(listed)}, {_lit(day)})"
    typed = ",\n  ".join(
        f"{_value(topic, c.name, 'int' if c.type == 'int' else 'string')} AS `{c.name}`"
        for c in spec.columns
    )
    seq = _value(topic, "seq", "int")
    if streaming:
        checked = f"""SELECT kpartition, koffset, v, f, verdict,
  CASE WHEN repeated THEN CAST(2 AS BIGINT) ELSE CAST(1 AS BIGINT) END AS nth
FROM first_seq(rec => TABLE judged_{topic} PARTITION BY gate_key, uid => 'first_seq_{topic}')"""
    else:
        checked = f"""SELECT kpartition, koffset, v, f, verdict, CASE WHEN verdict IS NULL THEN
  ROW_NUMBER() OVER (PARTITION BY verdict, {seq} ORDER BY kpartition, koffset)
  ELSE CAST(1 AS BIGINT) END AS nth
FROM judged_{topic}"""
    extra = f", {seq} AS seq_no, 0 AS gate_key" if streaming else ""
    return [
        f"""CREATE TEMPORARY VIEW parsed_{topic} AS
SELECT kpartition, koffset, v, json_fields(v, {_lit(",".join(spec.column_names))}) AS f
FROM kafka_{topic}""",
        f"""CREATE TEMPORARY VIEW judged_{topic} AS
SELECT kpartition, koffset, v, f, {verdict} AS verdict{extra}
FROM parsed_{topic}""",
        f"""CREATE TEMPORARY VIEW checked_{topic} AS
{checked}""",
        f"""CREATE TEMPORARY VIEW raw_{topic} AS
SELECT {typed}
FROM checked_{topic} WHERE verdict IS NULL AND nth = 1""",
        f"""CREATE TEMPORARY VIEW dead_{topic} AS
SELECT {_lit(topic)} AS source_topic, CAST(kpartition AS BIGINT) AS source_partition, koffset AS source_offset,
  {seq} AS seq,
  CASE WHEN verdict IS NULL THEN 'duplicate seq' ELSE SPLIT_INDEX(verdict, '|', 0) END AS `reason`,
  CASE WHEN verdict IS NULL THEN 'seq' ELSE NULLIF(SPLIT_INDEX(verdict, '|', 1), '') END AS `field`,
  v AS `raw`
FROM checked_{topic} WHERE verdict IS NOT NULL OR nth > 1""",
    ]


#: ``json_fields(v, names)``: the record parsed once into an array of the named scalar fields (NULL
#: when it is not one JSON object), a Java function (src/main/java/dev/dayclear/flink/JsonFields.java)
#: giving each field as ``JSON_VALUE`` would; ``JSON_VALUE`` itself parses the whole record again for
#: every read, and a map of fields is searched key by key at every read.
FIELDS_FUNCTION = (
    "CREATE TEMPORARY SYSTEM FUNCTION json_fields AS 'dev.dayclear.flink.JsonFields' LANGUAGE JAVA"
)

#: ``gate_verdict(f, checks, day)``: the record's verdict (NULL when admitted), a Java function
#: (src/main/java/dev/dayclear/flink/GateVerdict.java) trying :func:`checks` in order, the reference
#: ids read from ``<table>.csv`` in the folder given by the job parameter ``dayclear.staging``. One
#: call per record, where a generated SQL CASE over every check converted and compared each field
#: in Flink's generated code; being Java, it costs no round trip to a Python worker, and being a
#: scalar function it keeps the stream append-only (a join with the reference ids would retract).
VERDICT_FUNCTION = "CREATE TEMPORARY SYSTEM FUNCTION gate_verdict AS 'dev.dayclear.flink.GateVerdict' LANGUAGE JAVA"
STAGING_PARAMETER = "dayclear.staging"

#: ``first_seq(rec => TABLE judged_<topic> PARTITION BY gate_key)``, the streaming gate's seq
#: uniqueness: a Java process table function (src/main/java/dev/dayclear/flink/FirstSeq.java) whose
#: state is a bitmap of the seqs seen, where a window count per seq kept one state entry per event.
FIRST_SEQ_FUNCTION = (
    "CREATE TEMPORARY SYSTEM FUNCTION first_seq AS 'dev.dayclear.flink.FirstSeq' LANGUAGE JAVA"
)
