package dev.dayclear.flink;

import java.io.IOException;
import java.math.BigDecimal;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.table.functions.FunctionContext;
import org.apache.flink.table.functions.ScalarFunction;

/**
 * {@code gate_verdict(f, checks, day)}: why the gate refuses a record, or NULL when it admits it
 * (jobs/gate.py). {@code f} is the record's fields as {@code json_fields} gives them (NULL when it
 * is not one JSON object: "malformed"); {@code checks} is the topic's list of checks generated from
 * its schema in {@code schemas/topics/} (a JSON array, in the order they are tried; the first that
 * fails gives the verdict {@code "<reason>|<field>"}):
 *
 * <ul>
 *   <li>{@code missing}: the field is absent, null, or (an integer field) not an integer;
 *   <li>{@code type}: the field's JSON type is not the schema's ({@code expect}: {@code s} a
 *       string, {@code i} an integer), or it is null and may not be, or absent and required (the
 *       types are the last element of {@code f}, see {@code json_fields});
 *   <li>{@code min}: an integer below the schema's minimum;
 *   <li>{@code enum}: a text that is not one of the listed values;
 *   <li>{@code pattern}: a text the schema's regular expression does not find (as SQL's
 *       {@code REGEXP}: a match anywhere, so the schema's patterns are anchored);
 *   <li>{@code date}, {@code timestamp}: a text of the right shape that is no day or time of the
 *       calendar ({@code 2026-02-30}, {@code 25:61:61});
 *   <li>{@code decimal}: a number with more integer digits or decimal places than the SQL
 *       {@code DECIMAL(precision, scale)} the aggregates read it as (a longer one would stop the
 *       job, or be rounded silently);
 *   <li>{@code day}: a trading day that is not the open day {@code day};
 *   <li>{@code known}: an id that is not one of the reference ids staged as {@code
 *       <staging>/<table>.csv} (job parameter {@code dayclear.staging}).
 * </ul>
 *
 * <p>A check of a field that is absent passes, except {@code missing} and {@code known}. An integer
 * is an optional minus sign and at most 18 digits: a text such as {@code "1.5"}, {@code " 7"} or
 * {@code "1e3"} is refused as "not a valid int" rather than truncated or trimmed into one.
 *
 * <p>One Java call per record replaces a generated SQL CASE over every check of the schema, which
 * converted and compared each field in Flink's generated code (the largest share of the gate in the
 * profile of the streaming job, docs/benchmarks.md). The batch and the streaming gate both call it.
 */
public class GateVerdict extends ScalarFunction {
    private static final ObjectMapper JSON = new ObjectMapper();

    private enum Kind {
        MISSING,
        TYPE,
        MIN,
        ENUM,
        PATTERN,
        DATE,
        TIMESTAMP,
        DECIMAL,
        DAY,
        KNOWN
    }

    private static final class Check {
        Kind kind;
        int at;
        boolean integer;
        char expect;
        boolean nullable;
        boolean required;
        long min;
        int precision;
        int scale;
        Set<String> values;
        Pattern pattern;
        String table;
        String verdict;
    }

    private transient Map<String, List<Check>> parsed;
    private transient Map<String, Set<String>> ids;
    private transient String staging;

    @Override
    public void open(FunctionContext context) {
        staging = context.getJobParameter(KnownIds.STAGING, null);
        parsed = new HashMap<>();
        ids = new HashMap<>();
    }

    public String eval(String[] f, String checks, String day) throws IOException {
        if (f == null) {
            return "malformed: not a JSON object|";
        }
        for (Check check : checks(checks)) {
            String text = f[check.at];
            boolean wrong;
            switch (check.kind) {
                case MISSING:
                    wrong = text == null || (check.integer && parseInt(text) == null);
                    break;
                case TYPE:
                    char found = f[f.length - 1].charAt(check.at);
                    wrong =
                            found == '-'
                                    ? check.required
                                    : found == 'n' ? !check.nullable : found != check.expect;
                    break;
                case MIN:
                    Long value = text == null ? null : parseInt(text);
                    wrong = value != null && value < check.min;
                    break;
                case ENUM:
                    wrong = text != null && !check.values.contains(text);
                    break;
                case PATTERN:
                    wrong = text != null && !check.pattern.matcher(text).find();
                    break;
                case DATE:
                case TIMESTAMP:
                    wrong = text != null && !isCalendar(text, check.kind == Kind.DATE);
                    break;
                case DECIMAL:
                    wrong = text != null && !fits(text, check.precision, check.scale);
                    break;
                case DAY:
                    wrong = text != null && !text.equals(day);
                    break;
                default: // KNOWN
                    wrong = text == null || !known(check.table).contains(text);
            }
            if (wrong) {
                return check.verdict;
            }
        }
        return null;
    }

    /** Is {@code text} a day (or a time of day) of the calendar, in ISO form? */
    static boolean isCalendar(String text, boolean date) {
        try {
            if (date) {
                LocalDate.parse(text);
            } else {
                LocalDateTime.parse(text);
            }
            return true;
        } catch (DateTimeParseException e) {
            return false;
        }
    }

    /** Does the number {@code text} fit {@code DECIMAL(precision, scale)} without rounding? */
    static boolean fits(String text, int precision, int scale) {
        try {
            BigDecimal value = new BigDecimal(text).stripTrailingZeros();
            return value.scale() <= scale && value.precision() - value.scale() <= precision - scale;
        } catch (NumberFormatException e) {
            return false;
        }
    }

    /** An optional minus sign and 1 to 18 digits (always within a BIGINT), else NULL. */
    static Long parseInt(String text) {
        int n = text.length();
        int start = n > 0 && text.charAt(0) == '-' ? 1 : 0;
        if (n == start || n - start > 18) {
            return null;
        }
        long value = 0;
        for (int i = start; i < n; i++) {
            char c = text.charAt(i);
            if (c < '0' || c > '9') {
                return null;
            }
            value = value * 10 + (c - '0');
        }
        return start == 1 ? -value : value;
    }

    private List<Check> checks(String spec) throws IOException {
        List<Check> found = parsed.get(spec);
        if (found == null) {
            found = new ArrayList<>();
            for (JsonNode node : JSON.readTree(spec)) {
                Check check = new Check();
                check.kind = Kind.valueOf(node.get("check").asText().toUpperCase());
                check.at = node.get("at").asInt();
                check.integer = node.path("int").asBoolean(false);
                check.verdict = node.get("verdict").asText();
                switch (check.kind) {
                    case TYPE:
                        check.expect = node.get("expect").asText().charAt(0);
                        check.nullable = node.get("nullable").asBoolean();
                        check.required = node.get("required").asBoolean();
                        break;
                    case MIN:
                        check.min = node.get("min").asLong();
                        break;
                    case ENUM:
                        check.values = new HashSet<>();
                        node.get("values").forEach(v -> check.values.add(v.asText()));
                        break;
                    case PATTERN:
                        check.pattern = Pattern.compile(node.get("pattern").asText());
                        break;
                    case DECIMAL:
                        check.precision = node.get("precision").asInt();
                        check.scale = node.get("scale").asInt();
                        break;
                    case KNOWN:
                        check.table = node.get("table").asText();
                        break;
                    default:
                }
                found.add(check);
            }
            parsed.put(spec, found);
        }
        return found;
    }

    private Set<String> known(String table) throws IOException {
        Set<String> found = ids.get(table);
        if (found == null) {
            if (staging == null) {
                throw new IllegalStateException(
                        "gate_verdict needs the job parameter " + KnownIds.STAGING);
            }
            found = KnownIds.read(staging, table);
            ids.put(table, found);
        }
        return found;
    }
}
