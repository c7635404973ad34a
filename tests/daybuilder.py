"""Hand-made day bundles for tests: a few lines of domain data, written as the bundle files."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from schemas.registry import EVENT_TOPICS, file_spec, topic_spec


def columns(name: str) -> list[str]:
    """A bundle file's or event topic's header, from ``schemas/``."""
    return topic_spec(name).column_names if name in EVENT_TOPICS else file_spec(name).column_names


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
        write_csv(ref / "holidays.csv", columns("holidays"), [])
        write_csv(ref / "products.csv", columns("products"), self.products)
        write_csv(
            ref / "declaration_tiers.csv",
            columns("declaration_tiers"),
            [],
        )
        write_csv(
            ref / "instruments.csv",
            columns("instruments"),
            self.instruments,
        )
        write_csv(
            ref / "margin_rates.csv",
            columns("margin_rates"),
            self.margin_rates,
        )
        members = sorted({m for _, m in self.accounts})
        write_csv(ref / "members.csv", columns("members"), [[m, f"Member {m}"] for m in members])
        write_csv(
            ref / "accounts.csv",
            columns("accounts"),
            [[a, m, "CLIENT"] for a, m in self.accounts],
        )
        write_csv(
            ref / "underlyings.csv",
            columns("underlyings"),
            self.underlyings,
        )
        write_csv(
            ref / "final_settlement_prices.csv",
            columns("final_settlement_prices"),
            self.finals,
        )
        write_csv(
            op / "positions.csv",
            columns("opening_positions"),
            self.positions,
        )
        write_csv(
            op / "balances.csv",
            columns("opening_balances"),
            [[a, b] for a, b in sorted(self.balances.items())],
        )
        write_csv(
            op / "settlement_prices.csv",
            columns("opening_settlement_prices"),
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
            columns("orders"),
            [[self.day, n, *o] for n, o in enumerate(orders, 1)],
        )
        write_csv(
            ev / "trades.csv",
            columns("trades"),
            trades,
        )
        write_csv(
            ev / "fund_movements.csv",
            columns("fund_movements"),
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
