"""``match_legs`` (src/main/java/dev/dayclear/flink/MatchLegs.java), the streaming §5.1 matchings,
on legs worked out by hand, in a Flink mini-cluster (SETTLEMENT_RULES §5.1: close-today-first for
close_today_qty; FIFO with the D-1 position first for the realised cost).

The long side of (A1, IF2612, SPEC) opens the day with 5 lots held from D-1:

| leg | offset | qty @ price | close_today | fifo_prev | fifo_open_cost | position |
|---|---|---|---:|---:|---:|---:|
| 1 | OPEN  | 3 @ 100 | 0 | 0 | 0 | 8 |
| 2 | CLOSE | 4 @ 110 | 3 (the 3 opened today) | 4 (of the 5 held) | 0 | 4 |
| 3 | CLOSE | 3 @ 105 | 0 (none left from today) | 1 (the last held) | 2 × 100 = 200 | 1 |
| 4 | OPEN  | 2 @ 120 | 0 | 0 | 0 | 3 |
| 5 | CLOSE | 3 @ 125 | 2 (the 2 opened at 120) | 0 | 1 × 100 + 2 × 120 = 340 | 0 |

The short side of (A2, IF2612, HEDGE) holds nothing from D-1: it opens 2 @ 50, then closes 1 @ 45
(close_today 1, fifo_prev 0, cost 1 × 50 = 50, position 1).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from jobs.preaggregate import MATCH_FUNCTION
from jobs.streaming import kafka_jars

pytestmark = pytest.mark.slow

LEGS = [
    # seq, account, instrument, hedge, side, open_qty, close_qty, price
    (1, "A1", "IF2612", "SPEC", "LONG", 3, 0, "100"),
    (2, "A2", "IF2612", "HEDGE", "SHORT", 2, 0, "50"),
    (3, "A1", "IF2612", "SPEC", "LONG", 0, 4, "110"),
    (4, "A1", "IF2612", "SPEC", "LONG", 0, 3, "105"),
    (5, "A2", "IF2612", "HEDGE", "SHORT", 0, 1, "45"),
    (6, "A1", "IF2612", "SPEC", "LONG", 2, 0, "120"),
    (7, "A1", "IF2612", "SPEC", "LONG", 0, 3, "125"),
]
EXPECTED = {  # seq: (close_today_qty, fifo_prev_qty, fifo_open_cost, position_after)
    1: (0, 0, Decimal("0"), 8),
    3: (3, 4, Decimal("0"), 4),
    4: (0, 1, Decimal("200"), 1),
    6: (0, 0, Decimal("0"), 3),
    7: (2, 0, Decimal("340"), 0),
    2: (0, 0, Decimal("0"), 2),
    5: (1, 0, Decimal("50"), 1),
}


def test_match_legs_gives_the_hand_worked_matchings(tmp_path: Path) -> None:
    from pyflink.table import EnvironmentSettings, TableEnvironment

    (tmp_path / "opening_positions.csv").write_text("A1,IF2612,SPEC,5,0\n")
    env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    conf = env.get_config()
    conf.set("pipeline.jars", kafka_jars())
    conf.set("parallelism.default", "1")
    conf.set("pipeline.global-job-parameters", f"dayclear.staging:{tmp_path}")
    env.execute_sql(MATCH_FUNCTION)
    rows = ", ".join(
        f"({seq}, '{a}', '{i}', '{h}', '{s}', CAST({o} AS BIGINT), CAST({c} AS BIGINT),"
        f" CAST({p} AS DECIMAL(20, 6)))"
        for seq, a, i, h, s, o, c, p in LEGS
    )
    env.execute_sql(
        f"CREATE TEMPORARY VIEW legs AS SELECT * FROM (VALUES {rows})"
        " AS t(seq, account_id, instrument_id, hedge_flag, pos_side, open_qty, close_qty, price)"
    )
    result = env.sql_query(
        "SELECT seq, close_today_qty, fifo_prev_qty, fifo_open_cost, position_after FROM match_legs("
        "leg => TABLE legs PARTITION BY (account_id, instrument_id, hedge_flag, pos_side),"
        " uid => 'match_legs')"
    )
    with result.execute().collect() as rows_out:
        got = {r[0]: (r[1], r[2], Decimal(r[3]).normalize(), r[4]) for r in rows_out}
    expected = {k: (a, b, c.normalize(), d) for k, (a, b, c, d) in EXPECTED.items()}
    assert got == expected
