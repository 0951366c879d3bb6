package dev.gpuos.runtime.layout;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One definition of a C-compatible struct shared by Java and CUDA.
 *
 * <p>Java reads and writes these structs through flyweights that use {@link #offset(String)}; the CUDA side
 * includes the header produced by {@link CudaHeader}. Both come from the same {@code StructDef}, so the two
 * views cannot drift: the generated header also carries {@code static_assert}s on every offset and the size,
 * which nvcc checks in CI.
 *
 * <p>Fields use natural alignment (as a C compiler would lay them out); explicit {@code pad} fields make the
 * cache-line separation between writers visible in the definition.
 */
public final class StructDef {

    /** Scalar field types, with their C spelling and Java carrier. */
    public enum Scalar {
        U8("unsigned char", ValueLayout.JAVA_BYTE),
        U16("unsigned short", ValueLayout.JAVA_SHORT),
        U32("unsigned int", ValueLayout.JAVA_INT),
        I32("int", ValueLayout.JAVA_INT),
        U64("unsigned long long", ValueLayout.JAVA_LONG),
        I64("long long", ValueLayout.JAVA_LONG),
        F64("double", ValueLayout.JAVA_DOUBLE);

        final String cType;
        final ValueLayout layout;

        Scalar(String cType, ValueLayout layout) {
            this.cType = cType;
            this.layout = layout;
        }

        public long size() {
            return layout.byteSize();
        }
    }

    /**
     * A field: either a scalar (array when {@code count > 1}) or a nested struct (array when {@code count > 1}).
     * {@code writer} documents who writes the field (host, agent, worker) — the single-writer rule.
     */
    public record Field(String name, Scalar scalar, StructDef nested, int count, long offset, String writer, String doc) {
        public long elementSize() {
            return scalar != null ? scalar.size() : nested.size();
        }

        public long byteSize() {
            return elementSize() * count;
        }

        long alignment() {
            return scalar != null ? scalar.size() : nested.alignment();
        }
    }

    private final String cName;
    private final String doc;
    private final List<Field> fields;
    private final Map<String, Field> byName;
    private final long size;
    private final long alignment;

    private StructDef(String cName, String doc, List<Field> fields, long size, long alignment) {
        this.cName = cName;
        this.doc = doc;
        this.fields = List.copyOf(fields);
        this.size = size;
        this.alignment = alignment;
        var map = new LinkedHashMap<String, Field>();
        for (Field f : fields) {
            if (map.put(f.name(), f) != null) {
                throw new IllegalArgumentException("duplicate field " + f.name() + " in " + cName);
            }
        }
        this.byName = map;
    }

    public static Builder struct(String cName, String doc) {
        return new Builder(cName, doc);
    }

    public String cName() {
        return cName;
    }

    public String doc() {
        return doc;
    }

    public List<Field> fields() {
        return fields;
    }

    public long size() {
        return size;
    }

    public long alignment() {
        return alignment;
    }

    public Field field(String name) {
        Field f = byName.get(name);
        if (f == null) {
            throw new IllegalArgumentException("no field '" + name + "' in " + cName + "; fields: " + byName.keySet());
        }
        return f;
    }

    /**
     * Byte offset of a field, with dotted paths into nested structs and array element indices:
     * {@code offset("refs[2].strides[3]")}.
     */
    public long offset(String path) {
        StructDef current = this;
        long off = 0;
        for (String part : path.split("\\.")) {
            int index = 0;
            String name = part;
            int bracket = part.indexOf('[');
            if (bracket >= 0) {
                name = part.substring(0, bracket);
                index = Integer.parseInt(part.substring(bracket + 1, part.length() - 1));
            }
            if (current == null) {
                throw new IllegalArgumentException("path " + path + " descends into a scalar");
            }
            Field f = current.field(name);
            if (index < 0 || index >= f.count()) {
                throw new IndexOutOfBoundsException(path + ": index " + index + " outside [0, " + f.count() + ")");
            }
            off += f.offset() + index * f.elementSize();
            current = f.nested();
        }
        return off;
    }

    /** The equivalent {@link MemoryLayout}, padding made explicit, for VarHandle-based access and checks. */
    public MemoryLayout memoryLayout() {
        List<MemoryLayout> members = new ArrayList<>();
        long at = 0;
        for (Field f : fields) {
            if (f.offset() > at) {
                members.add(MemoryLayout.paddingLayout(f.offset() - at));
            }
            MemoryLayout element = f.scalar() != null ? f.scalar().layout : f.nested().memoryLayout();
            MemoryLayout member = f.count() == 1 ? element : MemoryLayout.sequenceLayout(f.count(), element);
            members.add(member.withName(f.name()));
            at = f.offset() + f.byteSize();
        }
        if (size > at) {
            members.add(MemoryLayout.paddingLayout(size - at));
        }
        return MemoryLayout.structLayout(members.toArray(MemoryLayout[]::new)).withName(cName);
    }

    /** Builds a struct with natural alignment; {@link #build()} rounds the size up to the alignment. */
    public static final class Builder {
        private final String cName;
        private final String doc;
        private final List<Field> fields = new ArrayList<>();
        private long at;
        private long alignment = 1;
        private long minAlignment = 1;

        private Builder(String cName, String doc) {
            this.cName = cName;
            this.doc = doc;
        }

        public Builder field(String name, Scalar type, String writer, String doc) {
            return array(name, type, 1, writer, doc);
        }

        public Builder array(String name, Scalar type, int count, String writer, String doc) {
            return add(new Field(name, type, null, count, 0, writer, doc), type.size());
        }

        public Builder nested(String name, StructDef type, int count, String writer, String doc) {
            return add(new Field(name, null, type, count, 0, writer, doc), type.alignment());
        }

        /** Starts the next field on a fresh boundary (e.g. a 128-byte line) so two writers never share a line. */
        public Builder alignTo(long boundary) {
            at = align(at, boundary);
            minAlignment = Math.max(minAlignment, boundary);
            return this;
        }

        private Builder add(Field f, long align) {
            if (f.count() < 1) {
                throw new IllegalArgumentException("count must be >= 1: " + f.name());
            }
            at = align(at, align);
            fields.add(new Field(f.name(), f.scalar(), f.nested(), f.count(), at, f.writer(), f.doc()));
            at += f.byteSize();
            alignment = Math.max(alignment, align);
            return this;
        }

        public StructDef build() {
            long align = Math.max(alignment, minAlignment);
            return new StructDef(cName, doc, fields, align(at, align), align);
        }

        private static long align(long value, long boundary) {
            return (value + boundary - 1) / boundary * boundary;
        }
    }
}
