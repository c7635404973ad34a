"""Test doubles and days for the feed's tests (tests/test_feed.py, tests/test_feed_in_chunks.py)."""

from __future__ import annotations

from datetime import datetime

import polars as pl


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class FakeProducer:
    """Takes ``cost_s`` of the fake clock per record; ``slow`` records take a whole ``stall_s``."""

    def __init__(self, clock: FakeClock, cost_s: float, slow: int = -1, stall_s: float = 0) -> None:
        self.clock, self.cost_s, self.slow, self.stall_s = clock, cost_s, slow, stall_s
        self.sent: list[tuple[float, str, str | bytes | None, str | bytes | None]] = []

    def produce(
        self, topic: str, value: str | bytes | None = None, key: str | bytes | None = None
    ) -> None:
        self.sent.append((self.clock.now, topic, key, value))
        self.clock.now += self.stall_s if len(self.sent) == self.slow else self.cost_s

    def poll(self, timeout: float = 0) -> int:
        return 0

    def flush(self, timeout: float = 0) -> int:
        return 0


def late_stamped(events: dict[str, pl.DataFrame]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Orders 1..3 stamped 09:30:00, :02 and :01 (the third from a slower gateway) and a trade at
    :01.5, from a simulated day's rows: the feed sends order 1, the trade, then orders 2 and 3."""
    at = [datetime(2026, 11, 23, 9, 30, s) for s in (0, 2, 1)]
    orders = events["orders"].head(3).with_columns(pl.Series("ts", at), pl.Series("seq", [1, 2, 3]))
    trades = (
        events["trades"]
        .head(1)
        .with_columns(
            pl.lit(datetime(2026, 11, 23, 9, 30, 1, 500_000)).alias("ts"),
            pl.lit(1, pl.Int64).alias("seq"),
        )
    )
    return orders, trades
