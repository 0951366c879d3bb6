package dev.gpuos.bench;

import dev.gpuos.GpuOS;
import dev.gpuos.model.LlamaModel;
import dev.gpuos.testkit.NodeRecorder;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.classfile.Attributes;
import java.lang.classfile.ClassFile;
import java.lang.classfile.ClassModel;
import java.lang.classfile.MethodModel;
import java.lang.classfile.instruction.ConstantInstruction;
import java.lang.classfile.instruction.ExceptionCatch;
import java.lang.classfile.instruction.NewMultiArrayInstruction;
import java.lang.classfile.instruction.NewObjectInstruction;
import java.lang.classfile.instruction.NewReferenceArrayInstruction;
import java.lang.classfile.instruction.TypeCheckInstruction;
import java.lang.classfile.constantpool.ClassEntry;
import java.lang.classfile.constantpool.MemberRefEntry;
import java.lang.classfile.constantpool.PoolEntry;
import java.lang.constant.ClassDesc;
import java.lang.constant.ConstantDescs;
import java.lang.constant.MethodTypeDesc;
import java.net.URISyntaxException;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The package graph flows one way, cuda -> runtime -> jit -> GpuOS -> tensor -> testkit -> model -> bench, and GpuOS is the
 * one door from the tensor layer (and everything above it) into the runtime. Checked on the compiled classes of
 * every module: each class's constant pool lists every class it names (a call, a field access, a cast, a
 * {@code new}), whether the source imported it, spelled it out or reached it through a method's return value
 * ({@code os.queue().completed()} names TaskQueue). Lives in gpuos-bench because only the top of the graph sees
 * every module's classes.
 */
class PackageDirectionTest {

    /** The stages in pipeline order; a class may name classes of its own stage and earlier ones only. */
    static final List<String> STAGES = List.of(
            "dev.gpuos.cuda", "dev.gpuos.runtime", "dev.gpuos.jit", "dev.gpuos",
            "dev.gpuos.tensor", "dev.gpuos.testkit", "dev.gpuos.model", "dev.gpuos.bench");

    /** Stages above the door: they reach cuda, runtime and jit only through GpuOS. */
    static final Set<String> ABOVE_THE_DOOR = Set.of("dev.gpuos.tensor", "dev.gpuos.testkit", "dev.gpuos.model",
            "dev.gpuos.bench");

    /**
     * The runtime classes that the layers above the door may name: the values GpuOS's methods take and return
     * (a batch of tasks, a template, an operator handle, device memory and its exhaustion), and the task
     * descriptor format that the tensor layer encodes tasks in and generates operator sources against. The
     * runtime's machinery (DeviceRuntime, TaskQueue, HostControl, the memory arena, the simulator) is not here:
     * the tensor layer asks GpuOS (completed(), pinMapped(), copyToDeviceAsync(), ...). Nested classes are named
     * with their '$': the runtime settings in GpuOSOptions and the worker's description in GpuOS.Stats.
     */
    static final Set<String> DOOR_VOCABULARY = Set.of(
            "dev.gpuos.runtime.DeviceRuntime$Config", "dev.gpuos.runtime.DeviceRuntime$GenerationInfo",
            "dev.gpuos.runtime.TaskBatch", "dev.gpuos.runtime.TaskTemplate", "dev.gpuos.runtime.OperatorRef",
            "dev.gpuos.runtime.DeviceBuffer", "dev.gpuos.runtime.memory.DeviceBlock",
            "dev.gpuos.runtime.memory.DeviceOutOfMemoryException",
            "dev.gpuos.runtime.layout.Layouts", "dev.gpuos.runtime.layout.TaskFields",
            "dev.gpuos.runtime.layout.DTypeCode", "dev.gpuos.runtime.layout.StructDef");

    /**
     * Classes above the door that measure the layers below it on purpose, so they must name them: a benchmark of
     * the runtime's queue and worker, the worker's stamps of a captured row chain, the host-cost benchmark over
     * the simulated device, and the launch-per-op baseline that compiles and launches kernels without GPUOS.
     */
    static final Set<String> MEASURE_BELOW_THE_DOOR = Set.of(
            "dev.gpuos.bench.RuntimeBenchmark", "dev.gpuos.bench.RowChainLegs",
            "dev.gpuos.bench.workloads.HostCostBenchmark", "dev.gpuos.bench.workloads.LaunchPerOpRun");

    @Test
    void everyModuleFollowsThePipelineAndGoesThroughTheDoor() {
        Map<String, Set<String>> names = new TreeMap<>();
        for (Class<?> marker : List.of(GpuOS.class, NodeRecorder.class, LlamaModel.class, Main.class)) {
            names.putAll(namedClasses(classesOf(marker)));
        }
        assertTrue(names.size() > 200, "found only " + names.size() + " classes: is the scan looking at the right place?");
        assertTrue(names.containsKey("dev.gpuos.tensor.Tensor") && names.containsKey("dev.gpuos.model.LlamaModel")
                && names.containsKey("dev.gpuos.bench.Main") && names.containsKey("dev.gpuos.tensor.fuzz.DifferentialFuzzer"),
                "the scan missed a module");
        List<String> violations = violations(names);
        assertTrue(violations.isEmpty(), violations.size() + " references against the package graph:\n  "
                + String.join("\n  ", violations));
    }

    /** The check fails on a violating class: a tensor class calling the CUDA driver, built here as bytes. */
    @Test
    void aTensorClassNamingTheDriverIsReported() {
        byte[] bad = ClassFile.of().build(ClassDesc.of("dev.gpuos.tensor.Shortcut"), cls -> cls
                .withMethodBody("available", MethodTypeDesc.of(ConstantDescs.CD_boolean), ClassFile.ACC_STATIC, code -> code
                        .invokestatic(ClassDesc.of("dev.gpuos.cuda.Driver"), "isAvailable",
                                MethodTypeDesc.of(ConstantDescs.CD_boolean))
                        .ireturn()));
        byte[] queue = ClassFile.of().build(ClassDesc.of("dev.gpuos.model.Peek"), cls -> cls
                .withMethodBody("done", MethodTypeDesc.of(ConstantDescs.CD_long,
                        ClassDesc.of("dev.gpuos.runtime.TaskQueue")), ClassFile.ACC_STATIC, code -> code
                        .aload(0)
                        .invokevirtual(ClassDesc.of("dev.gpuos.runtime.TaskQueue"), "completed",
                                MethodTypeDesc.of(ConstantDescs.CD_long))
                        .lreturn()));
        byte[] upward = ClassFile.of().build(ClassDesc.of("dev.gpuos.runtime.Upward"), cls -> cls
                .withMethodBody("t", MethodTypeDesc.of(ConstantDescs.CD_Object), ClassFile.ACC_STATIC, code -> code
                        .new_(ClassDesc.of("dev.gpuos.tensor.TensorScope"))
                        .areturn()));
        Map<String, Set<String>> names = new TreeMap<>();
        for (byte[] b : List.of(bad, queue, upward)) names.putAll(namedClasses(ClassFile.of().parse(b)));
        assertEquals(List.of(
                "dev.gpuos.model.Peek -> dev.gpuos.runtime.TaskQueue: above the door, not through GpuOS",
                "dev.gpuos.runtime.Upward -> dev.gpuos.tensor.TensorScope: reaches back up (dev.gpuos.runtime -> dev.gpuos.tensor)",
                "dev.gpuos.tensor.Shortcut -> dev.gpuos.cuda.Driver: above the door, not through GpuOS"),
                violations(names));
    }

    static List<String> violations(Map<String, Set<String>> namesByClass) {
        List<String> out = new ArrayList<>();
        for (var e : namesByClass.entrySet()) {
            String from = e.getKey();
            int fromStage = stageOf(from);
            for (String to : e.getValue()) {
                int toStage = stageOf(to);
                if (fromStage < 0 || toStage < 0) {
                    out.add(from + " -> " + to + ": a package outside the stage table " + STAGES + "; add it there");
                } else if (toStage > fromStage) {
                    out.add(from + " -> " + to + ": reaches back up (" + STAGES.get(fromStage) + " -> "
                            + STAGES.get(toStage) + ")");
                } else if (ABOVE_THE_DOOR.contains(STAGES.get(fromStage)) && toStage < STAGES.indexOf("dev.gpuos")
                        && !DOOR_VOCABULARY.contains(to) && !DOOR_VOCABULARY.contains(topLevel(to))
                        && !MEASURE_BELOW_THE_DOOR.contains(from)) {
                    out.add(from + " -> " + to + ": above the door, not through GpuOS");
                }
            }
        }
        return out;
    }

    /** The stage a class belongs to (its package or the nearest enclosing stage package), -1 for none. */
    static int stageOf(String className) {
        String pkg = className.substring(0, className.lastIndexOf('.'));
        int best = -1;
        for (int i = 0; i < STAGES.size(); i++) {
            String s = STAGES.get(i);
            boolean inside = pkg.equals(s) || (pkg.startsWith(s + ".") && !s.equals("dev.gpuos"));
            if (inside && (best < 0 || s.length() > STAGES.get(best).length())) best = i;
        }
        return best;
    }

    /**
     * Top-level class name (its nested classes count as it) -> the dev.gpuos classes it names, as binary names
     * ({@code dev.gpuos.runtime.DeviceRuntime$Config}): a nested value type may pass the door where its outer class may not.
     */
    static Map<String, Set<String>> namedClasses(List<ClassModel> classes) {
        Map<String, Set<String>> out = new TreeMap<>();
        for (ClassModel cm : classes) {
            namedClasses(cm).forEach((k, v) -> out.computeIfAbsent(k, x -> new TreeSet<>()).addAll(v));
        }
        return out;
    }

    static Map<String, Set<String>> namedClasses(ClassModel cm) {
        String from = topLevel(cm.thisClass().asInternalName());
        // An InnerClasses entry names the outer class of every nested class used (DeviceRuntime for
        // DeviceRuntime$Config); that alone is no use of the outer class, so such an entry counts only where
        // something else names it too.
        Set<ClassEntry> outerOnly = new HashSet<>();
        cm.findAttribute(Attributes.innerClasses()).ifPresent(a -> a.classes().forEach(ic ->
                ic.outerClass().ifPresent(outerOnly::add)));
        outerOnly.removeAll(usedElsewhere(cm));
        Set<String> to = new TreeSet<>();
        for (PoolEntry e : cm.constantPool()) {
            if (e instanceof ClassEntry ce && !outerOnly.contains(ce)) {
                String name = ce.asInternalName();
                int array = name.lastIndexOf('[');
                if (array >= 0) name = name.substring(array + 1).replaceFirst("^L(.*);$", "$1");
                if (name.startsWith("dev/gpuos/")) to.add(name.replace('/', '.'));
            }
        }
        to.removeIf(t -> topLevel(t).equals(from));
        return Map.of(from, to);
    }

    /** Class entries that a member reference, an instruction, a catch or the class's supertypes use. */
    private static Set<ClassEntry> usedElsewhere(ClassModel cm) {
        Set<ClassEntry> used = new HashSet<>();
        for (PoolEntry e : cm.constantPool()) {
            if (e instanceof MemberRefEntry m) used.add(m.owner());
        }
        cm.superclass().ifPresent(used::add);
        used.addAll(cm.interfaces());
        for (MethodModel m : cm.methods()) {
            m.code().ifPresent(code -> code.forEach(el -> {
                switch (el) {
                    case NewObjectInstruction i -> used.add(i.className());
                    case TypeCheckInstruction i -> used.add(i.type());
                    case NewReferenceArrayInstruction i -> used.add(i.componentType());
                    case NewMultiArrayInstruction i -> used.add(i.arrayType());
                    case ConstantInstruction.LoadConstantInstruction i when i.constantEntry() instanceof ClassEntry c -> used.add(c);
                    case ExceptionCatch c -> c.catchType().ifPresent(used::add);
                    default -> { }
                }
            }));
        }
        return used;
    }

    /** {@code a.b.C} for {@code a/b/C$Nested} or {@code a.b.C$Nested}. */
    private static String topLevel(String internalName) {
        int nested = internalName.indexOf('$');
        return (nested < 0 ? internalName : internalName.substring(0, nested)).replace('/', '.');
    }

    /** The parsed classes of the directory or jar that {@code marker} was loaded from. */
    static List<ClassModel> classesOf(Class<?> marker) {
        try {
            Path where = Path.of(marker.getProtectionDomain().getCodeSource().getLocation().toURI());
            if (Files.isDirectory(where)) return parseAll(where);
            try (FileSystem jar = FileSystems.newFileSystem(where)) {
                return parseAll(jar.getPath("/"));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    private static List<ClassModel> parseAll(Path root) throws IOException {
        List<ClassModel> out = new ArrayList<>();
        try (Stream<Path> files = Files.walk(root)) {
            for (Path p : files.filter(f -> f.toString().endsWith(".class")
                    && !f.getFileName().toString().equals("module-info.class")).toList()) {
                out.add(ClassFile.of().parse(Files.readAllBytes(p)));
            }
        }
        return out;
    }
}
