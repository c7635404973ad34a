package dev.dayclear.flink;

import java.io.IOException;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonFactory;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonParser;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonToken;
import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.table.annotation.FunctionHint;
import org.apache.flink.table.functions.ScalarFunction;

/**
 * {@code json_fields(v, names)}: a wire record (one JSON object) parsed once into the scalar fields
 * listed in {@code names} (comma-separated, the topic's schema columns), as an array in that order
 * ({@code f[1]} is the first): each as the text {@code JSON_VALUE(v, '$.field')} would give
 * (strings unescaped, numbers and booleans as written; NULL when absent, null, a nested object or
 * an array; a repeated name keeps its last value). Fields not listed are skipped. NULL when {@code
 * v} is not exactly one JSON object: the gate's "malformed" (jobs/gate.py).
 *
 * <p>One more element follows the fields: their JSON types, one character per listed field in the
 * same order ({@code -} absent, {@code n} null, {@code s} string, {@code i} integer number, {@code
 * f} other number, {@code b} boolean, {@code o} object or array), for the gate's {@code type}
 * check: {@code 52} and {@code "52"} have the same text, but the contract wants one of them.
 *
 * <p>The gate reads a dozen fields and checks each against its schema; with {@code JSON_VALUE}
 * every one of those reads parsed the whole record again, and with a map each read searched the
 * map's keys (a profile of the streaming job found most of the gate's time there). Declared
 * non-deterministic so that the planner computes it once per record and passes the array on,
 * instead of copying the call into every expression that reads a field.
 */
@FunctionHint(output = @DataTypeHint("ARRAY<STRING>"))
public class JsonFields extends ScalarFunction {
    private static final JsonFactory FACTORY = new JsonFactory();

    /** The positions of the listed names, per list seen (one per topic). */
    private transient Map<String, Map<String, Integer>> layouts;

    public String[] eval(String text, String names) {
        if (text == null) {
            return null;
        }
        Map<String, Integer> layout = layout(names);
        int n = layout.size();
        String[] fields = new String[n + 1];
        char[] types = new char[n];
        Arrays.fill(types, '-');
        try (JsonParser parser = FACTORY.createParser(text)) {
            if (parser.nextToken() != JsonToken.START_OBJECT) {
                return null;
            }
            JsonToken token;
            while ((token = parser.nextToken()) == JsonToken.FIELD_NAME) {
                Integer at = layout.get(parser.currentName());
                JsonToken value = parser.nextToken();
                if (value == JsonToken.START_OBJECT || value == JsonToken.START_ARRAY) {
                    parser.skipChildren();
                    if (at != null) {
                        fields[at] = null;
                        types[at] = 'o';
                    }
                } else if (at != null) {
                    fields[at] = value == JsonToken.VALUE_NULL ? null : parser.getText();
                    types[at] = typeOf(value);
                }
            }
            if (token != JsonToken.END_OBJECT || parser.nextToken() != null) {
                return null; // not one whole object: truncated, or something after it
            }
            fields[n] = new String(types);
            return fields;
        } catch (IOException e) {
            return null; // not JSON
        }
    }

    private static char typeOf(JsonToken value) {
        switch (value) {
            case VALUE_NULL:
                return 'n';
            case VALUE_STRING:
                return 's';
            case VALUE_NUMBER_INT:
                return 'i';
            case VALUE_NUMBER_FLOAT:
                return 'f';
            default: // VALUE_TRUE, VALUE_FALSE (and anything Jackson adds)
                return 'b';
        }
    }

    private Map<String, Integer> layout(String names) {
        if (layouts == null) {
            layouts = new HashMap<>();
        }
        return layouts.computeIfAbsent(
                names,
                n -> {
                    Map<String, Integer> at = new HashMap<>();
                    String[] listed = n.split(",");
                    for (int i = 0; i < listed.length; i++) {
                        at.put(listed[i], i);
                    }
                    return at;
                });
    }

    @Override
    public boolean isDeterministic() {
        return false;
    }
}
