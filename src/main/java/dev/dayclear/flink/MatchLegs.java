package dev.dayclear.flink;

import java.io.IOException;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

import org.apache.flink.table.annotation.ArgumentHint;
import org.apache.flink.table.annotation.ArgumentTrait;
import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.table.annotation.StateHint;
import org.apache.flink.table.api.dataview.MapView;
import org.apache.flink.table.functions.FunctionContext;
import org.apache.flink.table.functions.ProcessTableFunction;
import org.apache.flink.types.Row;

/**
 * {@code match_legs}: the §5.1 matchings of the streaming pre-aggregation, one leg at a time, in
 * arrival order per (account, instrument, hedge flag, position side), called from Flink SQL as
 * {@code match_legs(leg => TABLE legs PARTITION BY (account_id, instrument_id, hedge_flag,
 * pos_side))}. Each leg passes through with four columns added, the same as the batch SQL's
 * {@code legs_costed} view (jobs/sql/matching.sql), which is the reference:
 *
 * <ul>
 *   <li>{@code close_today_qty}: close-today-first matching, CT_n - CT_{n-1} with CT_n = C_n +
 *       min(0, min_{k<=n}(O_k - C_k)) over the running opens O and closes C;
 *   <li>{@code fifo_prev_qty}: the part of a close that consumes the D-1 position (FIFO, that
 *       position first);
 *   <li>{@code fifo_open_cost}: Σ price × quantity of D's open lots the rest of the close consumes,
 *       in the order they were opened;
 *   <li>{@code position_after}: the side's position after the leg (§5).
 * </ul>
 *
 * <p>The output is append-only, and the state per side is its running totals plus the open lots
 * not yet consumed: the SQL's self-join and join back kept every leg of the day, and retracted a
 * leg's row each time a later close changed its cost. The D-1 position comes from the staged
 * {@code opening_positions.csv} (job parameter {@code dayclear.staging}), read once, instead of a
 * join that kept every leg too.
 *
 * <p>A close that consumes more than the side holds leaves the position negative, which breaks the
 * day (§5); its cost counts only the lots open so far.
 */
@DataTypeHint(
        "ROW<close_today_qty BIGINT, fifo_prev_qty BIGINT, fifo_open_cost DECIMAL(38, 6),"
                + " position_after BIGINT>")
public class MatchLegs extends ProcessTableFunction<Row> {
    private static final BigDecimal ZERO = BigDecimal.ZERO.setScale(6);

    /** The running totals of one position side. */
    public static class Totals {
        /** The D-1 position of the side, read on the side's first leg. */
        public Long prevQty;

        public long cumOpen;
        public long cumClose;
        /** min(0, min over legs so far of cumOpen - cumClose). */
        public long minGap;
        /** The open lots not yet consumed are numbered [firstLot, nextLot). */
        public long firstLot;

        public long nextLot;
    }

    /** One of D's opens: its price, quantity and the running open total after it. */
    public static class Lot {
        public @DataTypeHint("DECIMAL(20, 6)") BigDecimal price;
        public long qty;
        public long end;
    }

    private transient Map<String, long[]> opening;

    @Override
    public void open(FunctionContext context) throws IOException {
        String staging = context.getJobParameter(KnownIds.STAGING, null);
        if (staging == null) {
            throw new IllegalStateException("match_legs needs the job parameter " + KnownIds.STAGING);
        }
        opening = new HashMap<>();
        Path file = Path.of(staging, "opening_positions.csv");
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            if (line.isBlank()) {
                continue;
            }
            String[] f = line.strip().split(",", -1);
            opening.put(
                    key(f[0], f[1], f[2]),
                    new long[] {Long.parseLong(f[3]), Long.parseLong(f[4])});
        }
    }

    private static String key(String account, String instrument, String hedgeFlag) {
        return account + '\u0000' + instrument + '\u0000' + hedgeFlag;
    }

    public void eval(
            @StateHint(ttl = "0") Totals side,
            @StateHint(ttl = "0") MapView<Long, Lot> lots,
            @ArgumentHint({ArgumentTrait.SET_SEMANTIC_TABLE, ArgumentTrait.PASS_COLUMNS_THROUGH})
                    Row leg)
            throws Exception {
        if (side.prevQty == null) {
            long[] held =
                    opening.get(
                            key(
                                    leg.getFieldAs("account_id"),
                                    leg.getFieldAs("instrument_id"),
                                    leg.getFieldAs("hedge_flag")));
            boolean isLong = "LONG".equals(leg.getFieldAs("pos_side"));
            side.prevQty = held == null ? 0L : held[isLong ? 0 : 1];
        }
        long prev = side.prevQty;
        long openQty = leg.<Long>getFieldAs("open_qty");
        long closeQty = leg.<Long>getFieldAs("close_qty");

        long closeTodayBefore = side.cumClose + side.minGap;
        side.cumOpen += openQty;
        side.cumClose += closeQty;
        side.minGap = Math.min(side.minGap, side.cumOpen - side.cumClose);
        long closeToday = side.cumClose + side.minGap - closeTodayBefore;

        long closedBefore = side.cumClose - closeQty;
        long fifoPrev = Math.min(side.cumClose, prev) - Math.min(closedBefore, prev);

        BigDecimal cost = ZERO;
        if (openQty > 0) {
            Lot lot = new Lot();
            lot.price = leg.getFieldAs("price");
            lot.qty = openQty;
            lot.end = side.cumOpen;
            lots.put(side.nextLot++, lot);
        }
        long lo = Math.max(closedBefore - prev, 0);
        long hi = Math.max(side.cumClose - prev, 0);
        if (closeQty > 0 && hi > lo) {
            cost = consume(side, lots, lo, hi);
        }
        collect(Row.of(closeToday, fifoPrev, cost, prev + side.cumOpen - side.cumClose));
    }

    /**
     * Σ price × overlap of the open lots with the open-lot interval [lo, hi) of the opens' running
     * total. Intervals only move forward, so lots ending at or before {@code hi} are done with.
     */
    private static BigDecimal consume(Totals side, MapView<Long, Lot> lots, long lo, long hi)
            throws Exception {
        BigDecimal cost = ZERO;
        for (long i = side.firstLot; i < side.nextLot; i++) {
            Lot lot = lots.get(i);
            long start = lot.end - lot.qty;
            if (start >= hi) {
                break;
            }
            long overlap = Math.min(hi, lot.end) - Math.max(lo, start);
            if (overlap > 0) {
                cost = cost.add(lot.price.multiply(BigDecimal.valueOf(overlap)));
            }
            if (lot.end <= hi) {
                lots.remove(i);
                side.firstLot = i + 1;
            }
        }
        return cost;
    }
}
