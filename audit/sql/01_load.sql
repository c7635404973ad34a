-- Independent full recompute, step 1: load a bundle's files as typed tables (DuckDB reads the files
-- itself). Prices are integer micro-units (HUGEINT, 1e-6), rates 1e-8 units, money cents.
CREATE OR REPLACE MACRO micro(x) AS CAST(round(CAST(x AS DECIMAL(38, 6)) * 1000000) AS HUGEINT);
CREATE OR REPLACE MACRO rate_u(x) AS CAST(round(CAST(x AS DECIMAL(38, 8)) * 100000000) AS HUGEINT);
CREATE OR REPLACE MACRO cents(x) AS CAST(round(CAST(x AS DECIMAL(38, 2)) * 100) AS HUGEINT);
-- Round(n / d) half away from zero on integers, d > 0.
CREATE OR REPLACE MACRO div_half_up(n, d) AS sign(n) * ((abs(n) * 2 + d) // (d * 2));

CREATE TABLE products AS
SELECT product, kind, NULLIF(underlying, '') AS underlying, CAST(multiplier AS BIGINT) AS mult, micro(tick) AS tick,
       CAST(settle_decimals AS INTEGER) AS sdp, rate_u(limit_pct) AS limit_pct, NULLIF(margin_group, '') AS margin_group,
       session, fee_basis, rate_u(fee_open) AS fee_open, rate_u(fee_close) AS fee_close,
       rate_u(fee_close_today) AS fee_close_today, delivery_fee_basis, rate_u(delivery_fee) AS delivery_fee,
       cents(exercise_fee) AS exercise_fee, decl_scope, rate_u(decl_otr_threshold) AS otr_threshold,
       rate_u(NULLIF(option_k, '')) AS option_k, rate_u(NULLIF(option_m, '')) AS option_m
FROM read_csv('{bundle}/reference/products.csv', all_varchar = true, header = true);

CREATE TABLE tiers AS
SELECT product, CAST(above_msgs AS BIGINT) AS above_msgs, CAST(NULLIF(up_to_msgs, '') AS BIGINT) AS up_to_msgs,
       cents(rate_low_otr) AS rate_low, cents(rate_high_otr) AS rate_high
FROM read_csv('{bundle}/reference/declaration_tiers.csv', all_varchar = true, header = true);

CREATE TABLE accounts AS
SELECT account_id, member_id FROM read_csv('{bundle}/reference/accounts.csv', all_varchar = true, header = true);

CREATE TABLE margin_rates AS
SELECT instrument_id, hedge_flag, rate_u(long_rate) AS long_rate, rate_u(short_rate) AS short_rate
FROM read_csv('{bundle}/reference/margin_rates.csv', all_varchar = true, header = true);

CREATE TABLE opening_positions AS
SELECT account_id, instrument_id, hedge_flag, CAST(long_qty AS BIGINT) AS long_qty, CAST(short_qty AS BIGINT) AS short_qty
FROM read_csv('{bundle}/opening/positions.csv', all_varchar = true, header = true);

CREATE TABLE opening_balances AS
SELECT account_id, cents(balance) AS balance FROM read_csv('{bundle}/opening/balances.csv', all_varchar = true, header = true);

CREATE TABLE instruments AS
WITH i AS (SELECT * FROM read_csv('{bundle}/reference/instruments.csv', all_varchar = true, header = true)),
     s AS (SELECT * FROM read_csv('{bundle}/opening/settlement_prices.csv', all_varchar = true, header = true)),
     f AS (SELECT * FROM read_csv('{bundle}/reference/final_settlement_prices.csv', all_varchar = true, header = true)),
     u AS (SELECT * FROM read_csv('{bundle}/reference/underlyings.csv', all_varchar = true, header = true)
           WHERE trading_day = '{day}')
SELECT i.instrument_id, p.*, CAST(i.last_trading_day AS DATE) AS ltd,
       CAST(i.last_trading_day AS DATE) = DATE '{day}' AS is_last, CAST(i.last_trading_day AS DATE) < DATE '{day}' AS is_expired,
       p.kind = 'INDEX_OPTION' AS is_option, NULLIF(i.option_type, '') AS option_type, micro(NULLIF(i.strike, '')) AS strike,
       COALESCE(micro(s.settle_price), micro(i.listing_price)) AS prev_settle, micro(f.final_settlement_price) AS final_price,
       micro(u.prev_close) AS u_prev, micro(u.close) AS u_close
FROM i JOIN products p USING (product)
LEFT JOIN s USING (instrument_id) LEFT JOIN f USING (instrument_id) LEFT JOIN u ON u.underlying = p.underlying;

CREATE TABLE trades AS
SELECT CAST(seq AS BIGINT) AS seq, ts, trade_id, instrument_id, micro(price) AS price, CAST(qty AS BIGINT) AS qty,
       buy_order_id, buy_account_id, buy_offset, buy_hedge_flag, sell_order_id, sell_account_id, sell_offset, sell_hedge_flag
FROM {trades_source};

CREATE TABLE orders AS
SELECT CAST(seq AS BIGINT) AS seq, event, order_id, account_id, instrument_id FROM {orders_source};

CREATE TABLE fund_movements AS
SELECT account_id, direction, cents(amount) AS amount FROM {fund_movements_source};
