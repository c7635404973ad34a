-- Typed views over the raw sources (files or Kafka): the one place the jobs cast wire text.
CREATE TEMPORARY VIEW orders AS
SELECT trading_day, seq, ts, event, order_id, account_id, instrument_id, side, `offset`, hedge_flag,
       order_type, CAST(NULLIF(price, '') AS DECIMAL(20, 6)) AS price, qty
FROM raw_orders;

CREATE TEMPORARY VIEW trades AS
SELECT trading_day, seq, ts, trade_id, instrument_id, CAST(price AS DECIMAL(20, 6)) AS price, qty,
       buy_order_id, buy_account_id, buy_offset, buy_hedge_flag,
       sell_order_id, sell_account_id, sell_offset, sell_hedge_flag
FROM raw_trades;

CREATE TEMPORARY VIEW fund_movements AS
SELECT trading_day, seq, ts, movement_id, account_id, direction, CAST(amount AS DECIMAL(20, 2)) AS amount
FROM raw_fund_movements;

-- Trading time in microseconds since the open (SETTLEMENT_RULES §2): 09:30-11:30 then 13:00-;
-- -1 marks a trade inside the lunch break or before the open.
CREATE TEMPORARY VIEW trades_clock AS
SELECT t.*,
  ((CAST(SUBSTRING(ts, 12, 2) AS BIGINT) * 60 + CAST(SUBSTRING(ts, 15, 2) AS BIGINT)) * 60
    + CAST(SUBSTRING(ts, 18, 2) AS BIGINT)) * 1000000 + CAST(SUBSTRING(ts, 21, 6) AS BIGINT) AS clock_micros
FROM trades t;

CREATE TEMPORARY VIEW trades_timed AS
SELECT *,
  CASE
    WHEN clock_micros BETWEEN CAST(34200000000 AS BIGINT) AND CAST(41400000000 AS BIGINT)
      THEN clock_micros - CAST(34200000000 AS BIGINT)
    WHEN clock_micros >= CAST(46800000000 AS BIGINT) THEN clock_micros - CAST(39600000000 AS BIGINT)
    ELSE CAST(-1 AS BIGINT)
  END AS trading_micros
FROM trades_clock;

-- Each trade has a buy leg (leg_no 0) and a sell leg (leg_no 1) (SETTLEMENT_RULES §5), made from one
-- row by UNNEST so a streaming run sees them in that order. pos_side is the side of the position the
-- leg moves: BUY OPEN / SELL CLOSE the long side, SELL OPEN / BUY CLOSE the short side. The array is
-- computed from the row (seq - seq is 0): the planner turns the UNNEST of a constant array into a
-- join with a one-row table, which in streaming keeps every trade of the day in its state.
CREATE TEMPORARY VIEW legs_both AS
SELECT t.*, n.leg_no FROM trades t CROSS JOIN UNNEST(ARRAY[t.seq - t.seq, t.seq - t.seq + 1]) AS n(leg_no);

CREATE TEMPORARY VIEW legs_sided AS
SELECT trading_day, seq, leg_no, ts, trade_id,
       CASE WHEN leg_no = 0 THEN buy_order_id ELSE sell_order_id END AS order_id,
       CASE WHEN leg_no = 0 THEN buy_account_id ELSE sell_account_id END AS account_id,
       instrument_id, CASE WHEN leg_no = 0 THEN 'BUY' ELSE 'SELL' END AS side,
       CASE WHEN leg_no = 0 THEN buy_offset ELSE sell_offset END AS `offset`,
       CASE WHEN leg_no = 0 THEN buy_hedge_flag ELSE sell_hedge_flag END AS hedge_flag, price, qty
FROM legs_both;

CREATE TEMPORARY VIEW legs AS
SELECT *,
       CASE WHEN (side = 'BUY') = (`offset` = 'OPEN') THEN 'LONG' ELSE 'SHORT' END AS pos_side,
       CASE WHEN `offset` = 'OPEN' THEN qty ELSE CAST(0 AS BIGINT) END AS open_qty,
       CASE WHEN `offset` = 'CLOSE' THEN qty ELSE CAST(0 AS BIGINT) END AS close_qty
FROM legs_sided;

-- Per instrument: trades, volume, Σp·q, high, low, and the first and last trade (open, close, the
-- last trade's trading time for §3); how the ends are found differs by mode (jobs/preaggregate.py).
{instrument_day_ends}
