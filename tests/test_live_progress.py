"""The demo's live line (devtools/live_progress.py): its pure parts, with numbers worked by hand."""

from __future__ import annotations

import io
from datetime import datetime

from devtools.live_progress import (
    ProgressLine,
    Reading,
    clock_text,
    live_line,
    play_rate,
    records_behind,
)
from jobs.kafka_io import FeedProgress

ENDS = {"orders": {0: 100, 1: 50}, "trades": {0: 30}, "fund_movements": {0: 7}}


def test_records_behind_counts_what_the_group_has_not_committed() -> None:
    committed = {("orders", 0): 90, ("orders", 1): 50, ("trades", 0): 25}
    # orders 10 + 0, trades 5; fund_movements not read by this job
    assert records_behind(ENDS, committed, {}, ("orders", "trades")) == 15


def test_a_partition_without_a_commit_counts_from_where_the_job_started() -> None:
    committed = {("orders", 0): 100}
    starts = {"orders": {1: 20}, "fund_movements": {0: 2}}
    # orders[1]: 50 - 20 (started at 20), trades[0]: 30 - 0, fund_movements[0]: 7 - 2
    assert records_behind(ENDS, committed, starts, ("orders", "trades", "fund_movements")) == 65


def test_a_commit_past_the_end_read_is_not_negative_lag() -> None:
    # the end offsets were read a moment before the committed offsets
    assert records_behind({"trades": {0: 30}}, {("trades", 0): 34}, {}, ("trades",)) == 0


def test_the_clock_is_exchange_time_to_the_second() -> None:
    assert clock_text(datetime(2026, 11, 23, 9, 30, 0, 999_999)) == "09:30:00"
    assert clock_text(None) == "--:--:--"


def test_the_live_line() -> None:
    progress = FeedProgress(datetime(2026, 11, 23, 10, 42, 17, 500), 42_118, 84_112, 60.0)
    lags = {"pre-aggregation": 1_204, "surveillance": 0}
    assert live_line(progress, 700.6, lags, 17) == (
        "clock 10:42:17  701 events/s  42,118 of 84,112 sent  "
        "lag pre-aggregation 1,204, surveillance 0  alerts 17"
    )


def test_the_live_line_before_the_first_reading() -> None:
    progress = FeedProgress(None, 0, 84_112, 0.0)
    line = live_line(progress, 0.0, {"pre-aggregation": None}, None)
    assert line == "clock --:--:--  0 events/s  0 of 84,112 sent  lag pre-aggregation ?  alerts ?"


def test_the_default_day_plays_in_about_two_minutes() -> None:
    assert play_rate(84_000) == 700.0  # 84,000 events / 120 s
    assert play_rate(60) == 1.0  # never slower than an event a second


class _Status:
    """Stands for LiveStatus: a fixed reading."""

    reading = Reading({"surveillance": 3}, 2)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_the_line_is_redrawn_in_place_and_ends_the_line_at_the_end() -> None:
    out = _Terminal()
    show = ProgressLine(_Status(), out)  # type: ignore[arg-type]
    show(FeedProgress(datetime(2026, 11, 23, 9, 30, 1), 500, 1000, 1.0))
    show(FeedProgress(datetime(2026, 11, 23, 15, 0, 0), 1000, 1000, 2.0))
    first, last = out.getvalue().split("\r")[1:]
    assert "500 events/s" in first and "500 of 1,000" in first  # 500 events in 1 s
    assert last.startswith("clock 15:00:00  500 events/s  1,000 of 1,000 sent")
    assert last.endswith("alerts 2\n") and "\n" not in first


def test_in_a_log_it_writes_plain_lines_every_few_seconds() -> None:
    out = io.StringIO()
    show = ProgressLine(_Status(), out, every_s=3600)  # type: ignore[arg-type]
    for sent in (100, 200, 300):
        show(FeedProgress(datetime(2026, 11, 23, 9, 30), sent, 1000, sent / 100))
    show(FeedProgress(datetime(2026, 11, 23, 15, 0), 1000, 1000, 10.0))
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    assert [line.split("  ")[2] for line in lines] == ["100 of 1,000 sent", "1,000 of 1,000 sent"]
