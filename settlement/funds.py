"""Funds (SETTLEMENT_RULES §10), per account:

    balance = balance_{D-1} + deposits − withdrawals + Σ total_mtm + premium_received − premium_paid
              + exercise_cash − trading_fees − declaration_fees − delivery_and_exercise_fees
    available = balance − margin
    margin_call = max(0, −available)

All amounts here are integer cents (``*_c``).
"""

from __future__ import annotations

import polars as pl

from settlement.numbers import MONEY_SCALE, ZERO, units

FUNDS_CENTS = [
    "balance_prev",
    "deposits",
    "withdrawals",
    "total_mtm",
    "close_pnl",
    "position_mtm",
    "premium_received",
    "premium_paid",
    "exercise_cash",
    "trading_fees",
    "declaration_fees",
    "delivery_exercise_fees",
]


def funds(
    balances: pl.DataFrame,
    movements: pl.DataFrame,
    positions: pl.DataFrame,
    leg_sums: pl.DataFrame,
    declaration_fees: pl.DataFrame,
    margins: pl.DataFrame,
) -> pl.DataFrame:
    """One row per account with a balance or any activity on D."""
    parts = [
        balances.select("account_id", units(pl.col("balance"), MONEY_SCALE).alias("balance_prev")),
        movements.select(
            "account_id",
            units(pl.col("deposits"), MONEY_SCALE).alias("deposits"),
            units(pl.col("withdrawals"), MONEY_SCALE).alias("withdrawals"),
        ),
        positions.group_by("account_id").agg(
            pl.col("total_mtm_c").sum().alias("total_mtm"),
            pl.col("close_pnl_c").sum().alias("close_pnl"),
            pl.col("position_mtm_c").sum().alias("position_mtm"),
            pl.col("exercise_cash_c").sum().alias("exercise_cash"),
            pl.col("delivery_exercise_fee_c").sum().alias("delivery_exercise_fees"),
        ),
        leg_sums.group_by("account_id").agg(
            pl.col("premium_received_c").sum().alias("premium_received"),
            pl.col("premium_paid_c").sum().alias("premium_paid"),
            pl.col("fee_c").sum().alias("trading_fees"),
        ),
        declaration_fees.group_by("account_id").agg(
            pl.col("fee_c").sum().alias("declaration_fees")
        ),
        margins.select("account_id", pl.col("margin_c").alias("margin")),
    ]
    accounts = pl.concat([p.select("account_id") for p in parts]).unique()
    frame = accounts
    for part in parts:
        frame = frame.join(part, on="account_id", how="left")
    frame = frame.with_columns(pl.col([*FUNDS_CENTS, "margin"]).cast(pl.Int128).fill_null(0))
    balance = (
        pl.col("balance_prev")
        + pl.col("deposits")
        - pl.col("withdrawals")
        + pl.col("total_mtm")
        + pl.col("premium_received")
        - pl.col("premium_paid")
        + pl.col("exercise_cash")
        - pl.col("trading_fees")
        - pl.col("declaration_fees")
        - pl.col("delivery_exercise_fees")
    )
    frame = frame.with_columns(balance.alias("balance"))
    frame = frame.with_columns((pl.col("balance") - pl.col("margin")).alias("available"))
    return frame.with_columns(
        pl.max_horizontal(ZERO - pl.col("available"), ZERO).alias("margin_call")
    ).sort("account_id")
