package dev.dayclear.flink;

import java.io.IOException;
import java.util.HashMap;
import java.util.Map;

import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonFactory;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonParser;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonToken;
import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.table.annotation.FunctionHint;
import org.apache.flink.table.functions.ScalarFunction;

/**
 * {@code json_fields(v)}: a wire record (one JSON object) parsed once into its scalar fields, as the
 * text {@code JSON_VALUE(v, '$.field')} would give for each (strings unescaped, numbers and
 * booleans as written; null, nested objects and arrays absent; a repeated name keeps its last
 * value). NULL when {@code v} is not exactly one JSON object: the gate's "malformed" (jobs/gate.py).
 *
 * <p>The gate reads a dozen fields and checks each against its schema; with {@code JSON_VALUE}
 * every one of those reads parsed the whole record again. Declared non-deterministic so that the
 * planner computes it once per record and passes the map on, instead of copying the call into every
 * expression that reads a field.
 */
@FunctionHint(output = @DataTypeHint("MAP<STRING, STRING>"))
public class JsonFields extends ScalarFunction {
    private static final JsonFactory FACTORY = new JsonFactory();

    public Map<String, String> eval(String text) {
        if (text == null) {
            return null;
        }
        try (JsonParser parser = FACTORY.createParser(text)) {
            if (parser.nextToken() != JsonToken.START_OBJECT) {
                return null;
            }
            Map<String, String> fields = new HashMap<>();
            JsonToken token;
            while ((token = parser.nextToken()) == JsonToken.FIELD_NAME) {
                String name = parser.currentName();
                JsonToken value = parser.nextToken();
                if (value == JsonToken.START_OBJECT || value == JsonToken.START_ARRAY) {
                    parser.skipChildren();
                    fields.remove(name);
                } else if (value == JsonToken.VALUE_NULL) {
                    fields.remove(name);
                } else {
                    fields.put(name, parser.getText());
                }
            }
            if (token != JsonToken.END_OBJECT || parser.nextToken() != null) {
                return null; // not one whole object: truncated, or something after it
            }
            return fields;
        } catch (IOException e) {
            return null; // not JSON
        }
    }

    @Override
    public boolean isDeterministic() {
        return false;
    }
}
