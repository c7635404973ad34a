-- Independent full recompute, step 2: SETTLEMENT_RULES §3-§10 from the raw events, in SQL.
-- Shares no rule code with settlement/ (different algorithms on purpose: an arithmetic window number
-- for §3, a recursive walk for close-today-first and lot expansion for FIFO, §5.1).
CREATE OR REPLACE MACRO fdiv(n, d) AS CASE WHEN n >= 0 THEN n // d ELSE -((-n + d - 1) // d) END;
CREATE OR REPLACE MACRO cdiv(n, d) AS -fdiv(-n, d);
CREATE OR REPLACE MACRO pow10(n) AS CAST(CASE n WHEN 0 THEN 1 WHEN 1 THEN 10 WHEN 2 THEN 100 WHEN 3 THEN 1000
  WHEN 4 THEN 10000 WHEN 5 THEN 100000 WHEN 6 THEN 1000000 END AS HUGEINT);

-- §2: trading time, µs since the open; NULL outside the hours.
CREATE TABLE trade_times AS
SELECT t.*, CASE WHEN us BETWEEN 34200000000 AND 41400000000 THEN us - 34200000000
                 WHEN us >= 46800000000 THEN us - 39600000000 END AS tt
FROM (SELECT *, epoch_us(CAST(ts AS TIMESTAMP)) - epoch_us(date_trunc('day', CAST(ts AS TIMESTAMP))) AS us FROM trades) t;

-- §4 limits.
CREATE TABLE limits AS
SELECT instrument_id,
  CASE WHEN is_option THEN fdiv(prev_settle * 100000000 + limit_pct * u_prev, tick * 100000000) * tick
       ELSE fdiv(prev_settle * (100000000 + pct), tick * 100000000) * tick END AS limit_up,
  CASE WHEN is_option THEN greatest(tick, cdiv(prev_settle * 100000000 - limit_pct * u_prev, tick * 100000000) * tick)
       ELSE cdiv(prev_settle * (100000000 - pct), tick * 100000000) * tick END AS limit_down
FROM (SELECT *, CASE WHEN kind = 'INDEX_FUTURE' AND is_last THEN 2 * limit_pct ELSE limit_pct END AS pct FROM instruments);

-- §3.1-3.3: window k = ceil((close − t) / 60 min), at least 1; the first window holding a trade, or
-- the whole day when the last trade came less than 60 trading minutes after the open.
CREATE TABLE vwaps AS
WITH w AS (
  SELECT t.instrument_id, t.price, t.qty, i.sdp,
         greatest(1, cdiv((CASE i.session WHEN 'BOND' THEN 15300000000 ELSE 14400000000 END) - t.tt, 3600000000)) AS k,
         max(t.tt) OVER (PARTITION BY t.instrument_id) AS last_tt
  FROM trade_times t JOIN instruments i USING (instrument_id)
), chosen AS (
  SELECT *, min(k) OVER (PARTITION BY instrument_id) AS first_k FROM w
)
SELECT instrument_id,
  div_half_up(sum(price * qty), sum(qty) * pow10(6 - any_value(sdp))) * pow10(6 - any_value(sdp)) AS vwap,
  CASE WHEN any_value(last_tt) < 3600000000 THEN 'VWAP_DAY' WHEN any_value(first_k) = 1 THEN 'VWAP_LAST_HOUR'
       ELSE 'VWAP_EARLIER_WINDOW' END AS source
FROM chosen WHERE last_tt < 3600000000 OR k = first_k
GROUP BY instrument_id;

-- §3.4-3.6, §9: every listed instrument's settlement price.
CREATE TABLE prices AS
WITH base AS (
  SELECT i.*, l.limit_up, l.limit_down, v.vwap, v.source FROM instruments i
  JOIN limits l USING (instrument_id) LEFT JOIN vwaps v USING (instrument_id) WHERE NOT i.is_expired
), bench AS (
  SELECT u.instrument_id, arg_min(b.vwap - b.prev_settle, abs(date_diff('day', u.ltd, b.ltd)) * 100000 + date_diff('day', DATE '2000-01-01', b.ltd)) AS change
  FROM base u JOIN base b ON b.product = u.product AND b.vwap IS NOT NULL AND NOT b.is_last AND NOT b.is_option
  WHERE u.vwap IS NULL AND NOT u.is_option AND NOT u.is_last
  GROUP BY u.instrument_id
)
SELECT base.*, bench.change,
  CASE
    WHEN is_last AND NOT is_option THEN final_price
    WHEN is_last THEN div_half_up(greatest(CASE option_type WHEN 'C' THEN final_price - strike ELSE strike - final_price END, 0),
                                  pow10(6 - sdp)) * pow10(6 - sdp)
    WHEN vwap IS NOT NULL THEN vwap
    WHEN is_option THEN prev_settle
    ELSE least(limit_up, greatest(limit_down, prev_settle + COALESCE(bench.change, 0)))
  END AS settle,
  CASE WHEN is_last THEN 'FINAL' WHEN vwap IS NOT NULL THEN source
       WHEN NOT is_option AND bench.change IS NOT NULL THEN 'BENCHMARK' ELSE 'PREVIOUS' END AS price_source
FROM base LEFT JOIN bench USING (instrument_id);

-- §5: legs; pos_side L for BUY OPEN / SELL CLOSE, S for SELL OPEN / BUY CLOSE.
CREATE TABLE legs AS
SELECT *, CASE WHEN (side = 'BUY') = ("offset" = 'OPEN') THEN 'L' ELSE 'S' END AS pos_side,
       row_number() OVER (PARTITION BY account_id, instrument_id, hedge_flag,
                          CASE WHEN (side = 'BUY') = ("offset" = 'OPEN') THEN 'L' ELSE 'S' END ORDER BY seq, leg_no) AS rn
FROM (
  SELECT seq, 0 AS leg_no, ts, trade_id, buy_order_id AS order_id, buy_account_id AS account_id, instrument_id, 'BUY' AS side,
         buy_offset AS "offset", buy_hedge_flag AS hedge_flag, price, qty FROM trades
  UNION ALL
  SELECT seq, 1, ts, trade_id, sell_order_id, sell_account_id, instrument_id, 'SELL', sell_offset, sell_hedge_flag, price, qty FROM trades
);

CREATE TABLE side_prev AS
SELECT account_id, instrument_id, hedge_flag, 'L' AS pos_side, long_qty AS prev FROM opening_positions
UNION ALL SELECT account_id, instrument_id, hedge_flag, 'S', short_qty FROM opening_positions;

-- §5.1 close-today-first and the position after each leg: a recursive walk in seq order.
CREATE TABLE walked AS
WITH RECURSIVE walk AS (
  SELECT l.account_id, l.instrument_id, l.hedge_flag, l.pos_side, l.rn, l.seq, l.leg_no,
         CASE WHEN l."offset" = 'OPEN' THEN l.qty ELSE 0 END AS today_open,
         CAST(0 AS BIGINT) AS ctq,
         COALESCE(p.prev, 0) + CASE WHEN l."offset" = 'OPEN' THEN l.qty ELSE -l.qty END AS pos
  FROM legs l LEFT JOIN side_prev p USING (account_id, instrument_id, hedge_flag, pos_side) WHERE l.rn = 1
  UNION ALL
  SELECT n.account_id, n.instrument_id, n.hedge_flag, n.pos_side, n.rn, n.seq, n.leg_no,
         CASE WHEN n."offset" = 'OPEN' THEN w.today_open + n.qty ELSE w.today_open - least(n.qty, w.today_open) END,
         CASE WHEN n."offset" = 'OPEN' THEN 0 ELSE least(n.qty, w.today_open) END,
         w.pos + CASE WHEN n."offset" = 'OPEN' THEN n.qty ELSE -n.qty END
  FROM walk w JOIN legs n ON n.account_id = w.account_id AND n.instrument_id = w.instrument_id
   AND n.hedge_flag = w.hedge_flag AND n.pos_side = w.pos_side AND n.rn = w.rn + 1
)
SELECT seq, leg_no, ctq AS close_today_qty, pos AS position_after FROM walk;

-- §5.1 FIFO by lot expansion: close lot j of a side is matched with supply lot j, where supply is
-- the D-1 lots (priced at S0) followed by D's open lots in opening order.
CREATE TABLE fifo_close AS
WITH close_lots AS (
  SELECT account_id, instrument_id, hedge_flag, pos_side, price,
         sum(qty) OVER (PARTITION BY account_id, instrument_id, hedge_flag, pos_side ORDER BY seq, leg_no) - qty
           + unnest(range(qty)) AS lot
  FROM legs WHERE "offset" = 'CLOSE'
), open_lots AS (
  SELECT l.account_id, l.instrument_id, l.hedge_flag, l.pos_side, l.price,
         COALESCE(p.prev, 0) + sum(l.qty) OVER (PARTITION BY l.account_id, l.instrument_id, l.hedge_flag, l.pos_side
                                                ORDER BY l.seq, l.leg_no) - l.qty + unnest(range(l.qty)) AS lot
  FROM legs l LEFT JOIN side_prev p USING (account_id, instrument_id, hedge_flag, pos_side) WHERE l."offset" = 'OPEN'
), prev_lots AS (
  SELECT p.account_id, p.instrument_id, p.hedge_flag, p.pos_side, i.prev_settle AS price, unnest(range(p.prev)) AS lot
  FROM side_prev p JOIN instruments i USING (instrument_id) WHERE p.prev > 0
), supply AS (SELECT * FROM open_lots UNION ALL SELECT * FROM prev_lots)
SELECT c.account_id, c.instrument_id, c.hedge_flag,
       sum(CASE c.pos_side WHEN 'L' THEN c.price - s.price ELSE s.price - c.price END) AS close_value
FROM close_lots c JOIN supply s USING (account_id, instrument_id, hedge_flag, pos_side, lot)
GROUP BY ALL;
