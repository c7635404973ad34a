"""A trading day at exchange scale (e.g. 400 million orders, 20 million trades, 100,000 accounts),
generated with NumPy/Polars in chunks instead of the event-by-event simulator.

Reference data and the opening state come from :class:`devtools.simulator.Simulator` (all listed
instruments of the 11 products, the same accounts, members and hedgers). The events are vectorised:

* trades are (1) closes of opening positions, each against a distinct opening position and no larger
  than it; (2) open/close pairs: A buys OPEN from B, later A sells CLOSE to B for the same quantity;
  (3) plain opens. Every close is covered by a distinct earlier source, so no close ever exceeds the
  position (SETTLEMENT_RULES §5) and both matchings get real work (close-today and FIFO against D-1);
* prices are on the tick and within the limits (§4): the previous settlement price plus a slow swing
  and noise, clamped to the limits; trades fill the whole session, so every §3 window appears;
* orders: each trade's two orders plus ``orders_per_trade - 2`` resting orders (NEW then CANCEL),
  90% of them from 1% of the accounts (the algorithmic traders whose declaration fees §8.2 counts).

Events are written as header-less CSV part files in the column order of ``schemas/topics``, straight
into the folders the Flink file sources and the DuckDB recompute read (``<staging>/<topic>.csv/``).
Trades are sorted by time and numbered in that order; orders are numbered chunk by chunk in time
order (an order may be placed up to a minute before the trade of its chunk, so order timestamps are
monotone only within a chunk, as with a real multi-gateway feed).
"""

from __future__ import annotations

import math
import subprocess
import sys
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import cast

import numpy as np
import numpy.typing as npt
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devtools.simulator import SimulationConfig, Simulator, trading_mix
from jobs.staging import write_staged
from schemas.registry import file_spec
from settlement.calendar import MORNING_MICROS, session_length_micros

EVENT_TOPICS = ("orders", "trades", "fund_movements")


@dataclass(frozen=True)
class ExchangeDay:
    day: date
    accounts: int
    trades: int
    orders_per_trade: int = 20
    chunk_trades: int = 1_000_000
    seed: int = 11
    gzip_orders: bool = False  # gzip -1 each orders part (a 400M-order day is ~46 GB as text)


def _finish(job: subprocess.Popen[bytes]) -> None:
    if job.wait() != 0:
        command = cast(list[str], job.args)  # every Popen here is given a list
        raise RuntimeError(f"{' '.join(map(str, command))} failed with {job.returncode}")


def _units(value: object, decimals: int) -> int:
    return int(Decimal(str(value)).scaleb(decimals).to_integral_value())


def _price_text(units: pl.Expr, decimals: pl.Expr | pl.Series) -> pl.Expr:
    """Integer price units (10^-decimals) as plain decimal text."""
    out = units.cast(pl.String)
    for d in (1, 2, 3):
        scale = 10**d
        text = pl.format(
            "{}.{}", (units // scale).cast(pl.String), (units % scale).cast(pl.String).str.zfill(d)
        )
        out = pl.when(decimals == d).then(text).otherwise(out)
    return out


def _ts_text(day: date, micros: pl.Expr) -> pl.Expr:
    """Trading µs since the open -> wall-clock text (SETTLEMENT_RULES §2; lunch break skipped)."""
    morning = pl.lit(datetime(day.year, day.month, day.day, 9, 30))
    afternoon = pl.lit(datetime(day.year, day.month, day.day, 13))
    wall = (
        pl.when(micros <= MORNING_MICROS)
        .then(morning + pl.duration(microseconds=micros))
        .otherwise(afternoon + pl.duration(microseconds=micros - MORNING_MICROS))
    )
    return wall.dt.strftime("%Y-%m-%dT%H:%M:%S%.6f")


class Generator:
    def __init__(self, cfg: ExchangeDay, bundle: Path, staging: Path):
        self.cfg, self.bundle, self.staging = cfg, bundle, staging
        self.rng = np.random.default_rng(cfg.seed)
        sim = Simulator(
            SimulationConfig(day=cfg.day, accounts=cfg.accounts, trades=cfg.trades, seed=cfg.seed)
        )
        sim.write_reference(bundle)
        self.positions = sim.opening_positions()
        sim.write_opening(bundle, self.positions)
        self.accounts = pl.Series("account_id", sim.accounts)
        self.hedge = np.array([sim.hedger[a] for a in sim.accounts], dtype=bool)
        self.account_no = {a: n for n, a in enumerate(sim.accounts)}
        tradable, mix = trading_mix(sim.instruments, self.rng.random)
        weights = np.array(mix)
        self.weights = weights / weights.sum()
        self.inst = tradable
        self.inst_ids = pl.Series("instrument_id", [i.instrument_id for i in tradable])
        self.inst_no = {i.instrument_id: n for n, i in enumerate(tradable)}
        sdp = [i.product.settle_decimals for i in tradable]
        self.sdp = np.array(sdp)
        self.tick = np.array(
            [_units(i.product.tick, d) for i, d in zip(tradable, sdp, strict=True)]
        )
        self.prev = np.array(
            [
                _units(sim.prev_settle[i.instrument_id], d)
                for i, d in zip(tradable, sdp, strict=True)
            ]
        )
        limits = [sim._limits(i) for i in tradable]
        self.lo = np.array([_units(lo, d) for (lo, _), d in zip(limits, sdp, strict=True)])
        self.hi = np.array([_units(hi, d) for (_, hi), d in zip(limits, sdp, strict=True)])
        self.length = np.array([session_length_micros(i.product.session) for i in tradable])
        self.swing = self.rng.integers(0, 25, len(tradable))
        self.phase = self.rng.random(len(tradable)) * 2 * math.pi

    # --- trades -------------------------------------------------------------------------------
    def _pairs(self, n: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        a = self.rng.integers(0, self.cfg.accounts, n)
        b = (a + self.rng.integers(1, self.cfg.accounts, n)) % self.cfg.accounts
        return a, b

    def trades(self) -> pl.DataFrame:
        """Every trade of the day, numbered (seq) in time order."""
        rng, n_total = self.rng, self.cfg.trades
        # (1) closes of opening positions: a random half of the tradable opening sides
        rows = [
            (self.account_no[a], self.inst_no[i], q, side)
            for (a, i, _), (lq, sq) in sorted(self.positions.items())
            if i in self.inst_no
            for q, side in ((lq, 0), (sq, 1))
            if q > 0
        ]
        opening = np.array(rows, dtype=np.int64).reshape(-1, 4)
        opening = opening[rng.random(len(opening)) < 0.5][: n_total // 20]
        n_prev = len(opening)
        n_pairs = int(n_total * 0.2)
        n_single = n_total - n_prev - 2 * n_pairs
        # instruments and times
        inst_pairs = rng.choice(len(self.inst), n_pairs, p=self.weights)
        inst_single = rng.choice(len(self.inst), n_single, p=self.weights)
        inst_prev = opening[:, 1]
        length = self.length
        t_open = (rng.random(n_pairs) * (length[inst_pairs] - 2)).astype(np.int64)
        t_close = (
            t_open + 1 + (rng.random(n_pairs) * (length[inst_pairs] - 2 - t_open)).astype(np.int64)
        )
        t_single = (rng.random(n_single) * length[inst_single]).astype(np.int64)
        t_prev = (rng.random(n_prev) * length[inst_prev]).astype(np.int64)
        pa, pb = self._pairs(n_pairs)
        sa, sb = self._pairs(n_single)
        counter = (opening[:, 0] + rng.integers(1, self.cfg.accounts, n_prev)) % self.cfg.accounts
        q_pairs = rng.integers(1, 11, n_pairs)
        q_prev = 1 + (rng.random(n_prev) * opening[:, 2]).astype(np.int64)
        holder_long = opening[:, 3] == 0  # closing a long: the holder sells CLOSE
        OPEN, CLOSE = 0, 1
        parts = {
            "instrument": [inst_pairs, inst_pairs, inst_single, inst_prev],
            "t": [t_open, t_close, t_single, t_prev],
            "qty": [q_pairs, q_pairs, rng.integers(1, 11, n_single), q_prev],
            "buyer": [pa, pb, sa, np.where(holder_long, counter, opening[:, 0])],
            "seller": [pb, pa, sb, np.where(holder_long, opening[:, 0], counter)],
            "buy_offset": [
                np.full(n_pairs, OPEN),
                np.full(n_pairs, CLOSE),
                np.full(n_single, OPEN),
                np.where(holder_long, OPEN, CLOSE),
            ],
            "sell_offset": [
                np.full(n_pairs, OPEN),
                np.full(n_pairs, CLOSE),
                np.full(n_single, OPEN),
                np.where(holder_long, CLOSE, OPEN),
            ],
        }
        frame = pl.DataFrame({k: np.concatenate(v) for k, v in parts.items()})
        frame = frame.with_row_index("gen").sort("t", "gen").with_row_index("seq", offset=1)
        frame = frame.with_columns(pl.col("seq").cast(pl.Int64))
        inst = frame["instrument"].to_numpy()
        t = frame["t"].to_numpy()
        swing = np.rint(
            self.swing[inst] * np.sin(2 * math.pi * t / length[inst] + self.phase[inst])
        )
        ticks = swing.astype(np.int64) + rng.integers(-3, 4, len(frame))
        price = np.clip(self.prev[inst] + self.tick[inst] * ticks, self.lo[inst], self.hi[inst])
        return frame.with_columns(
            price_units=pl.Series(price),
            sdp=pl.Series(self.sdp[inst]),
            tick=pl.Series(self.tick[inst]),
        )

    def write_trades(self, trades: pl.DataFrame) -> None:
        day, offsets, flags = (
            self.cfg.day,
            pl.Series(["OPEN", "CLOSE"]),
            pl.Series(["SPEC", "HEDGE"]),
        )
        buyer, seller = trades["buyer"].to_numpy(), trades["seller"].to_numpy()
        out = trades.select(
            trading_day=pl.lit(day.isoformat()),
            seq=pl.col("seq"),
            ts=_ts_text(day, pl.col("t")),
            trade_id=pl.format(f"T{day:%Y%m%d}{{}}", pl.col("seq").cast(pl.String).str.zfill(8)),
            instrument_id=self.inst_ids.gather(trades["instrument"]),
            price=_price_text(pl.col("price_units"), pl.col("sdp")),
            qty=pl.col("qty"),
            buy_order_id=pl.format(
                f"O{day:%Y%m%d}{{}}", (pl.col("seq") * 2 - 1).cast(pl.String).str.zfill(9)
            ),
            buy_account_id=self.accounts.gather(buyer),
            buy_offset=offsets.gather(trades["buy_offset"]),
            buy_hedge_flag=flags.gather(self.hedge[buyer].astype(np.int64)),
            sell_order_id=pl.format(
                f"O{day:%Y%m%d}{{}}", (pl.col("seq") * 2).cast(pl.String).str.zfill(9)
            ),
            sell_account_id=self.accounts.gather(seller),
            sell_offset=offsets.gather(trades["sell_offset"]),
            sell_hedge_flag=flags.gather(self.hedge[seller].astype(np.int64)),
        )
        folder = self.staging / "trades.csv"
        folder.mkdir(parents=True, exist_ok=True)
        out.write_csv(folder / "part-00000.csv", include_header=False)

    # --- orders -------------------------------------------------------------------------------
    def write_orders(self, trades: pl.DataFrame) -> int:
        """Each trade's two orders plus resting NEW/CANCEL pairs, chunk by chunk, numbered in time order."""
        rng, day, cfg = self.rng, self.cfg.day, self.cfg
        folder = self.staging / "orders.csv"
        folder.mkdir(parents=True, exist_ok=True)
        algos = max(1, cfg.accounts // 100)
        resting = max(0, cfg.orders_per_trade - 2) // 2
        seq, resting_no = 0, 2 * cfg.trades
        zippers: list[subprocess.Popen[bytes]] = []
        for part, start in enumerate(range(0, trades.height, cfg.chunk_trades)):
            c = trades.slice(start, cfg.chunk_trades)
            n = c.height
            t, inst = c["t"].to_numpy(), c["instrument"].to_numpy()
            tick, units = c["tick"].to_numpy(), c["price_units"].to_numpy()
            placed = np.maximum(0, t - rng.integers(1, 2_000_000, n))
            otype = rng.choice(np.array(["LIMIT", "LIMIT", "LIMIT", "FAK", "FOK", "MARKET"]), n)
            matched = pl.DataFrame(
                {
                    "t": np.concatenate([placed, np.maximum(placed, t - 1)]),
                    "event": "NEW",
                    "no": np.concatenate([c["seq"].to_numpy() * 2 - 1, c["seq"].to_numpy() * 2]),
                    "account": np.concatenate([c["buyer"].to_numpy(), c["seller"].to_numpy()]),
                    "instrument": np.concatenate([inst, inst]),
                    "side": np.repeat(np.array(["BUY", "SELL"]), n),
                    "offset": np.concatenate(
                        [c["buy_offset"].to_numpy(), c["sell_offset"].to_numpy()]
                    ),
                    "order_type": np.concatenate([otype, np.full(n, "LIMIT")]),
                    "price_units": np.concatenate([np.where(otype == "MARKET", -1, units), units]),
                    "qty": np.concatenate([c["qty"].to_numpy(), c["qty"].to_numpy()]),
                }
            )
            m = n * resting
            r_inst = np.repeat(inst, resting)
            r_t = np.repeat(t, resting)
            buy = rng.random(m) < 0.5
            away = np.repeat(tick, resting) * rng.integers(1, 9, m) * np.where(buy, -1, 1)
            r_price = np.clip(np.repeat(units, resting) + away, self.lo[r_inst], self.hi[r_inst])
            r_account = np.where(
                rng.random(m) < 0.9,
                rng.integers(0, algos, m),
                rng.integers(0, cfg.accounts, m),
            )
            r_no = resting_no + 1 + np.arange(m)
            resting_no += m
            at = np.maximum(0, r_t - rng.integers(0, 60_000_000, m))
            cancel = np.minimum(r_t + rng.integers(1, 5_000_000, m), self.length[r_inst])
            r_type = rng.choice(np.array(["LIMIT", "FAK", "FOK"]), m)
            r_side = np.where(buy, "BUY", "SELL")
            r_qty = rng.integers(1, 6, m)
            rest = pl.DataFrame(
                {
                    "t": np.concatenate([at, cancel]),
                    "event": np.repeat(np.array(["NEW", "CANCEL"]), m),
                    "no": np.concatenate([r_no, r_no]),
                    "account": np.concatenate([r_account, r_account]),
                    "instrument": np.concatenate([r_inst, r_inst]),
                    "side": np.concatenate([r_side, r_side]),
                    "offset": np.zeros(2 * m, dtype=np.int64),
                    "order_type": np.concatenate([r_type, r_type]),
                    "price_units": np.concatenate([r_price, r_price]),
                    "qty": np.concatenate([r_qty, r_qty]),
                }
            )
            orders = pl.concat([matched, rest]).sort(
                "t", "no", "event", descending=[False, False, True]
            )
            orders = orders.with_row_index("seq", offset=seq + 1)
            seq += orders.height
            acc, ins = orders["account"].to_numpy(), orders["instrument"].to_numpy()
            out = orders.select(
                trading_day=pl.lit(day.isoformat()),
                seq=pl.col("seq"),
                ts=_ts_text(day, pl.col("t")),
                event=pl.col("event"),
                order_id=pl.format(f"O{day:%Y%m%d}{{}}", pl.col("no").cast(pl.String).str.zfill(9)),
                account_id=self.accounts.gather(acc),
                instrument_id=self.inst_ids.gather(ins),
                side=pl.col("side"),
                offset=pl.Series(["OPEN", "CLOSE"]).gather(orders["offset"]),
                hedge_flag=pl.Series(["SPEC", "HEDGE"]).gather(self.hedge[acc].astype(np.int64)),
                order_type=pl.col("order_type"),
                price=pl.when(pl.col("price_units") < 0)
                .then(pl.lit(None, pl.String))
                .otherwise(_price_text(pl.col("price_units"), pl.Series(self.sdp[ins]))),
                qty=pl.col("qty"),
            )
            path = folder / f"part-{part:05d}.csv"
            out.write_csv(path, include_header=False, null_value="")
            if cfg.gzip_orders:  # on the other core, while the next chunk is generated
                for job in zippers:
                    _finish(job)
                zippers = [subprocess.Popen(["gzip", "-1", "-f", str(path)])]
            print(f"  orders part {part}: {seq:,} orders so far", flush=True)
        for job in zippers:
            _finish(job)
        return seq

    def write_fund_movements(self) -> int:
        rng, day = self.rng, self.cfg.day
        n = max(1, self.cfg.accounts // 10)
        t = np.sort((rng.random(n) * session_length_micros("INDEX")).astype(np.int64))
        deposit = rng.random(n) < 0.7
        cents = np.where(
            deposit, rng.integers(1_000_00, 500_000_01, n), rng.integers(100_00, 20_000_01, n)
        )
        frame = pl.DataFrame({"t": t, "cents": cents, "deposit": deposit}).with_row_index(
            "seq", offset=1
        )
        out = frame.select(
            trading_day=pl.lit(day.isoformat()),
            seq=pl.col("seq"),
            ts=_ts_text(day, pl.col("t")),
            movement_id=pl.format(f"F{day:%Y%m%d}{{}}", pl.col("seq").cast(pl.String).str.zfill(7)),
            account_id=self.accounts.gather(rng.integers(0, self.cfg.accounts, n)),
            direction=pl.when(pl.col("deposit"))
            .then(pl.lit("DEPOSIT"))
            .otherwise(pl.lit("WITHDRAWAL")),
            amount=_price_text(pl.col("cents"), pl.lit(2)),
        )
        folder = self.staging / "fund_movements.csv"
        folder.mkdir(parents=True, exist_ok=True)
        out.write_csv(folder / "part-00000.csv", include_header=False)
        return n


def generate(cfg: ExchangeDay, bundle: Path, staging: Path) -> dict[str, int]:
    """Write reference + opening into ``bundle`` and the events into ``staging``; returns event counts."""
    gen = Generator(cfg, bundle, staging)
    trades = gen.trades()
    gen.write_trades(trades)
    orders = gen.write_orders(trades)
    moves = gen.write_fund_movements()
    from edge.bundle import load_opening, load_reference

    reference = load_reference(bundle, cfg.day)
    write_staged(
        load_opening(bundle, reference).positions,
        file_spec("opening_positions"),
        staging / "opening_positions.csv",
    )
    return {"orders": orders, "trades": trades.height, "fund_movements": moves}
