package dev.dayclear.flink;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.apache.flink.table.functions.FunctionContext;
import org.apache.flink.table.functions.ScalarFunction;

/**
 * {@code gate_known(table, id)}: is {@code id} one of the reference ids staged as
 * {@code <staging>/<table>.csv} (one id per line)? The streaming gate's reference check
 * (jobs/gate.py): a scalar function keeps the stream append-only, where a join with the reference
 * table would retract. The staging folder is the job parameter {@code dayclear.staging}.
 *
 * <p>It runs in the JVM beside the SQL it serves; the Python function it replaces cost a round
 * trip to a Python worker for every record of every topic.
 */
public class KnownIds extends ScalarFunction {
    public static final String STAGING = "dayclear.staging";
    private static final List<String> TABLES = List.of("gate_accounts", "gate_instruments");

    private transient Map<String, Set<String>> ids;

    @Override
    public void open(FunctionContext context) throws IOException {
        String staging = context.getJobParameter(STAGING, null);
        if (staging == null) {
            throw new IllegalStateException("gate_known needs the job parameter " + STAGING);
        }
        ids = new HashMap<>();
        for (String table : TABLES) {
            Path file = Path.of(staging, table + ".csv");
            Set<String> known = new HashSet<>();
            for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                String id = line.strip();
                if (!id.isEmpty()) {
                    known.add(id);
                }
            }
            ids.put(table, known);
        }
    }

    public Boolean eval(String table, String id) {
        Set<String> known = ids.get(table);
        if (known == null) {
            throw new IllegalArgumentException("gate_known: no reference table " + table);
        }
        return id != null && known.contains(id);
    }
}
