package dev.dayclear.flink;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;

/**
 * The reference ids the gate knows (jobs/gate.py): staged before the open as {@code
 * <staging>/<table>.csv}, one id per line, in the folder given by the job parameter {@code
 * dayclear.staging}. Read by {@code gate_verdict} ({@link GateVerdict}); {@code match_legs} reads
 * the opening positions from the same folder.
 */
public final class KnownIds {
    public static final String STAGING = "dayclear.staging";

    private KnownIds() {}

    /** The ids staged as {@code <staging>/<table>.csv}, one per line. */
    static Set<String> read(String staging, String table) throws IOException {
        Path file = Path.of(staging, table + ".csv");
        Set<String> known = new HashSet<>();
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            String id = line.strip();
            if (!id.isEmpty()) {
                known.add(id);
            }
        }
        return known;
    }
}
