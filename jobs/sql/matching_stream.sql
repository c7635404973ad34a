-- The §5.1 matchings of the streaming run: match_legs (src/main/java/dev/dayclear/flink/MatchLegs.java)
-- walks each position side's legs in arrival order, which is seq order with the buy leg first: one
-- instrument's trades keep their order in one partition (DATA_CONTRACT, topics), the UNNEST of
-- views.sql makes a trade's legs in leg_no order, and the job runs at parallelism 1. The same output
-- as matching.sql's legs_costed, append-only, with state per side of its totals and open lots only.
-- This file is one query, registered as legs_costed from its plan (jobs/preaggregate.py): a SQL view
-- would be re-parsed from text that drops the parentheses of the PARTITION BY list.
SELECT * FROM match_legs(
  leg => TABLE legs PARTITION BY (account_id, instrument_id, hedge_flag, pos_side), uid => 'match_legs')
