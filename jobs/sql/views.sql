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

-- Each trade has a buy leg (leg_no 0) and a sell leg (leg_no 1) (SETTLEMENT_RULES §5).
-- pos_side is the side of the position the leg moves: BUY OPEN / SELL CLOSE the long side,
-- SELL OPEN / BUY CLOSE the short side.
CREATE TEMPORARY VIEW legs AS
SELECT trading_day, seq, CAST(0 AS BIGINT) AS leg_no, ts, trade_id, buy_order_id AS order_id,
       buy_account_id AS account_id, instrument_id, 'BUY' AS side, buy_offset AS `offset`,
       buy_hedge_flag AS hedge_flag, price, qty,
       CASE buy_offset WHEN 'OPEN' THEN 'LONG' ELSE 'SHORT' END AS pos_side
FROM trades
UNION ALL
SELECT trading_day, seq, CAST(1 AS BIGINT) AS leg_no, ts, trade_id, sell_order_id AS order_id,
       sell_account_id AS account_id, instrument_id, 'SELL' AS side, sell_offset AS `offset`,
       sell_hedge_flag AS hedge_flag, price, qty,
       CASE sell_offset WHEN 'OPEN' THEN 'SHORT' ELSE 'LONG' END AS pos_side
FROM trades;

CREATE TEMPORARY VIEW legs_keyed AS
SELECT l.*,
       CASE WHEN l.`offset` = 'OPEN' THEN l.qty ELSE CAST(0 AS BIGINT) END AS open_qty,
       CASE WHEN l.`offset` = 'CLOSE' THEN l.qty ELSE CAST(0 AS BIGINT) END AS close_qty,
       COALESCE(CASE l.pos_side WHEN 'LONG' THEN p.long_qty ELSE p.short_qty END, CAST(0 AS BIGINT)) AS prev_qty
FROM legs l
LEFT JOIN opening_positions p
  ON l.account_id = p.account_id AND l.instrument_id = p.instrument_id AND l.hedge_flag = p.hedge_flag;

-- Running totals per (account, instrument, hedge flag, position side) in seq order, buy leg first.
CREATE TEMPORARY VIEW legs_running AS
SELECT *,
  SUM(open_qty) OVER (PARTITION BY account_id, instrument_id, hedge_flag, pos_side
                      ORDER BY seq, leg_no ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS cum_open,
  SUM(close_qty) OVER (PARTITION BY account_id, instrument_id, hedge_flag, pos_side
                       ORDER BY seq, leg_no ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS cum_close
FROM legs_keyed;

-- Close-today-first matching (SETTLEMENT_RULES §5.1): with O and C the running opens and closes,
-- the closes matched to D's opens so far are CT_n = C_n + min(0, min_{k<=n}(O_k - C_k)).
CREATE TEMPORARY VIEW legs_close_today AS
SELECT *,
  cum_close + LEAST(CAST(0 AS BIGINT),
    MIN(cum_open - cum_close) OVER (PARTITION BY account_id, instrument_id, hedge_flag, pos_side
                                    ORDER BY seq, leg_no ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
  ) AS cum_close_today
FROM legs_running;

-- FIFO matching (SETTLEMENT_RULES §5.1): closes consume the D-1 position first, then D's opens in
-- the order they were opened. A close's part matched to D opens covers the open-lot interval
-- [td_lo, td_hi) of the opens' running total.
CREATE TEMPORARY VIEW legs_matched AS
SELECT *,
  cum_close_today - LAG(cum_close_today, 1, CAST(0 AS BIGINT)) OVER (
      PARTITION BY account_id, instrument_id, hedge_flag, pos_side ORDER BY seq, leg_no) AS close_today_qty,
  LEAST(cum_close, prev_qty) - LEAST(cum_close - close_qty, prev_qty) AS fifo_prev_qty,
  GREATEST(cum_close - close_qty - prev_qty, CAST(0 AS BIGINT)) AS td_lo,
  GREATEST(cum_close - prev_qty, CAST(0 AS BIGINT)) AS td_hi,
  prev_qty + cum_open - cum_close AS position_after
FROM legs_close_today;

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
