"""The simulated CFFEX-like universe: products (SETTLEMENT_RULES §11 defaults), listed instruments,
members, accounts and holidays. Reference data only; the rules never read these constants.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from settlement.calendar import nth_weekday, on_or_after_trading_day

D = Decimal

# Mainland exchange holidays used by the simulator (weekdays only; a plausible calendar).
HOLIDAYS: dict[str, str] = {
    **{d: "New Year" for d in ("2026-01-01", "2026-01-02", "2027-01-01")},
    **{
        d: "Spring Festival"
        for d in (
            "2026-02-16",
            "2026-02-17",
            "2026-02-18",
            "2026-02-19",
            "2026-02-20",
            "2027-02-08",
            "2027-02-09",
            "2027-02-10",
            "2027-02-11",
            "2027-02-12",
        )
    },
    **{d: "Qingming" for d in ("2026-04-06", "2027-04-05")},
    **{
        d: "Labour Day"
        for d in ("2026-05-01", "2026-05-04", "2026-05-05", "2027-05-03", "2027-05-04")
    },
    **{d: "Dragon Boat" for d in ("2026-06-19", "2027-06-09")},
    **{d: "Mid-Autumn" for d in ("2026-09-25", "2027-09-15")},
    **{
        d: "National Day"
        for d in (
            "2026-10-01",
            "2026-10-02",
            "2026-10-05",
            "2026-10-06",
            "2026-10-07",
            "2027-10-01",
            "2027-10-04",
            "2027-10-05",
            "2027-10-06",
            "2027-10-07",
        )
    },
}


@dataclass(frozen=True)
class Product:
    product: str
    kind: str
    underlying: str
    multiplier: int
    tick: Decimal
    settle_decimals: int
    limit_pct: Decimal
    margin_group: str
    session: str
    fee_basis: str
    fee_open: Decimal
    fee_close: Decimal
    fee_close_today: Decimal
    delivery_fee_basis: str
    delivery_fee: Decimal
    exercise_fee: Decimal
    decl_scope: str
    decl_otr_threshold: Decimal
    option_k: Decimal | None
    option_m: Decimal | None
    margin_spec: Decimal
    margin_hedge: Decimal
    base_price: Decimal


def _index_future(p: str, und: str, mult: int, spec: str, hedge: str, base: str) -> Product:
    return Product(
        p,
        "INDEX_FUTURE",
        und,
        mult,
        D("0.2"),
        1,
        D("0.10"),
        "IDX",
        "INDEX",
        "RATIO",
        D("0.000023"),
        D("0.000023"),
        D("0.00023"),
        "RATIO",
        D("0.0001"),
        D("0"),
        "INSTRUMENT",
        D("2"),
        None,
        None,
        D(spec),
        D(hedge),
        D(base),
    )


def _bond_future(p: str, tick: str, limit: str, base: str) -> Product:
    return Product(
        p,
        "BOND_FUTURE",
        "",
        20000 if p == "TS" else 10000,
        D(tick),
        3,
        D(limit),
        "BOND",
        "BOND",
        "PER_LOT",
        D("3"),
        D("3"),
        D("0"),
        "PER_LOT",
        D("5"),
        D("0"),
        "PRODUCT",
        D("2"),
        None,
        None,
        D(limit),
        D(limit),
        D(base),
    )


def _index_option(p: str, und: str, k: str, base: str) -> Product:
    return Product(
        p,
        "INDEX_OPTION",
        und,
        100,
        D("0.2"),
        1,
        D("0.10"),
        "",
        "INDEX",
        "PER_LOT",
        D("15"),
        D("15"),
        D("15"),
        "PER_LOT",
        D("0"),
        D("2"),
        "NONE",
        D("2"),
        D(k),
        D("0.5"),
        D("0"),
        D("0"),
        D(base),
    )


PRODUCTS: tuple[Product, ...] = (
    _index_future("IF", "CSI300", 300, "0.12", "0.10", "3950.0"),
    _index_future("IH", "SSE50", 300, "0.12", "0.10", "2610.0"),
    _index_future("IC", "CSI500", 200, "0.14", "0.12", "5820.0"),
    _index_future("IM", "CSI1000", 200, "0.15", "0.13", "6240.0"),
    _bond_future("TS", "0.002", "0.005", "102.480"),
    _bond_future("TF", "0.005", "0.012", "105.800"),
    _bond_future("T", "0.005", "0.02", "108.450"),
    _bond_future("TL", "0.01", "0.035", "118.200"),
    _index_option("IO", "CSI300", "0.10", "3950.0"),
    _index_option("MO", "CSI1000", "0.15", "6240.0"),
    _index_option("HO", "SSE50", "0.10", "2610.0"),
)

UNDERLYING_BASE = {
    "CSI300": D("3950.00"),
    "SSE50": D("2610.00"),
    "CSI500": D("5820.00"),
    "CSI1000": D("6240.00"),
}

DECLARATION_TIERS = {
    "INDEX_FUTURE": [(0, 500, D("0"), D("0")), (500, None, D("1.00"), D("1.00"))],
    "BOND_FUTURE": [
        (0, 4000, D("0"), D("0")),
        (4000, 8000, D("1.00"), D("2.00")),
        (8000, None, D("2.00"), D("4.00")),
    ],
}

STRIKE_STEP = {"IO": D("50"), "MO": D("100"), "HO": D("25")}


@dataclass(frozen=True)
class Instrument:
    instrument_id: str
    product: Product
    last_trading_day: date
    option_type: str | None = None
    strike: Decimal | None = None


def _months_from(day: date, count: int) -> list[tuple[int, int]]:
    return [
        ((day.year * 12 + day.month - 1 + i) // 12, (day.year * 12 + day.month - 1 + i) % 12 + 1)
        for i in range(count)
    ]


def index_ltd(year: int, month: int, holidays: set[date]) -> date:
    """CFFEX index futures and options: third Friday of the contract month (next trading day if closed)."""
    return on_or_after_trading_day(nth_weekday(year, month, 4, 3), holidays)


def bond_ltd(year: int, month: int, holidays: set[date]) -> date:
    """CFFEX bond futures: second Friday of the contract month (next trading day if closed)."""
    return on_or_after_trading_day(nth_weekday(year, month, 4, 2), holidays)


def listed_instruments(
    day: date, holidays: set[date], option_months: int = 2, strikes_each_side: int = 3
) -> list[Instrument]:
    """Instruments listed on ``day``: index futures current and next month plus the next two quarter
    months; bond futures the three nearest quarter months; options the nearest months with strikes
    around the money."""
    out: list[Instrument] = []
    months = [(y, m) for y, m in _months_from(day, 14)]
    live_index = [(y, m) for y, m in months if index_ltd(y, m, holidays) >= day]
    live_bond = [(y, m) for y, m in months if m % 3 == 0 and bond_ltd(y, m, holidays) >= day]
    index_months = live_index[:2] + [ym for ym in live_index[2:] if ym[1] % 3 == 0][:2]
    for p in PRODUCTS:
        if p.kind == "INDEX_FUTURE":
            for y, m in index_months:
                out.append(
                    Instrument(f"{p.product}{y % 100:02d}{m:02d}", p, index_ltd(y, m, holidays))
                )
        elif p.kind == "BOND_FUTURE":
            for y, m in live_bond[:3]:
                out.append(
                    Instrument(f"{p.product}{y % 100:02d}{m:02d}", p, bond_ltd(y, m, holidays))
                )
        else:
            step = STRIKE_STEP[p.product]
            atm = (UNDERLYING_BASE[p.underlying] / step).to_integral_value() * step
            for y, m in live_index[:option_months]:
                for i in range(-strikes_each_side, strikes_each_side + 1):
                    strike = atm + i * step
                    for cp in ("C", "P"):
                        out.append(
                            Instrument(
                                f"{p.product}{y % 100:02d}{m:02d}-{cp}-{strike:f}",
                                p,
                                index_ltd(y, m, holidays),
                                cp,
                                strike,
                            )
                        )
    return out
