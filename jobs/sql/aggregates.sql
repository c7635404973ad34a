-- The frozen pre-aggregates of the day; one INSERT per table of schemas/files/aggregates.json.
INSERT INTO agg_legs
SELECT l.trading_day, l.seq, l.leg_no, l.ts, l.trade_id, l.order_id, l.account_id, l.instrument_id, l.side,
       l.`offset`, l.hedge_flag, CAST(l.price AS STRING), l.qty, l.close_today_qty, l.fifo_prev_qty,
       CAST(l.fifo_open_cost AS STRING), l.position_after
FROM legs_costed l;

INSERT INTO agg_instrument_minutes
SELECT instrument_id,
       CASE WHEN trading_micros < 0 THEN CAST(-1 AS BIGINT) ELSE trading_micros / 60000000 END,
       COUNT(*), SUM(qty), CAST(SUM(price * qty) AS STRING)
FROM trades_timed
GROUP BY instrument_id, CASE WHEN trading_micros < 0 THEN CAST(-1 AS BIGINT) ELSE trading_micros / 60000000 END;

INSERT INTO agg_instrument_day
SELECT instrument_id, n_trades, volume, CAST(pq AS STRING), CAST(open_price AS STRING),
       CAST(high AS STRING), CAST(low AS STRING), CAST(close_price AS STRING), first_seq, last_seq,
       last_trading_micros
FROM instrument_day_ends;

-- Per (account, instrument): order messages (NEW, CANCEL) and distinct orders executed (§8.2), in one
-- aggregation over both inputs (a join of two aggregations would retract at every order message).
INSERT INTO agg_declarations
SELECT account_id, instrument_id,
       SUM(CASE WHEN order_id IS NULL THEN CAST(1 AS BIGINT) ELSE CAST(0 AS BIGINT) END),
       COUNT(DISTINCT order_id)
FROM (
  SELECT account_id, instrument_id, CAST(NULL AS STRING) AS order_id FROM orders
  WHERE event IN ('NEW', 'CANCEL')
  UNION ALL
  SELECT account_id, instrument_id, order_id FROM legs
) GROUP BY account_id, instrument_id;

INSERT INTO agg_funds
SELECT account_id,
       CAST(SUM(CASE WHEN direction = 'DEPOSIT' THEN amount ELSE CAST(0 AS DECIMAL(20, 2)) END) AS STRING),
       CAST(SUM(CASE WHEN direction = 'WITHDRAWAL' THEN amount ELSE CAST(0 AS DECIMAL(20, 2)) END) AS STRING),
       COUNT(*)
FROM fund_movements GROUP BY account_id;

INSERT INTO agg_control
SELECT 'orders', COUNT(*), {distinct_seq}, MIN(seq), MAX(seq) FROM orders
UNION ALL SELECT 'trades', COUNT(*), {distinct_seq}, MIN(seq), MAX(seq) FROM trades
UNION ALL SELECT 'fund_movements', COUNT(*), {distinct_seq}, MIN(seq), MAX(seq) FROM fund_movements;

INSERT INTO agg_dead_letters
SELECT source_topic, source_partition, source_offset, seq, `reason`, `field`, `raw` FROM dead_letters;
