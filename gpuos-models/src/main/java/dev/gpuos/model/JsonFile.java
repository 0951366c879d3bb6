package dev.gpuos.model;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * A JSON object read from a model folder's file (config.json, tokenizer.json, a safetensors header), with typed
 * getters whose errors name the file and the field: "config.json: num_attention_heads: missing".
 */
public final class JsonFile {
    private final Path file;
    private final String prefix;
    private final JsonObject object;

    private JsonFile(Path file, String prefix, JsonObject object) {
        this.file = file;
        this.prefix = prefix;
        this.object = object;
    }

    /** Reads and parses {@code file}, which must hold one JSON object. */
    public static JsonFile read(Path file) {
        try (Reader reader = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            return of(file, JsonParser.parseReader(reader));
        } catch (NoSuchFileException e) {
            throw new ModelFormatException(file + ": missing (the model folder needs this file)", e);
        } catch (IOException e) {
            throw new ModelFormatException(file + ": cannot be read: " + e.getMessage(), e);
        } catch (JsonParseException e) {
            throw new ModelFormatException(file + ": not valid JSON: " + e.getMessage(), e);
        }
    }

    /** Parses {@code text}, which came from {@code file} (for the messages). */
    public static JsonFile parse(Path file, String text) {
        try {
            return of(file, JsonParser.parseString(text));
        } catch (JsonParseException e) {
            throw new ModelFormatException(file + ": not valid JSON: " + e.getMessage(), e);
        }
    }

    private static JsonFile of(Path file, JsonElement root) {
        if (root == null || !root.isJsonObject()) {
            throw new ModelFormatException(file + ": expected a JSON object at the top level");
        }
        return new JsonFile(file, "", root.getAsJsonObject());
    }

    public Path file() { return file; }

    public JsonObject json() { return object; }

    /** The field path of {@code key} in messages, e.g. "model.vocab". */
    public String path(String key) { return prefix + key; }

    public ModelFormatException error(String key, String problem) {
        return ModelFormatException.at(file, path(key), problem);
    }

    public boolean has(String key) {
        JsonElement e = object.get(key);
        return e != null && !e.isJsonNull();
    }

    public JsonElement get(String key) {
        JsonElement e = object.get(key);
        if (e == null || e.isJsonNull()) throw error(key, "missing");
        return e;
    }

    /** The nested object {@code key}; its getters name fields as "key.field". */
    public JsonFile object(String key) {
        JsonElement e = get(key);
        if (!e.isJsonObject()) throw error(key, "expected an object, got " + brief(e));
        return new JsonFile(file, path(key) + ".", e.getAsJsonObject());
    }

    /** {@code element} (found at field path {@code where}) as an object view with the same messages. */
    public JsonFile objectAt(String where, JsonElement element) {
        if (element == null || !element.isJsonObject()) {
            throw ModelFormatException.at(file, prefix + where, "expected an object, got " + brief(element));
        }
        return new JsonFile(file, prefix + where + ".", element.getAsJsonObject());
    }

    public JsonArray array(String key) {
        JsonElement e = get(key);
        if (!e.isJsonArray()) throw error(key, "expected an array, got " + brief(e));
        return e.getAsJsonArray();
    }

    public String string(String key) {
        JsonElement e = get(key);
        if (!(e instanceof JsonPrimitive p) || !p.isString()) throw error(key, "expected a string, got " + brief(e));
        return p.getAsString();
    }

    public String string(String key, String fallback) {
        return has(key) ? string(key) : fallback;
    }

    public boolean bool(String key, boolean fallback) {
        if (!has(key)) return fallback;
        JsonElement e = get(key);
        if (!(e instanceof JsonPrimitive p) || !p.isBoolean()) throw error(key, "expected true or false, got " + brief(e));
        return p.getAsBoolean();
    }

    public double number(String key) {
        JsonElement e = get(key);
        if (!(e instanceof JsonPrimitive p) || !p.isNumber()) throw error(key, "expected a number, got " + brief(e));
        return p.getAsDouble();
    }

    public double number(String key, double fallback) {
        return has(key) ? number(key) : fallback;
    }

    /**
     * A finite number above {@code min} (or at least it, when {@code orEqual}), {@code fallback} when absent: an eps
     * below 0 or a RoPE base of 0 would give NaN or garbage values, not an error, further down.
     */
    public double finite(String key, double fallback, double min, boolean orEqual) {
        if (!has(key)) return fallback;
        double v = number(key);
        if (!Double.isFinite(v) || v < min || (!orEqual && v == min)) {
            throw error(key, "expected a finite number " + (orEqual ? ">= " : "> ") + min + ", got " + get(key));
        }
        return v;
    }

    /** Element {@code i} of array {@code key} as a whole number that fits an int and is at least {@code min}. */
    public int integerAt(String key, int i, int min) {
        JsonElement e = array(key).get(i);
        Long v = wholeLong(e);
        if (v == null || v < min || v > Integer.MAX_VALUE) {
            throw error(key, "element " + i + ": expected a whole number >= " + min + ", got " + brief(e));
        }
        return (int) (long) v;
    }

    /**
     * {@code e} as a whole number that fits a long, else null: 1.5, 1e30, 2^64 or a string are not read as 1,
     * garbage, 0 or anything else.
     */
    public static Long wholeLong(JsonElement e) {
        if (!(e instanceof JsonPrimitive p) || !p.isNumber()) return null;
        try {
            return p.getAsBigDecimal().longValueExact();
        } catch (NumberFormatException | ArithmeticException ex) {
            return null;
        }
    }

    /** A whole number that fits an int and is at least {@code min}. */
    public int integer(String key, int min) {
        double v = number(key);
        if (v != Math.rint(v) || v < min || v > Integer.MAX_VALUE) {
            throw error(key, "expected a whole number >= " + min + ", got " + get(key));
        }
        return (int) v;
    }

    public int integer(String key, int min, int fallback) {
        return has(key) ? integer(key, min) : fallback;
    }

    public long longValue(String key, long min) {
        JsonElement e = get(key);
        Long v = wholeLong(e);
        if (v == null) throw error(key, "expected a whole number, got " + brief(e));
        if (v < min) throw error(key, "expected a whole number >= " + min + ", got " + v);
        return v;
    }

    static String brief(JsonElement e) {
        if (e == null || e.isJsonNull()) return "null";
        String s = e.toString();
        return s.length() > 60 ? s.substring(0, 57) + "..." : s;
    }
}
