-- The recompute in the shape of the published files (integer units: cents, micro-prices, otr × 1e4).
CREATE TABLE rc_funds AS
SELECT account_id, balance_prev, deposits, withdrawals, total_mtm, close_pnl, position_mtm, premium_received, premium_paid,
       exercise_cash, trading_fees, declaration_fees, delivery_exercise_fees, balance, margin, available, margin_call
FROM fund_results;
CREATE TABLE rc_positions AS
SELECT account_id, instrument_id, hedge_flag, long_qty_prev, short_qty_prev, long_eod AS long_qty, short_eod AS short_qty,
       prev_settle, settle AS settle_price, long_margin_c AS long_margin, short_margin_c AS short_margin,
       total_mtm_c AS total_mtm, close_pnl_c AS close_pnl, position_mtm_c AS position_mtm
FROM position_results;
CREATE TABLE rc_trades AS
SELECT seq, side, account_id, instrument_id, price, qty, turnover_c AS turnover, close_today_qty, fee_c AS fee, premium_c AS premium
FROM leg_money;
CREATE TABLE rc_declaration_fees AS
SELECT account_id, scope, messages, executed, otr_4 AS otr, fee_c AS fee FROM declaration_results;
CREATE TABLE rc_settlement_prices AS
SELECT p.instrument_id, p.prev_settle, p.settle AS settle_price, p.price_source, p.limit_down, p.limit_up,
       COALESCE(v.volume, 0) AS volume, COALESCE(v.turnover, 0) AS turnover, COALESCE(o.oi, 0) AS open_interest
FROM prices p
LEFT JOIN (SELECT t.instrument_id, sum(t.qty) AS volume, div_half_up(sum(t.price * t.qty) * any_value(i.mult), 10000) AS turnover
           FROM trades t JOIN instruments i USING (instrument_id) GROUP BY t.instrument_id) v USING (instrument_id)
LEFT JOIN (SELECT instrument_id, sum(long_qty) AS oi FROM position_results GROUP BY instrument_id) o USING (instrument_id);
