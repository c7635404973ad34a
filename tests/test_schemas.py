"""schemas/ is the single source of truth: valid JSON Schemas, the DATA_CONTRACT's columns, and
wire records that the producer sends validate against them."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest

from schemas.registry import EVENT_TOPICS, arrow_schema, file_spec, topic_spec

# DATA_CONTRACT.md, copied here by hand as the independent expectation.
CONTRACT = {
    "settlement_prices": "instrument_id, product, prev_settle, settle_price, price_source, limit_down, limit_up, open, high, low, close, volume, turnover, open_interest",
    "funds": "account_id, balance_prev, deposits, withdrawals, total_mtm, close_pnl, position_mtm, premium_received, premium_paid, exercise_cash, trading_fees, declaration_fees, delivery_exercise_fees, balance, margin, available, margin_call",
    "positions": "account_id, instrument_id, hedge_flag, long_qty_prev, short_qty_prev, long_qty, short_qty, prev_settle, settle_price, long_margin, short_margin, total_mtm, close_pnl, position_mtm",
    "trades": "trade_id, seq, ts, account_id, instrument_id, side, offset, hedge_flag, price, qty, turnover, close_today_qty, fee, premium",
    "declaration_fees": "account_id, scope, messages, executed, otr, fee",
    "margin_calls": "account_id, balance, margin, available, margin_call",
    "opening_positions": "account_id, instrument_id, hedge_flag, long_qty, short_qty",
    "opening_balances": "account_id, balance",
    "opening_settlement_prices": "instrument_id, settle_price",
    "instruments": "instrument_id, product, last_trading_day, listing_price, option_type, strike",
    "margin_rates": "instrument_id, hedge_flag, long_rate, short_rate",
}
TOPICS = {
    "orders": "trading_day, seq, ts, event, order_id, account_id, instrument_id, side, offset, hedge_flag, order_type, price, qty",
    "trades": "trading_day, seq, ts, trade_id, instrument_id, price, qty, buy_order_id, buy_account_id, buy_offset, buy_hedge_flag, sell_order_id, sell_account_id, sell_offset, sell_hedge_flag",
    "fund_movements": "trading_day, seq, ts, movement_id, account_id, direction, amount",
}


@pytest.mark.parametrize("name", sorted(CONTRACT))
def test_file_columns_follow_the_contract(name: str) -> None:
    assert file_spec(name).column_names == CONTRACT[name].split(", ")
    assert arrow_schema(file_spec(name)).names == CONTRACT[name].split(", ")


@pytest.mark.parametrize("topic", EVENT_TOPICS)
def test_topic_schemas_are_valid_and_follow_the_contract(topic: str) -> None:
    spec = topic_spec(topic)
    jsonschema.Draft202012Validator.check_schema(spec.json_schema)
    assert spec.column_names == TOPICS[topic].split(", ")
    assert spec.partitions >= 1


def test_wire_records_validate(tmp_path: Path) -> None:
    from datetime import date

    from devtools.simulator import SimulationConfig, simulate
    from edge.bundle import load_reference
    from edge.validate import read_events
    from jobs.kafka_io import wire_records

    day = date(2026, 11, 23)
    simulate(SimulationConfig(day=day, accounts=50, members=5, trades=40), tmp_path)
    events = read_events(tmp_path, load_reference(tmp_path, day), day)
    for topic in EVENT_TOPICS:
        validator = jsonschema.Draft202012Validator(topic_spec(topic).json_schema)
        records = list(wire_records(events[topic], topic))
        assert records
        for record in records:
            validator.validate(record)
    bad = {**next(iter(wire_records(events["trades"], "trades"))), "price": 4000.5}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(topic_spec("trades").json_schema).validate(bad)
