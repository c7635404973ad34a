"""Hostile records for the gate (issue 15 item 4) and what the contract says about each.

:func:`hostile_batch` draws, with Hypothesis (derandomized: the same batch in every run), records
that break the wire contract of ``schemas/topics/*.json`` one way at a time, each built from a valid
record of the day so that exactly the drawn defect is there. :func:`contract_problem` is the
contract written out independently of the gate (``jobs/gate.py``): it judges one record as the
JSON Schema and DATA_CONTRACT say, so the integration test can compare, record by record, what the
gate refused with what it should have refused.

What the contract leaves to the end of day is not a problem here (docs/decisions.md, "Bad input"
and "The gate at the close"): the gate checks the schema's types, required fields, integer minimums,
enumerations and patterns, the open trading day, the references and ``seq`` uniqueness; the ``x-``
keywords (``x-on-tick``, ``x-domain`` positive, ``x-same-day`` for ``ts``) and the §2 trading hours
are not wire checks, the end of day checks them on the frozen aggregates. Extra fields are allowed
(DATA_CONTRACT: "extra columns ... are allowed").
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, cast

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.registry import topic_spec

TOPICS = ("orders", "trades", "fund_movements")
KEYS = {"orders": "instrument_id", "trades": "instrument_id", "fund_movements": "account_id"}
INT64 = (-(2**63), 2**63 - 1)

#: The kinds of hostile record, as issue 15 item 4 lists them.
KINDS = (
    "random_bytes",
    "truncated_json",
    "wrong_type",
    "huge_number",
    "non_ascii",
    "missing_field",
    "extra_field",
    "nonpositive",
    "off_tick",
    "outside_session",
    "other_day",
    "unknown_reference",
    "duplicate_seq",
)
#: A price and an amount that match their patterns but not the aggregates' DECIMAL(20, 6) and
#: DECIMAL(20, 2): the contract accepts them (no maximum), the job cannot cast them.
DECIMAL_OVERFLOW = {"price": "9" * 300, "amount": "9" * 300}
#: A time that matches the ``ts`` pattern but is no time of day: the job admits it, the close's
#: journal cannot read it (see the same strict xfail).
IMPOSSIBLE_TS = "T25:61:61.000000"
#: An empty record: the gate refuses it with an empty ``raw``, which the close then cannot read
#: back from its own dead letters (the same strict xfail).
EMPTY = b""
#: Days no other test produces or closes (an "other day" record must not be admitted by another
#: test's close, which starts at the topics' beginning); 2026-02-30 matches the pattern only.
OTHER_DAYS = ("2026-12-08", "2026-12-10", "1970-01-01", "2099-12-31", "2026-02-30")


#: A wrong type: the field's own number as text (so that a ``seq`` given as text stays fresh).
AS_TEXT = object()


@dataclass(frozen=True)
class Hostile:
    """One drawn hostile record before it is given its ``seq``: ``build`` turns the valid record
    (with a fresh ``seq``) and the template's own ``seq`` into the bytes sent."""

    topic: str
    kind: str
    template: int
    note: str
    build: Callable[[dict[str, Any], int], bytes]


@dataclass(frozen=True)
class Sent:
    topic: str
    kind: str
    note: str
    key: str
    value: bytes


def _dumps(record: dict[str, Any]) -> bytes:
    return json.dumps(record, ensure_ascii=False, allow_nan=True).encode()


def _replace(field: str, value: Any) -> Callable[[dict[str, Any], int], bytes]:
    return lambda r, _: _dumps({**r, field: value})


def _tick_off(price: str | None, tick: Decimal) -> str:
    base = Decimal(price) if price else Decimal("4000")
    # half a tick: off the tick, yet a price the aggregates' DECIMAL(20, 6) reads (the contract
    # admits it and the end of day judges it); a third of a tick had no end of places
    return str(base + tick / 2 if tick > Decimal("0.0001") else base + Decimal("0.00001"))


def _fields(topic: str) -> list[str]:
    return topic_spec(topic).column_names


def _int_fields(topic: str) -> list[str]:
    return [c.name for c in topic_spec(topic).columns if c.type == "int"]


def _string_fields(topic: str) -> list[str]:
    return [c.name for c in topic_spec(topic).columns if c.type != "int"]


SCALARS_AND_CONTAINERS = st.one_of(
    st.booleans(),
    st.none(),
    st.lists(st.integers(-5, 5), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(0, 9), max_size=2),
)


@st.composite
def hostile_record(
    draw: st.DrawFn, templates: dict[str, list[dict[str, Any]]], ticks: dict[str, Decimal]
) -> Hostile:
    """One hostile record of a drawn kind, built on a drawn valid record of a drawn topic."""
    topic = draw(st.sampled_from(TOPICS))
    kind = draw(st.sampled_from(KINDS))
    index = draw(st.integers(0, len(templates[topic]) - 1))
    template = templates[topic][index]
    note = ""
    build: Callable[[dict[str, Any], int], bytes]
    if kind == "random_bytes":
        raw = draw(st.binary(min_size=1, max_size=120))  # empty: see EMPTY
        note, build = raw[:40].hex(), lambda r, _: raw
    elif kind == "truncated_json":
        cut = draw(st.integers(1, 200))
        note = str(cut)
        build = lambda r, _: _dumps(r)[: min(cut, len(_dumps(r)) - 1)]  # noqa: E731
    elif kind == "wrong_type":
        field = draw(st.sampled_from(_fields(topic)))
        if field in _int_fields(topic):
            value: Any = draw(
                st.one_of(
                    SCALARS_AND_CONTAINERS,
                    st.floats().filter(lambda f: f != f or abs(f) == float("inf") or f != int(f)),
                    st.just(AS_TEXT),  # its own value as text
                    st.text(max_size=8),
                )
            )
        else:
            value = draw(
                st.one_of(
                    SCALARS_AND_CONTAINERS,
                    st.integers(-(10**6), 10**6),  # a number where text is due
                    st.floats(-(10**6), 10**6),
                )
            )
        note, build = f"{field}={value!r}", _replace(field, value)
        if value is AS_TEXT:  # the record's own number (its fresh seq): no new seq gap
            build = lambda r, _: _dumps({**r, field: str(r[field])})  # noqa: E731
    elif kind == "huge_number":
        # integers only: a price or an amount too large for the aggregates' decimals stops the
        # job (see DECIMAL_OVERFLOW and the strict xfail in tests/test_hostile_input.py)
        field = draw(st.sampled_from(["qty", "seq"] if topic != "fund_movements" else ["seq"]))
        value = draw(
            st.one_of(
                st.integers(2**63, 2**300),  # beyond 64 bits
                st.integers(-(2**300), -(2**63) - 1),
                st.integers(10**12, 2**62) if field == "qty" else st.nothing(),
            )
        )
        note, build = f"{field}={str(value)[:30]}", _replace(field, value)
    elif kind == "non_ascii":
        field = draw(st.sampled_from(_string_fields(topic)))
        text = draw(
            st.text(
                st.characters(
                    min_codepoint=0x80, max_codepoint=0x10FFFF, exclude_categories=["Cs"]
                ),
                min_size=1,
                max_size=12,
            )
        )
        how = draw(st.sampled_from(["replace", "append", "digits"]))
        old = template.get(field)
        value = (
            text
            if how == "replace" or old is None
            else str(old) + text
            if how == "append"
            else str(old).translate({ord(d): chr(0xFF10 + int(d)) for d in "0123456789"})
        )  # full-width digits: not \d for the contract's patterns
        note, build = f"{field}={value!r}", _replace(field, value)
    elif kind == "missing_field":
        field = draw(st.sampled_from(_fields(topic)))
        note = field
        build = lambda r, _: _dumps({k: v for k, v in r.items() if k != field})  # noqa: E731
    elif kind == "extra_field":
        name = draw(st.text(min_size=1, max_size=10).filter(lambda n: n not in _fields(topic)))
        value = draw(st.one_of(SCALARS_AND_CONTAINERS, st.text(max_size=10), st.integers()))
        note, build = f"{name!r}={value!r}", _replace(name, value)
    elif kind == "nonpositive":
        field = draw(st.sampled_from(["qty", "price"] if topic != "fund_movements" else ["amount"]))
        number = draw(st.integers(-(10**6), 0))
        value = (
            number
            if field == "qty"
            else str(number)
            if field == "price"
            else (draw(st.sampled_from(["0", "0.00", "0.0"])) if number == 0 else str(number))
        )
        note, build = f"{field}={value!r}", _replace(field, value)
    elif kind == "off_tick":
        if topic == "fund_movements":
            value = draw(st.sampled_from(["10.001", "0.5", "7.123"]))  # amount: more than 2 places
            note, build = f"amount={value}", _replace("amount", value)
        else:
            tick = ticks.get(template["instrument_id"], Decimal("0.2"))
            value = _tick_off(template.get("price"), tick)
            note, build = f"price={value}", _replace("price", value)
    elif kind == "outside_session":
        day = template["trading_day"]
        when = draw(
            st.sampled_from(
                [
                    f"{day}T03:00:00.000000",
                    f"{day}T12:00:00.000000",  # lunch break
                    f"{day}T23:59:59.999999",
                    f"{OTHER_DAYS[0]}T10:00:00.000000",  # another date
                    f"{day} 10:00:00",
                    f"{day}T10:00:00",
                ]
            )
        )
        note, build = f"ts={when}", _replace("ts", when)
    elif kind == "other_day":
        value = draw(st.sampled_from(OTHER_DAYS))
        note, build = f"trading_day={value}", _replace("trading_day", value)
    elif kind == "unknown_reference":
        fields = [
            c.name
            for c in topic_spec(topic).columns
            if c.name.endswith(("account_id", "instrument_id"))
        ]
        field = draw(st.sampled_from(fields))
        value = draw(st.sampled_from(["A999999", "XX9999", "", " A0001"]))
        note, build = f"{field}={value!r}", _replace(field, value)
    else:  # duplicate_seq: the template's own seq, the key kept (same partition, after it)
        changed = draw(st.sampled_from(["same", "qty", "id"]))
        note = changed

        def build(r: dict[str, Any], original: int) -> bytes:
            again = {**template}
            if changed == "qty" and "qty" in again:
                again["qty"] = int(again["qty"]) + 1
            elif changed == "id":
                id_field = {"orders": "order_id", "trades": "trade_id"}.get(topic, "movement_id")
                again[id_field] = str(again[id_field]) + "-again"
            return _dumps(again)

    return Hostile(topic, kind, index, note, build)


def hostile_batch(
    templates: dict[str, list[dict[str, Any]]],
    ticks: dict[str, Decimal],
    examples: int,
) -> list[Sent]:
    """``examples`` hostile records drawn by Hypothesis (derandomized), each given a fresh ``seq``
    above the day's (unless its kind is about ``seq``), keyed as production keys its topic."""
    drawn: list[Hostile] = []

    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(hostile_record(templates, ticks))
    def collect(h: Hostile) -> None:
        drawn.append(h)

    collect()
    fresh = {t: max(int(r["seq"]) for r in templates[t]) + 1 for t in TOPICS}
    sent = []
    for h in drawn:
        template = templates[h.topic][h.template]
        # fresh seqs follow the day's without a gap, and a duplicate takes none: the proof's
        # "every gap in the admitted seq range is explained by a refused record" must hold
        record = {**template, "seq": fresh[h.topic]}
        fresh[h.topic] += h.kind != "duplicate_seq"
        value = h.build(record, int(template["seq"]))
        key = template[KEYS[h.topic]]
        try:
            parsed = json.loads(value)
            if isinstance(parsed, dict) and isinstance(parsed.get(KEYS[h.topic]), str):
                key = parsed[KEYS[h.topic]]
        except ValueError:
            pass
        sent.append(Sent(h.topic, h.kind, h.note, key, value))
    return sent


# ---------------------------------------------------------------------------------------------
# The contract, written out on its own


def _pattern(pattern: str) -> re.Pattern[str]:
    """A JSON Schema (ECMA-262) pattern in Python: ``\\d`` is ASCII, ``$`` is the end of the text."""
    body = pattern[:-1] + r"\Z" if pattern.endswith("$") else pattern
    return re.compile(body, re.ASCII)


#: The SQL decimals the aggregates read prices and money as (docs/decisions.md, "The gate refuses
#: what the job could not read"): (precision, scale).
READ_AS = {"price": (20, 6), "money": (20, 2)}


def _readable_problem(x_type: str | None, value: str) -> str | None:
    """A text of the right pattern that the job still cannot read: a date or time that is none of
    the calendar, a number with more places or integer digits than its decimal (docs/decisions.md)."""
    try:
        if x_type == "date":
            date.fromisoformat(value)
        elif x_type == "timestamp":
            datetime.fromisoformat(value)
    except ValueError:
        return f"not a valid {x_type}"
    if x_type in READ_AS:
        precision, scale = READ_AS[x_type]
        number = Decimal(value).normalize()
        places = -number.as_tuple().exponent  # type: ignore[operator]
        digits = len(number.as_tuple().digits)
        if places > scale or digits - places > precision - scale:
            return f"does not fit DECIMAL({precision}, {scale})"
    return None


def _value_problem(prop: dict[str, Any], value: Any) -> str | None:
    if "anyOf" in prop:
        found = [_value_problem(p, value) for p in prop["anyOf"]]
        return None if any(f is None for f in found) else found[0]
    kind = prop.get("type")
    if kind == "null":
        return None if value is None else "not null"
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            return "not an integer"
        if not INT64[0] <= value <= INT64[1]:
            return "beyond 64 bits"  # JSON Schema has no bound; the project's int is 64-bit
        if "minimum" in prop and value < prop["minimum"]:
            return f"below {prop['minimum']}"
        return None
    if kind == "string":
        if not isinstance(value, str):
            return "not a string"
        if len(value) < prop.get("minLength", 0):
            return "too short"
        if "enum" in prop and value not in prop["enum"]:
            return "not in the enumeration"
        if "pattern" in prop and not _pattern(prop["pattern"]).search(value):
            return "does not match its pattern"
        return _readable_problem(prop.get("x-type"), value)
    raise AssertionError(f"a schema type the oracle does not know: {prop}")


def contract_problem(
    topic: str, value: bytes, day: str, accounts: set[str], instruments: set[str]
) -> str | None:
    """Why the contract refuses the record (the first problem found), or None when it is valid:
    UTF-8 JSON object, the topic schema's required fields and property types, the open trading
    day, known accounts and instruments. (``seq`` uniqueness needs the other records: the caller
    checks it.)"""
    try:
        record = json.loads(value.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return "not JSON"
    if not isinstance(record, dict):
        return "not a JSON object"
    schema = topic_spec(topic).json_schema
    props = cast(dict[str, Any], schema["properties"])
    for name in cast(list[str], schema["required"]):
        if name not in record:
            return f"{name}: missing"
    for name, prop in props.items():
        if name in record and (problem := _value_problem(prop, record[name])) is not None:
            return f"{name}: {problem}"
    if record["trading_day"] != day:
        return "trading_day: not the open day"
    for name in props:
        if name.endswith("account_id") and record[name] not in accounts:
            return f"{name}: unknown account"
        if name == "instrument_id" and record[name] not in instruments:
            return f"{name}: unknown instrument"
    return None
