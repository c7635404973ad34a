"""Hand-made day bundles for tests: a few lines of domain data, written as the bundle files."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from devtools.simulator import write_csv
from schemas.registry import header


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
        write_csv(ref / "holidays.csv", header("holidays"), [])
        write_csv(ref / "products.csv", header("products"), self.products)
        write_csv(
            ref / "declaration_tiers.csv",
            header("declaration_tiers"),
            [],
        )
        write_csv(
            ref / "instruments.csv",
            header("instruments"),
            self.instruments,
        )
        write_csv(
            ref / "margin_rates.csv",
            header("margin_rates"),
            self.margin_rates,
        )
        members = sorted({m for _, m in self.accounts})
        write_csv(ref / "members.csv", header("members"), [[m, f"Member {m}"] for m in members])
        write_csv(
            ref / "accounts.csv",
            header("accounts"),
            [[a, m, "CLIENT"] for a, m in self.accounts],
        )
        write_csv(
            ref / "underlyings.csv",
            header("underlyings"),
            self.underlyings,
        )
        write_csv(
            ref / "final_settlement_prices.csv",
            header("final_settlement_prices"),
            self.finals,
        )
        write_csv(
            op / "positions.csv",
            header("opening_positions"),
            self.positions,
        )
        write_csv(
            op / "balances.csv",
            header("opening_balances"),
            [[a, b] for a, b in sorted(self.balances.items())],
        )
        write_csv(
            op / "settlement_prices.csv",
            header("opening_settlement_prices"),
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
            header("orders"),
            [[self.day, n, *o] for n, o in enumerate(orders, 1)],
        )
        write_csv(
            ev / "trades.csv",
            header("trades"),
            trades,
        )
        write_csv(
            ev / "fund_movements.csv",
            header("fund_movements"),
            [
                [self.day, n, f"{self.day}T{t}.000000", f"F{n}", a, d, amt]
                for n, (t, a, d, amt) in enumerate(self.deposits, 1)
            ],
        )
        return bundle


def index_future(
    product: str, multiplier: int, underlying: str = "", delivery_fee: str = "0"
) -> list[object]:
    """An index-future product row with no trading and no declaration fees (the worked example's),
    optionally with a RATIO delivery fee."""
    return [
        product,
        "INDEX_FUTURE",
        underlying,
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
        delivery_fee,
        "0.00",
        "NONE",
        "2",
        None,
        None,
    ]
