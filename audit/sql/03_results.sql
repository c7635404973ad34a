-- Independent full recompute, step 3: per-row results in integer units (cents for money).
CREATE TABLE leg_results AS
SELECT l.*, w.close_today_qty, w.position_after, i.mult, i.is_option, i.fee_basis,
  CASE WHEN l."offset" = 'OPEN' THEN i.fee_open * l.qty
       ELSE i.fee_close_today * w.close_today_qty + i.fee_close * (l.qty - w.close_today_qty) END AS rate_lots,
  div_half_up(l.price * l.qty * i.mult, 10000) AS turnover_c
FROM legs l JOIN walked w USING (seq, leg_no) JOIN instruments i USING (instrument_id);

CREATE TABLE leg_money AS
SELECT *,
  CASE WHEN fee_basis = 'RATIO' THEN div_half_up(rate_lots * price * mult, pow10(6) * pow10(6))
       ELSE div_half_up(rate_lots, 1000000) END AS fee_c,                                   -- §8.1
  CASE WHEN NOT is_option THEN 0 WHEN side = 'BUY' THEN -turnover_c ELSE turnover_c END AS premium_c   -- §9
FROM leg_results;

CREATE TABLE position_rows AS
WITH keys AS (
  SELECT account_id, instrument_id, hedge_flag FROM opening_positions
  UNION SELECT account_id, instrument_id, hedge_flag FROM legs
), sums AS (
  SELECT account_id, instrument_id, hedge_flag,
    sum(CASE WHEN side = 'BUY' AND "offset" = 'OPEN' THEN qty ELSE 0 END) AS buy_open,
    sum(CASE WHEN side = 'SELL' AND "offset" = 'OPEN' THEN qty ELSE 0 END) AS sell_open,
    sum(CASE WHEN side = 'BUY' AND "offset" = 'CLOSE' THEN qty ELSE 0 END) AS buy_close,
    sum(CASE WHEN side = 'SELL' AND "offset" = 'CLOSE' THEN qty ELSE 0 END) AS sell_close,
    sum(CASE side WHEN 'SELL' THEN price * qty ELSE -(price * qty) END) AS cash_pq,
    sum(CASE side WHEN 'BUY' THEN qty ELSE -qty END) AS net_bought
  FROM legs GROUP BY ALL
)
SELECT k.account_id, k.instrument_id, k.hedge_flag,
  COALESCE(o.long_qty, 0) AS long_qty_prev, COALESCE(o.short_qty, 0) AS short_qty_prev,
  COALESCE(o.long_qty, 0) + COALESCE(s.buy_open, 0) - COALESCE(s.sell_close, 0) AS long_qty,
  COALESCE(o.short_qty, 0) + COALESCE(s.sell_open, 0) - COALESCE(s.buy_close, 0) AS short_qty,
  COALESCE(s.cash_pq, 0) AS cash_pq, COALESCE(s.net_bought, 0) AS net_bought, COALESCE(f.close_value, 0) AS close_value,
  p.prev_settle, p.settle, p.mult, p.is_option, p.is_last, p.option_type, p.strike, p.final_price, p.tick, p.u_close,
  p.option_k, p.option_m, p.margin_group, p.delivery_fee_basis, p.delivery_fee, p.exercise_fee, p.sdp,
  r.long_rate, r.short_rate
FROM keys k
LEFT JOIN opening_positions o USING (account_id, instrument_id, hedge_flag)
LEFT JOIN sums s USING (account_id, instrument_id, hedge_flag)
LEFT JOIN fifo_close f USING (account_id, instrument_id, hedge_flag)
LEFT JOIN prices p USING (instrument_id)
LEFT JOIN margin_rates r USING (instrument_id, hedge_flag);

-- §6: Σ_sells (p − S)q + Σ_buys (S − p)q = Σ_sells p q − Σ_buys p q + S × (net bought); then the D-1 term.
CREATE TABLE position_results AS
WITH m AS (
  SELECT *,
    CASE WHEN is_option THEN 0 ELSE div_half_up(mult * (cash_pq + settle * net_bought
         + (prev_settle - settle) * (short_qty_prev - long_qty_prev)), 10000) END AS total_mtm_c,
    CASE WHEN is_option THEN 0 ELSE div_half_up(mult * close_value, 10000) END AS close_pnl_c,
    CASE WHEN is_last THEN 0 ELSE long_qty END AS long_eod, CASE WHEN is_last THEN 0 ELSE short_qty END AS short_eod,
    CASE option_type WHEN 'C' THEN final_price - strike ELSE strike - final_price END AS intrinsic
  FROM position_rows
)
SELECT *, total_mtm_c - close_pnl_c AS position_mtm_c,
  CASE WHEN is_option THEN 0 ELSE div_half_up(settle * mult * long_eod * long_rate, pow10(6) * pow10(6)) END AS long_margin_c,
  CASE WHEN is_option THEN short_eod * div_half_up(
         settle * mult * pow10(6) * pow10(6) * 10000
         + greatest(u_close * mult * option_k * 100000000
                    - greatest(CASE option_type WHEN 'C' THEN (strike - u_close) ELSE (u_close - strike) END * mult, 0)
                      * pow10(6) * pow10(6) * 10000,
                    option_m * CASE option_type WHEN 'C' THEN u_close ELSE strike END * mult * option_k),
         pow10(6) * pow10(6) * pow10(6) * 100)
       ELSE div_half_up(settle * mult * short_eod * short_rate, pow10(6) * pow10(6)) END AS short_margin_c,      -- §7
  CASE WHEN is_last AND is_option AND intrinsic >= tick
       THEN div_half_up(intrinsic * mult * (long_qty - short_qty), 10000) ELSE 0 END AS exercise_cash_c,      -- §9
  CASE WHEN is_last AND NOT is_option AND delivery_fee_basis = 'RATIO'
         THEN div_half_up(delivery_fee * final_price * mult * (long_qty + short_qty), pow10(6) * pow10(6))
       WHEN is_last AND NOT is_option THEN div_half_up(delivery_fee * (long_qty + short_qty), 1000000)
       WHEN is_last AND is_option AND intrinsic >= tick THEN exercise_fee * (long_qty + short_qty)
       ELSE 0 END AS delivery_exercise_fee_c                                                                  -- §8.3
FROM m;

-- §7.1 single larger side per account and margin group, §7.3 plus option margins.
CREATE TABLE account_margin AS
SELECT account_id, sum(margin) AS margin_c FROM (
  SELECT account_id, greatest(sum(long_margin_c), sum(short_margin_c)) AS margin
  FROM position_results WHERE NOT is_option GROUP BY account_id, margin_group
  UNION ALL
  SELECT account_id, sum(short_margin_c) FROM position_results WHERE is_option GROUP BY account_id
) GROUP BY account_id;

-- §8.2 declaration fees per account and scope.
CREATE TABLE declaration_results AS
WITH scoped_orders AS (
  SELECT o.account_id, CASE i.decl_scope WHEN 'INSTRUMENT' THEN o.instrument_id ELSE i.product END AS scope,
         i.product, i.otr_threshold
  FROM orders o JOIN instruments i USING (instrument_id) WHERE i.decl_scope <> 'NONE' AND o.event IN ('NEW', 'CANCEL')
), scoped_fills AS (
  SELECT l.account_id, CASE i.decl_scope WHEN 'INSTRUMENT' THEN l.instrument_id ELSE i.product END AS scope,
         count(DISTINCT l.order_id) AS executed
  FROM legs l JOIN instruments i USING (instrument_id) WHERE i.decl_scope <> 'NONE' GROUP BY ALL
), counts AS (
  SELECT COALESCE(m.account_id, f.account_id) AS account_id, COALESCE(m.scope, f.scope) AS scope,
         COALESCE(m.messages, 0) AS messages, COALESCE(f.executed, 0) AS executed
  FROM (SELECT account_id, scope, count(*) AS messages FROM scoped_orders GROUP BY ALL) m
  FULL JOIN scoped_fills f USING (account_id, scope)
), rated AS (
  SELECT c.*, p.product, p.otr_threshold,
    c.messages * 100000000 <= (p.otr_threshold + 100000000) * greatest(c.executed, 1) AS low_otr
  FROM counts c JOIN (SELECT DISTINCT i.instrument_id AS scope, i.product, i.otr_threshold FROM instruments i
                      UNION SELECT DISTINCT product, product, otr_threshold FROM instruments) p USING (scope)
)
SELECT r.account_id, r.scope, r.messages, r.executed,
  div_half_up(CAST(r.messages - greatest(r.executed, 1) AS HUGEINT) * 10000, greatest(r.executed, 1)) AS otr_4,
  COALESCE(sum(greatest(least(r.messages, COALESCE(t.up_to_msgs, r.messages)) - t.above_msgs, 0)
               * CASE WHEN r.low_otr THEN t.rate_low ELSE t.rate_high END), 0) AS fee_c
FROM rated r LEFT JOIN tiers t ON t.product = r.product
GROUP BY r.account_id, r.scope, r.messages, r.executed, r.low_otr;

-- §10 funds.
CREATE TABLE fund_results AS
WITH ids AS (
  SELECT account_id FROM opening_balances UNION SELECT account_id FROM position_results
  UNION SELECT account_id FROM legs UNION SELECT account_id FROM declaration_results UNION SELECT account_id FROM fund_movements
), f AS (
  SELECT ids.account_id,
    COALESCE(b.balance, 0) AS balance_prev,
    COALESCE((SELECT sum(amount) FROM fund_movements m WHERE m.account_id = ids.account_id AND direction = 'DEPOSIT'), 0) AS deposits,
    COALESCE((SELECT sum(amount) FROM fund_movements m WHERE m.account_id = ids.account_id AND direction = 'WITHDRAWAL'), 0) AS withdrawals,
    COALESCE(p.total_mtm, 0) AS total_mtm, COALESCE(p.close_pnl, 0) AS close_pnl, COALESCE(p.position_mtm, 0) AS position_mtm,
    COALESCE(l.premium_received, 0) AS premium_received, COALESCE(l.premium_paid, 0) AS premium_paid,
    COALESCE(p.exercise_cash, 0) AS exercise_cash, COALESCE(l.trading_fees, 0) AS trading_fees,
    COALESCE(d.declaration_fees, 0) AS declaration_fees, COALESCE(p.delivery_exercise_fees, 0) AS delivery_exercise_fees,
    COALESCE(a.margin_c, 0) AS margin
  FROM ids
  LEFT JOIN opening_balances b USING (account_id)
  LEFT JOIN (SELECT account_id, sum(total_mtm_c) AS total_mtm, sum(close_pnl_c) AS close_pnl, sum(position_mtm_c) AS position_mtm,
                    sum(exercise_cash_c) AS exercise_cash, sum(delivery_exercise_fee_c) AS delivery_exercise_fees
             FROM position_results GROUP BY account_id) p USING (account_id)
  LEFT JOIN (SELECT account_id, sum(greatest(premium_c, 0)) AS premium_received, sum(greatest(-premium_c, 0)) AS premium_paid,
                    sum(fee_c) AS trading_fees FROM leg_money GROUP BY account_id) l USING (account_id)
  LEFT JOIN (SELECT account_id, sum(fee_c) AS declaration_fees FROM declaration_results GROUP BY account_id) d USING (account_id)
  LEFT JOIN account_margin a USING (account_id)
)
SELECT *, balance - margin AS available, greatest(margin - balance, 0) AS margin_call FROM (
  SELECT *, balance_prev + deposits - withdrawals + total_mtm + premium_received - premium_paid + exercise_cash
            - trading_fees - declaration_fees - delivery_exercise_fees AS balance FROM f);
