package dev.gpuos.model.tokenizer;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import dev.gpuos.model.JsonFile;
import dev.gpuos.model.ModelFormatException;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;

/**
 * A Hugging Face {@code tokenizer.json} in pure Java: WordPiece (BERT) and byte-level BPE (GPT-2, Llama 3). The
 * pipeline is the one of the tokenizers library: added tokens are cut out first, then each remaining piece is
 * normalized, pre-tokenized into words and tokenized by the model, and the post-processor adds the special tokens.
 * Components that tokenizer.json can name but this reader does not implement fail at load with the field's name.
 * A loaded Tokenizer is safe to use from several threads.
 */
public final class Tokenizer {
    private final Path file;
    private final AddedTokens added;
    private final Normalizer normalizer;
    private final PreTokenizer preTokenizer;
    private final TokenModel model;
    private final PostProcessor postProcessor;
    private final TokenDecoder decoder;
    private final Map<Integer, String> idToToken = new HashMap<>();
    private final Map<String, Integer> tokenToId = new HashMap<>();
    private final java.util.Set<Integer> specialIds = new java.util.HashSet<>();
    private int truncateTo = Integer.MAX_VALUE;   // tokenizer.json "truncation": max_length (special tokens included)
    private boolean truncateLeft;

    private Tokenizer(Path file, AddedTokens added, Normalizer normalizer, PreTokenizer preTokenizer, TokenModel model,
                      PostProcessor postProcessor, TokenDecoder decoder) {
        this.file = file;
        this.added = added;
        this.normalizer = normalizer;
        this.preTokenizer = preTokenizer;
        this.model = model;
        this.postProcessor = postProcessor;
        this.decoder = decoder;
        model.vocab().forEach((token, id) -> {
            idToToken.put(id, token);
            tokenToId.put(token, id);
        });
        for (AddedTokens.Token t : added.all()) {
            idToToken.put(t.id(), t.content());
            tokenToId.put(t.content(), t.id());
            if (t.special()) specialIds.add(t.id());
        }
    }

    /** Reads {@code tokenizer.json} (a file, or a model folder holding one). */
    public static Tokenizer load(Path path) {
        Path file = path.toFile().isDirectory() ? path.resolve("tokenizer.json") : path;
        JsonFile json = JsonFile.read(file);
        List<AddedTokens.Token> addedTokens = new ArrayList<>();
        if (json.has("added_tokens")) {
            JsonArray arr = json.array("added_tokens");
            for (int i = 0; i < arr.size(); i++) {
                JsonFile t = json.objectAt("added_tokens[" + i + "]", arr.get(i));
                addedTokens.add(new AddedTokens.Token(t.integer("id", 0), t.string("content"), t.bool("single_word", false),
                        t.bool("lstrip", false), t.bool("rstrip", false), t.bool("normalized", false), t.bool("special", false)));
            }
        }
        TokenModel model = model(json.object("model"));
        Map<String, Integer> vocab = new HashMap<>(model.vocab());
        for (AddedTokens.Token t : addedTokens) vocab.put(t.content(), t.id());
        Tokenizer tokenizer = new Tokenizer(file, new AddedTokens(addedTokens),
                json.has("normalizer") ? normalizer(json.object("normalizer")) : null,
                json.has("pre_tokenizer") ? preTokenizer(json.object("pre_tokenizer")) : null,
                model,
                json.has("post_processor") ? postProcessor(json.object("post_processor"), vocab) : PostProcessor.Identity.INSTANCE,
                json.has("decoder") ? decoder(json.object("decoder")) : TokenDecoder.Join.INSTANCE);
        if (json.has("truncation")) {
            JsonFile t = json.object("truncation");
            tokenizer.truncateTo = t.integer("max_length", 1);
            String direction = t.string("direction", "Right");
            if (!direction.equals("Right") && !direction.equals("Left")) throw t.error("direction", "expected Right or Left, got " + direction);
            tokenizer.truncateLeft = direction.equals("Left");
            if (t.integer("stride", 0, 0) != 0) throw t.error("stride", "overflowing windows (stride > 0) are not supported");
        }
        return tokenizer;
    }

    public Path file() { return file; }

    /**
     * Ids of {@code text} with the post-processor's special tokens (as tokenizers' encode(text)), truncated as
     * tokenizer.json's "truncation" says, if it says.
     */
    public int[] encode(String text) { return encode(text, true); }

    public int[] encode(String text, boolean addSpecialTokens) {
        return encode(text, addSpecialTokens, truncateTo);
    }

    /** tokenizer.json's truncation length (special tokens included), or Integer.MAX_VALUE when it has none. */
    public int truncationLength() { return truncateTo; }

    /**
     * Ids of {@code text}, at most {@code maxLength} of them with the special tokens: as tokenizers' truncation,
     * the text's own tokens are cut (on tokenizer.json's side, right by default) before the post-processor adds
     * the special ones.
     */
    public int[] encode(String text, boolean addSpecialTokens, int maxLength) {
        int specials = addSpecialTokens ? postProcessor.single(List.of()).size() : 0;
        if (maxLength <= specials) {
            throw new IllegalArgumentException("maxLength " + maxLength + " leaves no room next to " + specials + " special tokens");
        }
        List<Integer> ids = new ArrayList<>();
        for (AddedTokens.Piece raw : added.splitRaw(text)) {
            if (raw.isToken()) {
                ids.add(raw.tokenId());
                continue;
            }
            String normalized = normalizer == null ? raw.text() : normalizer.normalize(raw.text());
            for (AddedTokens.Piece piece : added.splitNormalized(normalized)) {
                if (piece.isToken()) {
                    ids.add(piece.tokenId());
                    continue;
                }
                List<String> words = preTokenizer == null ? List.of(piece.text()) : preTokenizer.split(piece.text());
                for (String w : words) model.tokenize(w, ids);
            }
        }
        int keep = maxLength - specials;
        if (ids.size() > keep) ids = truncateLeft ? ids.subList(ids.size() - keep, ids.size()) : ids.subList(0, keep);
        List<Integer> out = addSpecialTokens ? postProcessor.single(ids) : ids;
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    /** Text of {@code ids} (as tokenizers' decode); unknown ids are skipped. */
    public String decode(int[] ids, boolean skipSpecialTokens) {
        List<String> tokens = new ArrayList<>(ids.length);
        for (int id : ids) {
            if (skipSpecialTokens && specialIds.contains(id)) continue;
            String t = idToToken.get(id);
            if (t != null) tokens.add(t);
        }
        return decoder.decode(tokens);
    }

    public int vocabSize() {
        int max = -1;
        for (int id : idToToken.keySet()) max = Math.max(max, id);
        return max + 1;
    }

    public OptionalInt tokenId(String token) {
        Integer id = tokenToId.get(token);
        return id == null ? OptionalInt.empty() : OptionalInt.of(id);
    }

    public String token(int id) { return idToToken.get(id); }

    public boolean isSpecial(int id) { return specialIds.contains(id); }

    /**
     * Decodes a growing sequence for printing as tokens arrive: each call returns the new text, holding back an
     * incomplete UTF-8 character (a byte-level token may end mid-character) until the next token completes it.
     */
    public final class StreamDecoder {
        private final List<Integer> ids = new ArrayList<>();
        private int printed;

        public String next(int id) {
            ids.add(id);
            return take(false);
        }

        /** The text held back at the end (bytes that never completed a character decode as U+FFFD). */
        public String finish() {
            return take(true);
        }

        private String take(boolean all) {
            String text = decode(ids.stream().mapToInt(Integer::intValue).toArray(), true);
            if ((!all && text.endsWith("\uFFFD")) || text.length() < printed) return "";
            String fresh = text.substring(printed);
            printed = text.length();
            return fresh;
        }
    }

    public StreamDecoder streamDecoder() { return new StreamDecoder(); }

    // --- tokenizer.json components ---------------------------------------------------------------------------------

    private static String type(JsonFile spec, String component, String fallback) {
        if (spec.has("type")) return spec.string("type");
        if (fallback != null) return fallback;
        throw spec.error("type", "missing: cannot tell which " + component + " this is");
    }

    private static ModelFormatException unsupported(JsonFile spec, String component, String type, String supported) {
        return spec.error("type", "unsupported " + component + " '" + type + "' (supported: " + supported + ")");
    }

    private static Normalizer normalizer(JsonFile spec) {
        String type = type(spec, "normalizer", null);
        return switch (type) {
            case "BertNormalizer" -> {
                boolean lowercase = spec.bool("lowercase", true);
                boolean strip = spec.has("strip_accents") ? spec.bool("strip_accents", lowercase) : lowercase;
                yield new Normalizer.Bert(spec.bool("clean_text", true), spec.bool("handle_chinese_chars", true), strip, lowercase);
            }
            case "Lowercase" -> Normalizer.Lowercase.INSTANCE;
            case "StripAccents" -> Normalizer.StripAccents.INSTANCE;
            case "NFC" -> new Normalizer.Unicode(java.text.Normalizer.Form.NFC);
            case "NFD" -> new Normalizer.Unicode(java.text.Normalizer.Form.NFD);
            case "NFKC" -> new Normalizer.Unicode(java.text.Normalizer.Form.NFKC);
            case "NFKD" -> new Normalizer.Unicode(java.text.Normalizer.Form.NFKD);
            case "Sequence" -> {
                List<Normalizer> steps = new ArrayList<>();
                JsonArray arr = spec.array("normalizers");
                for (int i = 0; i < arr.size(); i++) steps.add(normalizer(spec.objectAt("normalizers[" + i + "]", arr.get(i))));
                yield new Normalizer.Sequence(steps);
            }
            default -> throw unsupported(spec, "normalizer", type, "BertNormalizer, Lowercase, StripAccents, NFC, NFD, NFKC, NFKD, Sequence");
        };
    }

    private static PreTokenizer preTokenizer(JsonFile spec) {
        String type = type(spec, "pre_tokenizer", null);
        return switch (type) {
            case "BertPreTokenizer" -> PreTokenizer.Bert.INSTANCE;
            case "Whitespace" -> PreTokenizer.Whitespace.INSTANCE;
            case "WhitespaceSplit" -> PreTokenizer.WhitespaceSplit.INSTANCE;
            case "ByteLevel" -> new PreTokenizer.ByteLevelSplit(spec.bool("add_prefix_space", true), spec.bool("use_regex", true));
            case "Split" -> {
                JsonFile pattern = spec.object("pattern");
                java.util.regex.Pattern p;
                if (pattern.has("Regex")) {
                    try {
                        p = PreTokenizer.compile(pattern.string("Regex"));
                    } catch (java.util.regex.PatternSyntaxException e) {
                        throw pattern.error("Regex", "cannot be compiled: " + e.getDescription());
                    }
                } else {
                    p = java.util.regex.Pattern.compile(java.util.regex.Pattern.quote(pattern.string("String")));
                }
                String behavior = spec.string("behavior");
                PreTokenizer.Behavior b = switch (behavior) {
                    case "Removed" -> PreTokenizer.Behavior.REMOVED;
                    case "Isolated" -> PreTokenizer.Behavior.ISOLATED;
                    case "MergedWithPrevious" -> PreTokenizer.Behavior.MERGED_WITH_PREVIOUS;
                    case "MergedWithNext" -> PreTokenizer.Behavior.MERGED_WITH_NEXT;
                    case "Contiguous" -> PreTokenizer.Behavior.CONTIGUOUS;
                    default -> throw spec.error("behavior", "unknown split behavior '" + behavior + "'");
                };
                yield new PreTokenizer.Split(p, b, spec.bool("invert", false));
            }
            case "Sequence" -> {
                List<PreTokenizer> steps = new ArrayList<>();
                JsonArray arr = spec.array("pretokenizers");
                for (int i = 0; i < arr.size(); i++) steps.add(preTokenizer(spec.objectAt("pretokenizers[" + i + "]", arr.get(i))));
                yield new PreTokenizer.Sequence(steps);
            }
            default -> throw unsupported(spec, "pre_tokenizer", type, "BertPreTokenizer, ByteLevel, Split, Whitespace, WhitespaceSplit, Sequence");
        };
    }

    private static Map<String, Integer> vocab(JsonFile spec) {
        Map<String, Integer> vocab = new HashMap<>();
        for (Map.Entry<String, JsonElement> e : spec.object("vocab").json().entrySet()) {
            vocab.put(e.getKey(), id(spec, "vocab", "the id of '" + e.getKey() + "'", e.getValue()));
        }
        return vocab;
    }

    private static boolean isString(JsonElement e) {
        return e.isJsonPrimitive() && e.getAsJsonPrimitive().isString();
    }

    /** A token id: a whole number from 0 to Integer.MAX_VALUE (1.5 or -1 would be read as a different token). */
    private static int id(JsonFile spec, String field, String what, JsonElement v) {
        Long id = JsonFile.wholeLong(v);
        if (id == null || id < 0 || id > Integer.MAX_VALUE) {
            throw spec.error(field, what + " is not a token id (a whole number >= 0): " + v);
        }
        return (int) (long) id;
    }

    private static TokenModel model(JsonFile spec) {
        String type = type(spec, "model", spec.has("merges") ? "BPE" : spec.has("vocab") ? "WordPiece" : null);
        Map<String, Integer> vocab = vocab(spec);
        return switch (type) {
            case "WordPiece" -> {
                String unk = spec.string("unk_token", "[UNK]");
                Integer unkId = vocab.get(unk);
                if (unkId == null) throw spec.error("unk_token", "'" + unk + "' is not in model.vocab");
                yield new TokenModel.WordPiece(vocab, unk, unkId, spec.string("continuing_subword_prefix", "##"),
                        spec.integer("max_input_chars_per_word", 1, 100));
            }
            case "BPE" -> {
                for (String option : new String[]{"continuing_subword_prefix", "end_of_word_suffix"}) {
                    if (spec.has(option) && !spec.string(option).isEmpty()) {
                        throw spec.error(option, "BPE with " + option + " is not supported");
                    }
                }
                if (spec.bool("byte_fallback", false)) throw spec.error("byte_fallback", "BPE byte_fallback is not supported");
                if (spec.has("dropout") && spec.number("dropout") > 0) throw spec.error("dropout", "BPE dropout is not supported");
                List<String[]> merges = new ArrayList<>();
                JsonArray arr = spec.array("merges");
                for (int i = 0; i < arr.size(); i++) {
                    JsonElement m = arr.get(i);
                    String[] pair;
                    if (m.isJsonArray() && m.getAsJsonArray().size() == 2 && isString(m.getAsJsonArray().get(0))
                            && isString(m.getAsJsonArray().get(1))) {
                        pair = new String[]{m.getAsJsonArray().get(0).getAsString(), m.getAsJsonArray().get(1).getAsString()};
                    } else if (isString(m)) {
                        String s = m.getAsString();
                        int space = s.indexOf(' ', 1);
                        if (space < 0 || s.indexOf(' ', space + 1) >= 0) throw spec.error("merges[" + i + "]", "expected \"a b\", got \"" + s + "\"");
                        pair = new String[]{s.substring(0, space), s.substring(space + 1)};
                    } else {
                        throw spec.error("merges[" + i + "]", "expected \"a b\" or [\"a\", \"b\"], got " + m);
                    }
                    // As tokenizers (MergeTokenOutOfVocabulary): a merge outside the vocabulary is a corrupt file.
                    for (String token : new String[]{pair[0], pair[1], pair[0] + pair[1]}) {
                        if (!vocab.containsKey(token)) {
                            throw spec.error("merges[" + i + "]", "'" + token + "' of the merge " + m + " is not in model.vocab");
                        }
                    }
                    merges.add(pair);
                }
                Integer unkId = null;
                if (spec.has("unk_token")) {
                    unkId = vocab.get(spec.string("unk_token"));
                    if (unkId == null) throw spec.error("unk_token", "'" + spec.string("unk_token") + "' is not in model.vocab");
                }
                yield new TokenModel.Bpe(vocab, merges, spec.bool("ignore_merges", false), unkId, spec.bool("fuse_unk", false));
            }
            default -> throw unsupported(spec, "model", type, "WordPiece, BPE");
        };
    }

    private static int[] idsOf(JsonFile spec, String field, Map<String, Integer> vocab, String token) {
        Integer id = vocab.get(token);
        if (id == null) throw spec.error(field, "token '" + token + "' is not in the vocabulary");
        return new int[]{id};
    }

    private static PostProcessor postProcessor(JsonFile spec, Map<String, Integer> vocab) {
        String type = type(spec, "post_processor", null);
        return switch (type) {
            case "TemplateProcessing" -> {
                Map<String, int[]> special = new HashMap<>();
                if (spec.has("special_tokens")) {
                    for (Map.Entry<String, JsonElement> e : spec.object("special_tokens").json().entrySet()) {
                        JsonArray ids = spec.objectAt("special_tokens." + e.getKey(), e.getValue()).array("ids");
                        int[] arr = new int[ids.size()];
                        for (int i = 0; i < arr.length; i++) arr[i] = id(spec, "special_tokens." + e.getKey() + ".ids", "element " + i, ids.get(i));
                        special.put(e.getKey(), arr);
                    }
                }
                List<int[]> items = new ArrayList<>();
                JsonArray single = spec.array("single");
                for (int i = 0; i < single.size(); i++) {
                    JsonFile item = spec.objectAt("single[" + i + "]", single.get(i));
                    if (item.has("Sequence")) {
                        items.add(null);
                    } else if (item.has("SpecialToken")) {
                        String id = item.object("SpecialToken").string("id");
                        int[] ids = special.get(id);
                        items.add(ids != null ? ids : idsOf(item, "SpecialToken.id", vocab, id));
                    } else {
                        throw item.error("", "expected a Sequence or a SpecialToken item, got " + single.get(i));
                    }
                }
                yield new PostProcessor.Template(items);
            }
            case "BertProcessing", "RobertaProcessing" -> {
                JsonArray cls = spec.array("cls"), sep = spec.array("sep");
                if (cls.size() != 2) throw spec.error("cls", "expected [token, id], got " + cls);
                if (sep.size() != 2) throw spec.error("sep", "expected [token, id], got " + sep);
                yield new PostProcessor.Template(java.util.Arrays.asList(new int[]{id(spec, "cls", "the id", cls.get(1))}, null,
                        new int[]{id(spec, "sep", "the id", sep.get(1))}));
            }
            case "ByteLevel" -> PostProcessor.Identity.INSTANCE;
            case "Sequence" -> {
                List<PostProcessor> steps = new ArrayList<>();
                JsonArray arr = spec.array("processors");
                for (int i = 0; i < arr.size(); i++) steps.add(postProcessor(spec.objectAt("processors[" + i + "]", arr.get(i)), vocab));
                yield new PostProcessor.Sequence(steps);
            }
            default -> throw unsupported(spec, "post_processor", type, "TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel, Sequence");
        };
    }

    private static TokenDecoder decoder(JsonFile spec) {
        String type = type(spec, "decoder", null);
        return switch (type) {
            case "ByteLevel" -> TokenDecoder.ByteLevelDecoder.INSTANCE;
            case "WordPiece" -> new TokenDecoder.WordPiece(spec.string("prefix", "##"), spec.bool("cleanup", true));
            default -> throw unsupported(spec, "decoder", type, "ByteLevel, WordPiece");
        };
    }

}
