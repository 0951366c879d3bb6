package dev.gpuos.tensor.gpu;

import dev.gpuos.tensor.DType;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The CUDA sources of tensor operators, from the resources in {@code dev/gpuos/tensor/}: the support header
 * {@code gpuos_tensor.cuh} (prepended to every operator), the hand-written families (reduce, softmax, norm,
 * matmul, index_select, fill) instantiated per dtype by a few macros, and the dtype-free helpers (join,
 * copy_bytes). Sources are built once and shared, so equal structures are equal (and identical) strings.
 */
final class OperatorSources {
    private OperatorSources() {}

    static final String HEADER = resource("gpuos_tensor.cuh");
    /** How elementwise operators walk a tile (offsets, packs); follows {@link #HEADER} in their sources. */
    static final String WALK = resource("gpuos_walk.cuh");
    private static final Map<String, String> FAMILIES = new ConcurrentHashMap<>();

    /** Operator families with one instance per element dtype. */
    enum Family {
        REDUCE("reduce", true), SOFTMAX("softmax", true), NORM("norm", true), MATMUL("matmul", true),
        INDEX_SELECT("index_select", false), FILL("fill", false);

        final String file;
        /** Whether the operator uses env->smem (block reductions, matmul tiles): then {@link GpuBackend#MIN_SMEM_BYTES}. */
        final boolean sharedMemory;

        Family(String file, boolean sharedMemory) {
            this.file = file;
            this.sharedMemory = sharedMemory;
        }

        int smemBytes() { return sharedMemory ? GpuBackend.MIN_SMEM_BYTES : 0; }
    }

    /** CUDA storage type of a dtype in operator code. */
    static String storageType(DType t) {
        return switch (t) {
            case F32 -> "float";
            case F64 -> "double";
            case I32 -> "int";
            case I64 -> "long long";
            case F16 -> "gt::f16_t";
            case BF16 -> "gt::bf16_t";
            case BOOL -> "gt::bool_t";
        };
    }

    static String familyName(Family f, DType t) {
        return f.file + "_" + t.name().toLowerCase(Locale.ROOT);
    }

    static String family(Family f, DType t) {
        return FAMILIES.computeIfAbsent(familyName(f, t), k -> {
            // Matmul accumulates F16/BF16/F32 in float, F64 in double, integers in 64 bits (wrapping).
            String acc = t.isFloating() ? (t == DType.F64 ? "double" : "float") : "long long";
            String conv = t.isFloating() ? (t == DType.F64 ? "f64" : "f32") : "i64";
            return "#define GT_T " + storageType(t) + "\n"
                    + "#define GT_DTYPE " + GpuView.code(t).code + "\n"
                    + "#define GT_FLOATING " + t.isFloating() + "\n"
                    + "#define GT_ACC " + acc + "\n"
                    + "#define GT_TO_ACC gt::to_" + conv + "\n"
                    + "#define GT_FROM_ACC gt::from_" + conv + "\n"
                    + HEADER + "#line 1 \"" + f.file + ".cu\"\n" + resource(f.file + ".cu");
        });
    }

    private static final Map<String, OperatorStructure> FAMILY_OPERATORS = new ConcurrentHashMap<>();

    /** The operator of a family and dtype; its key is its name (tagged), its source is at hand. */
    static OperatorStructure familyOperator(Family f, DType t) {
        String name = familyName(f, t);
        OperatorStructure known = FAMILY_OPERATORS.get(name);
        return known != null ? known
                : FAMILY_OPERATORS.computeIfAbsent(name, k -> OperatorStructure.ofSource("family:" + k, k, family(f, t)));
    }

    /**
     * attention.cu for query, keys and bias of {@code qk} and values and output of {@code v} (floating dtypes),
     * accumulated in float, or double where either is F64. Two dtypes, so not a {@link Family}: a model keeps its
     * keys in f32 and its values in the products' dtype, and the output feeds the next product as it is.
     */
    static String attention(DType qk, DType v) {
        String name = "attention_" + qk.name().toLowerCase(Locale.ROOT) + "_" + v.name().toLowerCase(Locale.ROOT);
        return FAMILIES.computeIfAbsent(name, k -> {
            boolean wide = qk == DType.F64 || v == DType.F64;
            return "#define GT_T " + storageType(qk) + "\n"
                    + "#define GT_V " + storageType(v) + "\n"
                    + "#define GT_ACC " + (wide ? "double" : "float") + "\n"
                    + "#define GT_TO_ACC gt::to_" + (wide ? "f64" : "f32") + "\n"
                    + "#define GT_FROM_ACC gt::from_" + (wide ? "f64" : "f32") + "\n"
                    + HEADER + "#line 1 \"attention.cu\"\n" + resource("attention.cu");
        });
    }

    /** The operator of {@link #attention}: 8 KB of shared memory, like the families that use it. */
    static OperatorStructure attentionOperator(DType qk, DType v) {
        String name = "attention_" + qk.name().toLowerCase(Locale.ROOT) + "_" + v.name().toLowerCase(Locale.ROOT);
        OperatorStructure known = FAMILY_OPERATORS.get(name);
        return known != null ? known
                : FAMILY_OPERATORS.computeIfAbsent(name, k -> OperatorStructure.ofSource("family:" + k, k, attention(qk, v)));
    }

    static final String JOIN = resource("join.cu");
    static final String COPY_BYTES = HEADER + "#line 1 \"copy_bytes.cu\"\n" + resource("copy_bytes.cu");
    static final OperatorStructure JOIN_OPERATOR = OperatorStructure.ofSource("join", "join", JOIN);
    static final OperatorStructure COPY_BYTES_OPERATOR = OperatorStructure.ofSource("copy_bytes", "copy_bytes", COPY_BYTES);

    static String resource(String name) {
        try (InputStream in = OperatorSources.class.getResourceAsStream("/dev/gpuos/tensor/" + name)) {
            if (in == null) throw new IllegalStateException("missing resource dev/gpuos/tensor/" + name);
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
