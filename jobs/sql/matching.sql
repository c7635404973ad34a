-- The §5.1 matchings of the batch run, over the whole day's legs (the reference; the streaming run
-- does the same one leg at a time: matching_stream.sql). Output: legs_costed, each leg with
-- close_today_qty, fifo_prev_qty, fifo_open_cost and position_after.

-- Running totals per (account, instrument, hedge flag, position side) in seq order, buy leg first.
CREATE TEMPORARY VIEW legs_running AS
SELECT *,
  SUM(open_qty) OVER (PARTITION BY account_id, instrument_id, hedge_flag, pos_side
                      ORDER BY seq, leg_no ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS cum_open,
  SUM(close_qty) OVER (PARTITION BY account_id, instrument_id, hedge_flag, pos_side
                       ORDER BY seq, leg_no ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS cum_close
FROM legs;

-- Close-today-first matching (SETTLEMENT_RULES §5.1): with O and C the running opens and closes,
-- the closes matched to D's opens so far are CT_n = C_n + min(0, min_{k<=n}(O_k - C_k)). The same
-- minimum taken over the totals before each leg (O_0 - C_0 = 0) gives min(0, min_{k<n}(O_k - C_k)),
-- hence CT_{n-1} without looking back a row.
CREATE TEMPORARY VIEW legs_close_today AS
SELECT *,
  cum_close + LEAST(CAST(0 AS BIGINT),
    MIN(cum_open - cum_close) OVER (PARTITION BY account_id, instrument_id, hedge_flag, pos_side
                                    ORDER BY seq, leg_no ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
  ) AS cum_close_today,
  cum_close - close_qty + LEAST(CAST(0 AS BIGINT),
    MIN(cum_open - open_qty - cum_close + close_qty) OVER (
      PARTITION BY account_id, instrument_id, hedge_flag, pos_side
      ORDER BY seq, leg_no ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
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

-- Each leg with its FIFO open cost (0 when it consumes no open lot).
CREATE TEMPORARY VIEW legs_costed AS
SELECT l.*, COALESCE(f.fifo_open_cost, CAST(0 AS DECIMAL(38, 6))) AS fifo_open_cost
FROM legs_matched l
LEFT JOIN fifo_open_cost f ON l.seq = f.seq AND l.leg_no = f.leg_no;
