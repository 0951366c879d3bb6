package dev.gpuos.jit;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * One translation unit for NVRTC: a program name (shown in diagnostics), its source, the headers it may
 * {@code #include} (include name to contents, order preserved because it is part of the cache key), and extra
 * compiler options on top of the ones {@link CudaCompiler} always passes.
 */
public record CompileUnit(String name, String source, Map<String, String> headers, List<String> options) {
    public CompileUnit {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(source, "source");
        Objects.requireNonNull(headers, "headers");
        Objects.requireNonNull(options, "options");
        // Map.copyOf would forget the order; a header set is ordered because NVRTC sees it in order.
        headers = Collections.unmodifiableMap(new LinkedHashMap<>(headers));
        options = List.copyOf(options);
        headers.forEach((k, v) -> {
            Objects.requireNonNull(k, "header name");
            Objects.requireNonNull(v, () -> "contents of header " + k);
        });
    }

    public CompileUnit(String name, String source) {
        this(name, source, Map.of(), List.of());
    }
}
