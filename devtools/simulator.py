"""A seeded, deterministic trading-day generator writing a day bundle (DATA_CONTRACT "A day bundle").

Given a day, a seed and a number of accounts, it writes the day's reference data, an opening state
(positions that balance per instrument, balances, previous settlement prices) and the day's events:
orders (NEW/CANCEL; LIMIT/MARKET/FAK/FOK; SPEC/HEDGE), trades consistent with positions (a close
never exceeds what the account holds at that moment), prices on the tick and within the limits,
activity through the whole session including the last hour, some instruments without trades, and
fund movements. The same arguments always give the same bytes.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path

from devtools.spill_sort import SpillSort
from devtools.universe import (
    DECLARATION_TIERS,
    HOLIDAYS,
    PRODUCTS,
    UNDERLYING_BASE,
    Instrument,
    listed_instruments,
)
from schemas.registry import header
from settlement.calendar import session_length_micros, wall_clock

D = Decimal


@dataclass(frozen=True)
class SimulationConfig:
    day: date
    accounts: int = 2000
    members: int = 150
    trades: int = 4000
    orders_per_trade: int = 20
    seed: int = 7


def _fmt(value: Decimal, places: int) -> str:
    return f"{value.quantize(D(1).scaleb(-places)):f}"


def _at(row: tuple[int, list[object]]) -> int:
    """An event's time in the session (microseconds), its sort key."""
    return row[0]


def _ts(day: date, micros: int) -> str:
    return wall_clock(day, micros).strftime("%Y-%m-%dT%H:%M:%S.%f")


def write_csv(path: Path, header: list[str], rows: Iterable[Sequence[object]]) -> None:
    """A bundle CSV file: one header row, ``\n`` line ends, empty for missing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(["" if v is None else v for v in row] for row in rows)


def write_holidays(path: Path) -> Path:
    """The simulated exchange's ``holidays.csv`` (DATA_CONTRACT) at ``path``."""
    write_csv(path, header("holidays"), [[d, n] for d, n in sorted(HOLIDAYS.items())])
    return path


def _on_tick(value: Decimal, tick: Decimal, rounding: str = ROUND_FLOOR) -> Decimal:
    return (value / tick).to_integral_value(rounding=rounding) * tick


@dataclass(frozen=True)
class Continuation:
    """The closing state of the previous simulated day: what day D+1 opens with."""

    positions: dict[tuple[str, str, str], list[int]]
    balances: dict[str, str]
    settle_prices: dict[str, Decimal]
    underlying_close: dict[str, Decimal]


def load_continuation(previous_bundle: Path, published_day: Path) -> Continuation:
    """Read D's published ``closing/`` folder and D's underlying closes from its bundle."""
    closing = published_day / "closing"
    with (closing / "positions.csv").open() as f:
        positions = {
            (r["account_id"], r["instrument_id"], r["hedge_flag"]): [
                int(r["long_qty"]),
                int(r["short_qty"]),
            ]
            for r in csv.DictReader(f)
        }
    with (closing / "balances.csv").open() as f:
        balances = {r["account_id"]: r["balance"] for r in csv.DictReader(f)}
    with (closing / "settlement_prices.csv").open() as f:
        prices = {r["instrument_id"]: D(r["settle_price"]) for r in csv.DictReader(f)}
    with (previous_bundle / "reference" / "underlyings.csv").open() as f:
        closes = {r["underlying"]: D(r["close"]) for r in csv.DictReader(f)}
    return Continuation(positions, balances, prices, closes)


def trading_mix(
    instruments: list[Instrument], draw: Callable[[], float]
) -> tuple[list[Instrument], list[float]]:
    """The instruments that trade today and their weights: every future and half of the options,
    less ~15% without trades; front months weigh 30, other futures 5, options 1. ``draw`` is the
    caller's uniform [0, 1) source, drawn once per option and then once per candidate."""
    tradable = [i for i in instruments if i.product.kind != "INDEX_OPTION" or draw() < 0.5]
    tradable = [i for i in tradable if draw() >= 0.15]
    fronts = {
        min((i for i in tradable if i.product is p), key=lambda i: i.last_trading_day).instrument_id
        for p in {i.product for i in tradable if i.product.kind != "INDEX_OPTION"}
    }
    weights = [
        30.0 if i.instrument_id in fronts else 5.0 if i.product.kind != "INDEX_OPTION" else 1.0
        for i in tradable
    ]
    return tradable, weights


class Simulator:
    def __init__(self, config: SimulationConfig, previous: Continuation | None = None):
        self.c = config
        self.previous = previous
        self.rng = random.Random(config.seed * 1_000_003 + config.day.toordinal())
        accounts_rng = random.Random(
            config.seed
        )  # account attributes do not change from day to day
        self.holidays = {date.fromisoformat(d) for d in HOLIDAYS}
        self.instruments = listed_instruments(config.day, self.holidays)
        self.members = [f"M{i:03d}" for i in range(1, config.members + 1)]
        self.accounts = [f"A{i:06d}" for i in range(1, config.accounts + 1)]
        self.member_of = {
            a: self.members[i % len(self.members)] for i, a in enumerate(self.accounts)
        }
        self.hedger = {a: accounts_rng.random() < 0.1 for a in self.accounts}
        self.underlying = {
            u: (base * (1 + D(self.rng.randint(-150, 150)) / 10000)).quantize(D("0.01"))
            for u, base in UNDERLYING_BASE.items()
        }
        if previous:
            self.underlying.update(previous.underlying_close)
        self.underlying_close = {
            u: (v * (1 + D(self.rng.randint(-120, 120)) / 10000)).quantize(D("0.01"))
            for u, v in self.underlying.items()
        }
        self.listing_price = {i.instrument_id: self._initial_price(i) for i in self.instruments}
        carried = previous.settle_prices if previous else self.listing_price
        self.prev_settle = {
            i.instrument_id: carried.get(i.instrument_id, self.listing_price[i.instrument_id])
            for i in self.instruments
        }

    # --- reference -----------------------------------------------------------------------------
    def _initial_price(self, ins: Instrument) -> Decimal:
        p = ins.product
        if p.kind == "INDEX_OPTION":
            u = self.underlying[p.underlying]
            assert ins.strike is not None
            intrinsic = (
                max(u - ins.strike, D(0)) if ins.option_type == "C" else max(ins.strike - u, D(0))
            )
            value = intrinsic + u * D("0.012") + D(self.rng.randint(0, 40))
            return max(p.tick, _on_tick(value, p.tick))
        base = self.underlying.get(p.underlying, p.base_price)
        value = base * (1 + D(self.rng.randint(-60, 60)) / 10000)
        return _on_tick(value, p.tick)

    def write_reference(self, bundle: Path) -> None:
        ref = bundle / "reference"
        write_holidays(ref / "holidays.csv")
        write_csv(
            ref / "products.csv",
            header("products"),
            [
                [
                    p.product,
                    p.kind,
                    p.underlying,
                    p.multiplier,
                    f"{p.tick:f}",
                    p.settle_decimals,
                    f"{p.limit_pct:f}",
                    p.margin_group,
                    p.session,
                    p.fee_basis,
                    f"{p.fee_open:f}",
                    f"{p.fee_close:f}",
                    f"{p.fee_close_today:f}",
                    p.delivery_fee_basis,
                    f"{p.delivery_fee:f}",
                    _fmt(p.exercise_fee, 2),
                    p.decl_scope,
                    f"{p.decl_otr_threshold:f}",
                    None if p.option_k is None else f"{p.option_k:f}",
                    None if p.option_m is None else f"{p.option_m:f}",
                ]
                for p in PRODUCTS
            ],
        )
        write_csv(
            ref / "declaration_tiers.csv",
            header("declaration_tiers"),
            [
                [p.product, lo, hi, _fmt(a, 2), _fmt(b, 2)]
                for p in PRODUCTS
                for lo, hi, a, b in DECLARATION_TIERS.get(p.kind, [])
            ],
        )
        write_csv(
            ref / "instruments.csv",
            header("instruments"),
            [
                [
                    i.instrument_id,
                    i.product.product,
                    i.last_trading_day.isoformat(),
                    _fmt(self.listing_price[i.instrument_id], i.product.settle_decimals),
                    i.option_type,
                    None if i.strike is None else f"{i.strike:f}",
                ]
                for i in self.instruments
            ],
        )
        write_csv(
            ref / "margin_rates.csv",
            header("margin_rates"),
            [
                [i.instrument_id, h, f"{r:f}", f"{r:f}"]
                for i in self.instruments
                if i.product.kind != "INDEX_OPTION"
                for h, r in (("SPEC", i.product.margin_spec), ("HEDGE", i.product.margin_hedge))
            ],
        )
        write_csv(
            ref / "members.csv",
            header("members"),
            [[m, f"Member {m[1:]} Futures Co."] for m in self.members],
        )
        write_csv(
            ref / "accounts.csv",
            header("accounts"),
            [
                [a, self.member_of[a], "PROPRIETARY" if n % 25 == 0 else "CLIENT"]
                for n, a in enumerate(self.accounts)
            ],
        )
        write_csv(
            ref / "underlyings.csv",
            header("underlyings"),
            [
                [
                    self.c.day.isoformat(),
                    u,
                    _fmt(self.underlying[u], 2),
                    _fmt(self.underlying_close[u], 2),
                ]
                for u in sorted(self.underlying)
            ],
        )
        expiring = [i for i in self.instruments if i.last_trading_day == self.c.day]
        write_csv(
            ref / "final_settlement_prices.csv",
            header("final_settlement_prices"),
            [
                [i.instrument_id, _fmt(self.underlying_close[i.product.underlying], 2)]
                for i in expiring
                if i.product.kind != "BOND_FUTURE"
            ]
            + [
                [i.instrument_id, _fmt(self.prev_settle[i.instrument_id], 3)]
                for i in expiring
                if i.product.kind == "BOND_FUTURE"
            ],
        )

    # --- opening state --------------------------------------------------------------------------
    def opening_positions(self) -> dict[tuple[str, str, str], list[int]]:
        if self.previous:
            listed = {i.instrument_id for i in self.instruments}
            return {k: list(v) for k, v in self.previous.positions.items() if k[1] in listed}
        positions: dict[tuple[str, str, str], list[int]] = {}
        for ins in self.instruments:
            if self.rng.random() < 0.3:
                continue
            for _ in range(self.rng.randint(2, max(3, self.c.accounts // 20))):
                a, b = self.rng.sample(self.accounts, 2)
                q = self.rng.randint(1, 4)
                positions.setdefault(
                    (a, ins.instrument_id, "HEDGE" if self.hedger[a] else "SPEC"), [0, 0]
                )[0] += q
                positions.setdefault(
                    (b, ins.instrument_id, "HEDGE" if self.hedger[b] else "SPEC"), [0, 0]
                )[1] += q
        return positions

    def write_opening(self, bundle: Path, positions: dict[tuple[str, str, str], list[int]]) -> None:
        op = bundle / "opening"
        write_csv(
            op / "positions.csv",
            header("opening_positions"),
            [[a, i, h, lq, sq] for (a, i, h), (lq, sq) in sorted(positions.items())],
        )
        if self.previous:
            balances = sorted(self.previous.balances.items())
        else:
            balances = [(a, self._initial_balance()) for a in self.accounts]
        write_csv(op / "balances.csv", header("opening_balances"), [[a, b] for a, b in balances])
        write_csv(
            op / "settlement_prices.csv",
            header("opening_settlement_prices"),
            [
                [
                    i.instrument_id,
                    _fmt(self.prev_settle[i.instrument_id], i.product.settle_decimals),
                ]
                for i in sorted(self.instruments, key=lambda i: i.instrument_id)
                if not self.previous or i.instrument_id in self.previous.settle_prices
            ],
        )

    def _initial_balance(self) -> str:
        tier = self.rng.choice([200_000] + [2_000_000, 8_000_000, 20_000_000, 50_000_000] * 5)
        return _fmt(D(tier) + D(self.rng.randint(0, 99_999_99)) / 100, 2)

    # --- events ---------------------------------------------------------------------------------
    def _limits(self, ins: Instrument) -> tuple[Decimal, Decimal]:
        p, s0 = ins.product, self.prev_settle[ins.instrument_id]
        if p.kind == "INDEX_OPTION":
            u = self.underlying[p.underlying]
            return (
                max(p.tick, _on_tick(s0 - p.limit_pct * u, p.tick, ROUND_CEILING)),
                _on_tick(s0 + p.limit_pct * u, p.tick),
            )
        pct = p.limit_pct * (
            2 if ins.last_trading_day == self.c.day and p.kind == "INDEX_FUTURE" else 1
        )
        return _on_tick(s0 * (1 - pct), p.tick, ROUND_CEILING), _on_tick(s0 * (1 + pct), p.tick)

    def write_events(
        self, bundle: Path, positions: dict[tuple[str, str, str], list[int]]
    ) -> dict[str, int]:
        held = {k: list(v) for k, v in positions.items()}
        tradable, weights = trading_mix(self.instruments, self.rng.random)
        last = {  # trades are on the tick; a settlement price (a VWAP) need not be
            i.instrument_id: _on_tick(self.prev_settle[i.instrument_id], i.product.tick)
            for i in tradable
        }
        # by time, ties in the order generated; a day larger than memory is sorted on disk
        orders: SpillSort[tuple[int, list[object]]] = SpillSort(key=_at)
        trades: SpillSort[tuple[int, list[object]]] = SpillSort(key=_at)
        with orders, trades:
            return self._generate(bundle, held, tradable, weights, last, orders, trades)

    def _generate(
        self,
        bundle: Path,
        held: dict[tuple[str, str, str], list[int]],
        tradable: list[Instrument],
        weights: list[float],
        last: dict[str, Decimal],
        orders: SpillSort[tuple[int, list[object]]],
        trades: SpillSort[tuple[int, list[object]]],
    ) -> dict[str, int]:
        c, rng, day = self.c, self.rng, self.c.day
        algo = self.accounts[:2]  # two high-frequency accounts that enter and cancel most orders
        order_no = 0

        def new_order(
            t: int,
            account: str,
            ins: Instrument,
            side: str,
            offset: str,
            price: Decimal | None,
            qty: int,
            order_type: str,
            cancel_at: int | None = None,
        ) -> str:
            nonlocal order_no
            order_no += 1
            oid = f"O{day:%Y%m%d}{order_no:09d}"
            hedge = "HEDGE" if self.hedger[account] else "SPEC"
            text_price = None if price is None else _fmt(price, ins.product.settle_decimals)
            order = [
                oid,
                account,
                ins.instrument_id,
                side,
                offset,
                hedge,
                order_type,
                text_price,
                qty,
            ]
            orders.append((t, ["NEW", *order]))
            if cancel_at is not None:
                orders.append((cancel_at, ["CANCEL", *order]))
            return oid

        picks = [rng.choices(tradable, weights)[0] for _ in range(c.trades)]
        schedule = sorted(
            (
                (rng.randrange(0, session_length_micros(ins.product.session)), n, ins)
                for n, ins in enumerate(picks)
            ),
            key=lambda x: (x[0], x[1]),
        )
        for t, _, ins in schedule:
            p = ins.product
            lo, hi = self._limits(ins)
            price = min(hi, max(lo, last[ins.instrument_id] + p.tick * rng.randint(-3, 3)))
            last[ins.instrument_id] = price
            qty = rng.randint(1, 10)
            buyer, seller = rng.sample(self.accounts, 2)
            bh, sh = (
                ("HEDGE" if self.hedger[buyer] else "SPEC"),
                ("HEDGE" if self.hedger[seller] else "SPEC"),
            )
            bpos = held.setdefault((buyer, ins.instrument_id, bh), [0, 0])
            spos = held.setdefault((seller, ins.instrument_id, sh), [0, 0])
            boff = "CLOSE" if bpos[1] >= qty and rng.random() < 0.5 else "OPEN"
            soff = "CLOSE" if spos[0] >= qty and rng.random() < 0.5 else "OPEN"
            if boff == "OPEN":
                bpos[0] += qty
            else:
                bpos[1] -= qty
            if soff == "OPEN":
                spos[1] += qty
            else:
                spos[0] -= qty
            otype = rng.choice(["LIMIT", "LIMIT", "LIMIT", "FAK", "FOK", "MARKET"])
            placed = max(0, t - rng.randrange(1, 2_000_000))
            boid = new_order(
                placed, buyer, ins, "BUY", boff, None if otype == "MARKET" else price, qty, otype
            )
            soid = new_order(max(placed, t - 1), seller, ins, "SELL", soff, price, qty, "LIMIT")
            trades.append(
                (
                    t,
                    [
                        ins.instrument_id,
                        _fmt(price, p.settle_decimals),
                        qty,
                        boid,
                        buyer,
                        boff,
                        bh,
                        soid,
                        seller,
                        soff,
                        sh,
                    ],
                )
            )
            for _ in range(max(0, c.orders_per_trade - 2) // 2):
                account = rng.choice(algo) if rng.random() < 0.9 else rng.choice(self.accounts)
                at = max(0, t - rng.randrange(0, 60_000_000))
                side = rng.choice(["BUY", "SELL"])
                away = p.tick * rng.randint(1, 8) * (-1 if side == "BUY" else 1)
                new_order(
                    at,
                    account,
                    ins,
                    side,
                    "OPEN",
                    min(hi, max(lo, price + away)),
                    rng.randint(1, 5),
                    rng.choice(["LIMIT", "FAK", "FOK"]),
                    cancel_at=min(
                        t + rng.randrange(1, 5_000_000), session_length_micros(p.session)
                    ),
                )
        ev = bundle / "events"
        write_csv(
            ev / "orders.csv",
            header("orders"),
            (
                [day.isoformat(), n, _ts(day, t), *row]
                for n, (t, row) in enumerate(orders.sorted(), 1)
            ),
        )
        write_csv(
            ev / "trades.csv",
            header("trades"),
            (
                [day.isoformat(), n, _ts(day, t), f"T{day:%Y%m%d}{n:08d}", *row]
                for n, (t, row) in enumerate(trades.sorted(), 1)
            ),
        )
        moves = []
        for n in range(max(1, c.accounts // 10)):
            t = rng.randrange(0, session_length_micros("INDEX"))
            direction = "DEPOSIT" if rng.random() < 0.7 else "WITHDRAWAL"
            amount = (
                D(rng.randint(1_000_00, 500_000_00)) / 100
                if direction == "DEPOSIT"
                else D(rng.randint(100_00, 20_000_00)) / 100
            )
            moves.append(
                (
                    t,
                    [
                        f"F{day:%Y%m%d}{n + 1:07d}",
                        rng.choice(self.accounts),
                        direction,
                        _fmt(amount, 2),
                    ],
                )
            )
        moves.sort(key=lambda m: m[0])
        write_csv(
            ev / "fund_movements.csv",
            header("fund_movements"),
            [[day.isoformat(), n, _ts(day, t), *row] for n, (t, row) in enumerate(moves, 1)],
        )
        return {"orders": len(orders), "trades": len(trades), "fund_movements": len(moves)}


def simulate(
    config: SimulationConfig, bundle: Path, previous: Continuation | None = None
) -> dict[str, int]:
    """Write a whole day bundle for ``config.day`` into ``bundle``; returns the event counts.

    With ``previous`` (the closing state of the previous day, :func:`load_continuation`) the day opens
    with its positions, balances, settlement prices and underlying closes; instruments listed since
    have no previous settlement price and open from their listing price (SETTLEMENT_RULES §3.5)."""
    sim = Simulator(config, previous)
    sim.write_reference(bundle)
    positions = sim.opening_positions()
    sim.write_opening(bundle, positions)
    return sim.write_events(bundle, positions)


def parse_day(text: str) -> date:
    return datetime.strptime(text, "%Y-%m-%d").date()
