"""Hand-made day bundles for tests: a few lines of domain data, written as the bundle files."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

PRODUCT_HEADER = [
    "product",
    "kind",
    "underlying",
    "multiplier",
    "tick",
    "settle_decimals",
    "limit_pct",
    "margin_group",
    "session",
    "fee_basis",
    "fee_open",
    "fee_close",
    "fee_close_today",
    "delivery_fee_basis",
    "delivery_fee",
    "exercise_fee",
    "decl_scope",
    "decl_otr_threshold",
    "option_k",
    "option_m",
]


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(["" if v is None else v for v in r] for r in rows)


@dataclass
class Day:
    """One trading day. Trades are (time, instrument, price, qty, buyer, buy_offset, seller, sell_offset)."""

    day: str
    products: list[list[object]] = field(default_factory=list)
    instruments: list[list[object]] = field(default_factory=list)
    margin_rates: list[list[object]] = field(default_factory=list)
    accounts: list[tuple[str, str]] = field(default_factory=list)
    prev_settle: dict[str, str] = field(default_factory=dict)
    positions: list[list[object]] = field(default_factory=list)
    balances: dict[str, str] = field(default_factory=dict)
    trades: list[tuple[str, str, str, int, str, str, str, str]] = field(default_factory=list)
    deposits: list[tuple[str, str, str, str]] = field(
        default_factory=list
    )  # (time, account, direction, amount)
    orders_extra: list[list[object]] = field(default_factory=list)
    underlyings: list[list[object]] = field(default_factory=list)
    finals: list[list[object]] = field(default_factory=list)

    def write(self, bundle: Path) -> Path:
        ref, op, ev = bundle / "reference", bundle / "opening", bundle / "events"
        write_csv(ref / "holidays.csv", ["date", "name"], [])
        write_csv(ref / "products.csv", PRODUCT_HEADER, self.products)
        write_csv(
            ref / "declaration_tiers.csv",
            ["product", "above_msgs", "up_to_msgs", "rate_low_otr", "rate_high_otr"],
            [],
        )
        write_csv(
            ref / "instruments.csv",
            [
                "instrument_id",
                "product",
                "last_trading_day",
                "listing_price",
                "option_type",
                "strike",
            ],
            self.instruments,
        )
        write_csv(
            ref / "margin_rates.csv",
            ["instrument_id", "hedge_flag", "long_rate", "short_rate"],
            self.margin_rates,
        )
        members = sorted({m for _, m in self.accounts})
        write_csv(ref / "members.csv", ["member_id", "name"], [[m, f"Member {m}"] for m in members])
        write_csv(
            ref / "accounts.csv",
            ["account_id", "member_id", "account_type"],
            [[a, m, "CLIENT"] for a, m in self.accounts],
        )
        write_csv(
            ref / "underlyings.csv",
            ["trading_day", "underlying", "prev_close", "close"],
            self.underlyings,
        )
        write_csv(
            ref / "final_settlement_prices.csv",
            ["instrument_id", "final_settlement_price"],
            self.finals,
        )
        write_csv(
            op / "positions.csv",
            ["account_id", "instrument_id", "hedge_flag", "long_qty", "short_qty"],
            self.positions,
        )
        write_csv(
            op / "balances.csv",
            ["account_id", "balance"],
            [[a, b] for a, b in sorted(self.balances.items())],
        )
        write_csv(
            op / "settlement_prices.csv",
            ["instrument_id", "settle_price"],
            [[i, p] for i, p in sorted(self.prev_settle.items())],
        )
        orders, trades = [], []
        for n, (t, ins, price, qty, buyer, boff, seller, soff) in enumerate(self.trades, 1):
            ts = f"{self.day}T{t}.000000"
            bo, so = f"B{n}", f"S{n}"
            orders.append([ts, "NEW", bo, buyer, ins, "BUY", boff, "SPEC", "LIMIT", price, qty])
            orders.append([ts, "NEW", so, seller, ins, "SELL", soff, "SPEC", "LIMIT", price, qty])
            trades.append(
                [
                    self.day,
                    n,
                    ts,
                    f"T{n}",
                    ins,
                    price,
                    qty,
                    bo,
                    buyer,
                    boff,
                    "SPEC",
                    so,
                    seller,
                    soff,
                    "SPEC",
                ]
            )
        orders += self.orders_extra
        orders.sort(key=lambda o: str(o[0]))
        write_csv(
            ev / "orders.csv",
            [
                "trading_day",
                "seq",
                "ts",
                "event",
                "order_id",
                "account_id",
                "instrument_id",
                "side",
                "offset",
                "hedge_flag",
                "order_type",
                "price",
                "qty",
            ],
            [[self.day, n, *o] for n, o in enumerate(orders, 1)],
        )
        write_csv(
            ev / "trades.csv",
            [
                "trading_day",
                "seq",
                "ts",
                "trade_id",
                "instrument_id",
                "price",
                "qty",
                "buy_order_id",
                "buy_account_id",
                "buy_offset",
                "buy_hedge_flag",
                "sell_order_id",
                "sell_account_id",
                "sell_offset",
                "sell_hedge_flag",
            ],
            trades,
        )
        write_csv(
            ev / "fund_movements.csv",
            ["trading_day", "seq", "ts", "movement_id", "account_id", "direction", "amount"],
            [
                [self.day, n, f"{self.day}T{t}.000000", f"F{n}", a, d, amt]
                for n, (t, a, d, amt) in enumerate(self.deposits, 1)
            ],
        )
        return bundle


def no_fee_future(product: str = "XF", multiplier: int = 10, margin: str = "0.05") -> list[object]:
    """An index-future-like product with no fees and no declaration fees (the worked example's)."""
    return [
        product,
        "INDEX_FUTURE",
        "",
        multiplier,
        "0.2",
        1,
        "0.10",
        "IDX",
        "INDEX",
        "RATIO",
        "0",
        "0",
        "0",
        "RATIO",
        "0",
        "0.00",
        "NONE",
        "2",
        None,
        None,
    ]
