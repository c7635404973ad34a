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
-- leg moves: BUY OPEN / SELL CLOSE the long side, SELL OPEN / BUY CLOSE the short side.
CREATE TEMPORARY VIEW legs_both AS
SELECT t.*, n.leg_no FROM trades t CROSS JOIN UNNEST(ARRAY[CAST(0 AS BIGINT), CAST(1 AS BIGINT)]) AS n(leg_no);

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
       CASE WHEN `offset` = 'CLOSE' THEN qty ELSE CAST(0 AS BIGINT) END AS close_qty{leg_time}
FROM legs_sided;

-- Running totals per (account, instrument, hedge flag, position side) in seq order, buy leg first
-- ({order} is `seq, leg_no` in batch mode; in streaming mode it is the arrival order, which is seq
-- order because one instrument's trades keep their order in one partition: DATA_CONTRACT, topics).
CREATE TEMPORARY VIEW legs_running AS
SELECT *,
  SUM(open_qty) OVER (PARTITION BY account_id, instrument_id, hedge_flag, pos_side
                      ORDER BY {order} ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS cum_open,
  SUM(close_qty) OVER (PARTITION BY account_id, instrument_id, hedge_flag, pos_side
                       ORDER BY {order} ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS cum_close
FROM legs;

-- Close-today-first matching (SETTLEMENT_RULES §5.1): with O and C the running opens and closes,
-- the closes matched to D's opens so far are CT_n = C_n + min(0, min_{k<=n}(O_k - C_k)). The same
-- minimum taken over the totals before each leg (O_0 - C_0 = 0) gives min(0, min_{k<n}(O_k - C_k)),
-- hence CT_{n-1} without looking back a row.
CREATE TEMPORARY VIEW legs_close_today AS
SELECT *,
  cum_close + LEAST(CAST(0 AS BIGINT),
    MIN(cum_open - cum_close) OVER (PARTITION BY account_id, instrument_id, hedge_flag, pos_side
                                    ORDER BY {order} ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
  ) AS cum_close_today,
  cum_close - close_qty + LEAST(CAST(0 AS BIGINT),
    MIN(cum_open - open_qty - cum_close + close_qty) OVER (
      PARTITION BY account_id, instrument_id, hedge_flag, pos_side
      ORDER BY {order} ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
  ) AS cum_close_today_before
FROM legs_running;

-- FIFO matching (SETTLEMENT_RULES §5.1): closes consume the D-1 position first, then D's opens in
-- the order they were opened. A close's part matched to D opens covers the open-lot interval
-- [td_lo, td_hi) of the opens' running total.
CREATE TEMPORARY VIEW legs_matched AS
SELECT l.trading_day, l.seq, l.leg_no, l.ts, l.trade_id, l.order_id, l.account_id, l.instrument_id,
       l.side, l.`offset`, l.hedge_flag, l.price, l.qty, l.pos_side, l.open_qty, l.close_qty,
       l.cum_open, l.cum_close, l.cum_close_today - l.cum_close_today_before AS close_today_qty,
       LEAST(l.cum_close, l.prev_qty) - LEAST(l.cum_close - l.close_qty, l.prev_qty) AS fifo_prev_qty,
       GREATEST(l.cum_close - l.close_qty - l.prev_qty, CAST(0 AS BIGINT)) AS td_lo,
       GREATEST(l.cum_close - l.prev_qty, CAST(0 AS BIGINT)) AS td_hi,
       l.prev_qty + l.cum_open - l.cum_close AS position_after
FROM (
  SELECT l.*,
         COALESCE(CASE l.pos_side WHEN 'LONG' THEN o.long_qty ELSE o.short_qty END, CAST(0 AS BIGINT)) AS prev_qty
  FROM legs_close_today l
  LEFT JOIN opening_positions o
    ON l.account_id = o.account_id AND l.instrument_id = o.instrument_id AND l.hedge_flag = o.hedge_flag
) l;

CREATE TEMPORARY VIEW fifo_open_cost AS
SELECT c.seq, c.leg_no,
       SUM(o.price * (LEAST(c.td_hi, o.cum_open) - GREATEST(c.td_lo, o.cum_open - o.open_qty))) AS fifo_open_cost
FROM legs_matched c
JOIN legs_matched o
  ON c.account_id = o.account_id AND c.instrument_id = o.instrument_id AND c.hedge_flag = o.hedge_flag
 AND c.pos_side = o.pos_side AND o.open_qty > 0
 AND o.cum_open > c.td_lo AND o.cum_open - o.open_qty < c.td_hi
WHERE c.close_qty > 0 AND c.td_hi > c.td_lo
GROUP BY c.seq, c.leg_no;

-- Per instrument: trades, volume, Σp·q, high, low, and the first and last trade (open, close, the
-- last trade's trading time for §3); how the ends are found differs by mode (jobs/preaggregate.py).
{instrument_day_ends}
