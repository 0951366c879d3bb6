package dev.gpuos.tensor.gpu;

import dev.gpuos.runtime.WorkerSources;
import dev.gpuos.runtime.layout.Layouts;
import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Storage;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.TensorScope;
import dev.gpuos.tensor.cpu.CpuBackend;
import dev.gpuos.testkit.NodeRecorder.Captured;
import dev.gpuos.testkit.NodeRecorder;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Generated row-fused operators and operand-table elementwise operators run on the HOST against the CPU backend:
 * nvcc compiles them into {@code row_fused_host.cu} (a team of one thread, the elementwise walk's 256 threads one
 * after another; a resident row-fused operator by a block of 256 threads with barriers, as the worker runs it), with each case's operands laid out exactly as the planner lays them out for the device
 * (coalesced row and column dims, operand tables past 4 operands, inputs at their storage offsets and strides,
 * broadcast weights). Streamed (every output stored and compared) and captured (only what the capture stores).
 * F32 only: the conversions of other dtypes and the team reductions are the device's, covered by RowFusionGpuTest.
 * Skips without nvcc.
 */
class RowFusedHostTest {

    /** One program: its inputs (base shapes and how each is viewed) and the tensors it returns. */
    record Case(String name, List<long[]> bases, Function<List<Tensor>, List<Tensor>> views,
                Function<List<Tensor>, List<Tensor>> program, boolean captured) {}

    static List<Case> cases() {
        List<Case> out = new ArrayList<>();
        for (boolean cap : new boolean[]{false, true}) {
            for (long len : new long[]{1, 5, 33, 300, 2047}) {
                out.add(new Case("rms chain " + len, List.of(new long[]{3, len}, new long[]{3, len}, new long[]{len}, new long[]{len}),
                        b -> b, in -> {
                            Tensor h = in.get(0).add(in.get(1));
                            Tensor y = h.rmsNorm(new long[]{len}, null, 1e-6).mul(in.get(2));
                            Tensor h2 = y.add(in.get(3));
                            return List.of(h, y, h2, h2.rmsNorm(new long[]{len}, null, 1e-2).add(0.5));
                        }, cap));
                out.add(new Case("layer_norm transposed " + len, List.of(new long[]{len, 4}, new long[]{len}, new long[]{len},
                        new long[]{len}), b -> List.of(b.get(0).transpose(0, 1), b.get(1), b.get(2), b.get(3)),
                        in -> List.of(in.get(0).mul(0.5).add(in.get(1)).layerNorm(new long[]{len}, in.get(2), in.get(3), 1e-3)
                                .sub(0.25)), cap));
                out.add(new Case("log_softmax dim 1 " + len, List.of(new long[]{2, len, 3}, new long[]{len, 1}),
                        b -> List.of(b.get(0), b.get(1).expand(len, 3)),
                        in -> List.of(in.get(0).mul(0.125).add(in.get(1)).logSoftmax(1).neg()), cap));
                out.add(new Case("softmax " + len, List.of(new long[]{3, len}), b -> b,
                        in -> List.of(in.get(0).add(1.0).softmax(-1).mul(2.0)), cap));
                out.add(new Case("reductions " + len, List.of(new long[]{3, 2, len}, new long[]{len}), b -> b,
                        in -> List.of(in.get(0).mul(in.get(1)).sum(new int[]{2}, false),
                                in.get(0).sub(in.get(1)).mean(new int[]{0, 2}, true), in.get(0).add(in.get(1)).max(new int[]{1}, false)),
                        cap));
            }
            out.add(new Case("lstm step", List.of(new long[]{2, 40}, new long[]{2, 40}, new long[]{2, 40}, new long[]{40, 2},
                    new long[]{2, 40}, new long[]{40}, new long[]{2, 40}),
                    b -> List.of(b.get(0), b.get(1), b.get(2), b.get(3).transpose(0, 1), b.get(4), b.get(5), b.get(6)), x -> {
                        Tensor i = x.get(0).add(x.get(1)).mul(0.5), f = x.get(2).sub(0.25), g = x.get(3).add(x.get(4)).mul(0.125);
                        Tensor o = x.get(5).mul(2.0);
                        Tensor cell = f.mul(x.get(6)).add(i.mul(g));
                        return List.of(cell, o.mul(cell.add(1.0)));
                    }, cap));
        }
        return out;
    }

    @Test
    void generatedFusedOperatorsMatchTheCpuBackendOnTheHost() throws Exception {
        runCases(false);
    }

    /**
     * {@code -Dgpuos.fusion.rowRegisters=true}: the warp-resident rows run by a block of 256 host threads, 8 rows a
     * tile, each warp's shuffles emulated; and the block-resident rows' reduction with its reads in flight.
     */
    @Test
    void rowRegisterFormsMatchTheCpuBackendOnTheHost() throws Exception {
        boolean was = RowFusion.rowRegisters;
        RowFusion.rowRegisters = true;
        try {
            runCases(true);
        } finally {
            RowFusion.rowRegisters = was;
        }
    }

    private void runCases(boolean registers) throws Exception {
        Nvcc.assumeInstalled();
        SplittableRandom r = new SplittableRandom(3);
        StringBuilder ops = new StringBuilder(), casesCode = new StringBuilder(), calls = new StringBuilder();
        int opCount = 0, tasks = 0, tables = 0, rows = 0, residentTasks = 0, warpResident = 0;
        List<Case> cases = cases();
        for (int c = 0; c < cases.size(); c++) {
            Case k = cases.get(c);
            List<double[]> data = new ArrayList<>();
            for (long[] shape : k.bases()) {
                double[] v = new double[Math.toIntExact(Twins.count(shape))];
                for (int i = 0; i < v.length; i++) v[i] = r.nextInt(-32, 33) / 8.0;
                data.add(v);
            }
            List<double[]> expected = new ArrayList<>();
            try (TensorScope s = TensorScope.open(CpuBackend.eager())) {
                List<Tensor> bases = new ArrayList<>();
                for (int i = 0; i < data.size(); i++) bases.add(s.tensor(data.get(i), DType.F32, k.bases().get(i)));
                for (Tensor t : k.program().apply(k.views().apply(bases))) expected.add(t.toDoubleArray());
            }
            NodeRecorder rec = new NodeRecorder();
            try (TensorScope s = TensorScope.open(rec)) {
                List<Tensor> bases = new ArrayList<>();
                for (long[] shape : k.bases()) bases.add(s.zeros(DType.F32, shape));
                List<Tensor> views = k.views().apply(bases);
                List<Tensor>[] returned = new List[1];
                Captured cap = rec.capture(() -> returned[0] = k.program().apply(views));
                Intermediates im = k.captured() ? Intermediates.of(cap.work(), cap.internal()) : Intermediates.NONE;
                StringBuilder body = new StringBuilder("static void case_" + c + "() {  // " + k.name()
                        + (k.captured() ? ", captured" : ", streamed") + "\n    cases++;\n");
                for (int i = 0; i < data.size(); i++) body.append("    static float b").append(i).append("[] = ").append(floats(data.get(i))).append(";\n");
                for (int q = 0; q < returned[0].size(); q++) {
                    body.append("    static float o").append(q).append("[").append(Math.max(1, returned[0].get(q).numel()))
                            .append("] = {0};\n");
                }
                List<TaskPlan.Item> plan = TaskPlan.of(cap.work(), im, true);
                List<Storage> scratch = new ArrayList<>();
                StringBuilder scratchDecl = new StringBuilder();
                int tasksAt = body.length();
                for (TaskPlan.Item item : plan) {
                    List<Tensor> operands;
                    long[][] dims;
                    long[] args;
                    int ntiles, tileSize;
                    String source;
                    boolean row = item instanceof TaskPlan.Row;
                    boolean resident = item instanceof TaskPlan.Row rw && RowFusion.residentElements(rw.fused()) > 0;
                    switch (item) {
                        case TaskPlan.Row rw -> {
                            RowFusion.Fused f = rw.fused();
                            operands = new ArrayList<>(f.inputs);
                            for (int m = 0; m < f.memberCount(); m++) if (f.outRef[m] >= 0) operands.add(f.member(m));
                            dims = f.dims;
                            args = f.args.stream().mapToLong(Long::longValue).toArray();
                            int[] tiling = FamilyTasks.rowTiling(f.rows, f.blockTeams);
                            tileSize = tiling[0];
                            ntiles = tiling[1];
                            source = RowFusion.operator(f).body();
                            rows++;
                        }
                        case TaskPlan.Run run -> {
                            ElementwiseKernels.RunLayout l = ElementwiseKernels.layout(run.members(), im);
                            operands = l.operands();
                            dims = l.dims();
                            args = l.args();
                            int[] tiling = ElementwiseKernels.tiling(run.members().getFirst().output().numel());
                            tileSize = tiling[0];
                            ntiles = tiling[1];
                            source = ElementwiseKernels.structure(run.members(), im);
                        }
                        case TaskPlan.Single sg -> throw new AssertionError(k.name() + ": " + sg.node().opName() + " was not fused");
                    }
                    tasks++;
                    if (operands.size() > Layouts.MAX_REFS) tables++;
                    String fn = "host_op_" + opCount++;
                    ops.append("#define GPUOS_OP static void ").append(fn)
                            .append("(const gpuos_task* task, unsigned int tile, const gpuos_env* env)\n").append(source).append("#undef GPUOS_OP\n");
                    body.append("    {\n        gpuos_tensor_ref R[").append(operands.size()).append("];\n");
                    body.append("        memset(R, 0, sizeof R);\n");
                    for (int o = 0; o < operands.size(); o++) {
                        Tensor t = operands.get(o);
                        String base = null;
                        for (int i = 0; i < bases.size() && base == null; i++) if (bases.get(i).storage() == t.storage()) base = "b" + i;
                        for (int q = 0; q < returned[0].size() && base == null; q++) {
                            Storage st = returned[0].get(q).storage();
                            if (st == t.storage()) base = "o" + q;
                        }
                        if (base == null) {
                            // A stored intermediate nobody compares: a scratch buffer of its storage's size.
                            int at = scratch.indexOf(t.storage());
                            if (at < 0) {
                                scratch.add(t.storage());
                                at = scratch.size() - 1;
                                scratchDecl.append("    static float x").append(at).append("[").append(t.storage().byteSize() / 4)
                                        .append("];\n");
                            }
                            base = "x" + at;
                        }
                        body.append(ref(o, base, t.storageOffset(), dims[0], dims[1 + o]));
                    }
                    body.append("        gpuos_task task;\n        memset(&task, 0, sizeof task);\n");
                    body.append("        task.ntiles = ").append(ntiles).append(";\n        task.tileSize = ").append(tileSize).append(";\n");
                    for (int a = 0; a < args.length; a++) body.append("        task.args[").append(a).append("] = ").append(args[a]).append("ULL;\n");
                    if (operands.size() > Layouts.MAX_REFS) {
                        body.append("        task.nrefs = 1;\n        task.refs[0].data = (unsigned long long)R;\n")
                                .append("        task.refs[0].numel = sizeof R;\n");
                    } else {
                        body.append("        task.nrefs = ").append(operands.size()).append(";\n        memcpy(task.refs, R, sizeof R);\n");
                    }
                    body.append("        ").append(resident ? "runBlockRows(" : row ? "runRows(" : "run(").append(fn).append(", &task);\n    }\n");
                    if (resident) residentTasks++;
                    if (resident && !((TaskPlan.Row) item).fused().blockTeams) {
                        warpResident++;
                        assertTrue(source.contains("warp_reduce(") && !source.contains("__syncthreads"), source);
                    }
                }
                body.insert(tasksAt, scratchDecl);
                // Returned tensors the plan stored are compared; a captured intermediate kept in a register is not.
                for (int q = 0; q < returned[0].size(); q++) {
                    body.append("    static const double e").append(q).append("[] = ").append(doubles(expected.get(q))).append(";\n");
                    body.append("    check(").append(c).append(", ").append(q).append(", o").append(q).append(", e").append(q)
                            .append(", ").append(expected.get(q).length).append(");\n");
                }
                body.append("}\n");
                casesCode.append(body);
                calls.append("    case_").append(c).append("();\n");
            }
        }
        assertTrue(tables >= 4 && rows >= 8, tasks + " tasks, " + tables + " with tables, " + rows + " row-fused");
        assertTrue(residentTasks >= 4 && residentTasks < rows, residentTasks + " of " + rows + " row-fused tasks resident");
        assertTrue(registers ? warpResident >= 8 : warpResident == 0, warpResident + " warp-resident row tasks");
        String harness;
        try (InputStream in = RowFusedHostTest.class.getResourceAsStream("row_fused_host.cu")) {
            harness = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        String source = harness.replace("//@WALK@", OperatorSources.WALK).replace("//@OPERATORS@", ops)
                .replace("//@CASES@", casesCode).replace("//@CALLS@", calls);
        String out = buildAndRun(source);
        System.out.println("[row fused host" + (registers ? ", rowRegisters" : "") + "] " + cases.size() + " cases, " + tasks + " tasks (" + rows + " row-fused, "
                + residentTasks + " of them resident, " + warpResident + " by a warp, " + tables + " with operand tables): " + out.strip());
        Matcher m = Pattern.compile("cases (\\d+) fails (\\d+)").matcher(out);
        assertTrue(m.find(), out);
        assertEquals(cases.size(), Integer.parseInt(m.group(1)), out);
        assertEquals(0, Integer.parseInt(m.group(2)), out);
    }

    /** One operand record: the view's element 0 in its host buffer, the planner's dims. */
    private static String ref(int o, String base, long offset, long[] sizes, long[] strides) {
        StringBuilder s = new StringBuilder();
        long numel = 1, expected = 1;
        boolean contiguous = true;
        for (int d = sizes.length - 1; d >= 0; d--) {
            numel *= sizes[d];
            if (sizes[d] > 1 && strides[d] != expected) contiguous = false;
            expected *= Math.max(1, sizes[d]);
        }
        s.append("        R[").append(o).append("].data = (unsigned long long)(").append(base).append(" + ").append(offset).append(");\n");
        s.append("        R[").append(o).append("].numel = ").append(numel).append(";\n");
        s.append("        R[").append(o).append("].dtype = GPUOS_DTYPE_F32;\n");
        s.append("        R[").append(o).append("].ndim = ").append(sizes.length).append(";\n");
        s.append("        R[").append(o).append("].flags = ").append(contiguous ? "GPUOS_REF_CONTIGUOUS" : "0").append(";\n");
        for (int d = 0; d < sizes.length; d++) {
            s.append("        R[").append(o).append("].sizes[").append(d).append("] = ").append(sizes[d]).append("; R[").append(o)
                    .append("].strides[").append(d).append("] = ").append(strides[d]).append(";\n");
        }
        return s.toString();
    }

    private static String floats(double[] v) {
        StringBuilder s = new StringBuilder("{");
        for (int i = 0; i < v.length; i++) s.append(i == 0 ? "" : ", ").append(String.format(Locale.ROOT, "%.9ef", v[i]));
        return s.append('}').toString();
    }

    private static String doubles(double[] v) {
        StringBuilder s = new StringBuilder("{");
        for (int i = 0; i < v.length; i++) s.append(i == 0 ? "" : ", ").append(String.format(Locale.ROOT, "%.17e", v[i]));
        return s.append('}').toString();
    }

    private static String buildAndRun(String source) throws IOException, InterruptedException {
        Path dir = Files.createTempDirectory("gpuos-row-host");
        for (var h : WorkerSources.headers().entrySet()) Files.writeString(dir.resolve(h.getKey()), h.getValue());
        Path cu = dir.resolve("rows.cu"), exe = dir.resolve("rows");
        Files.writeString(cu, source);
        Process p = new ProcessBuilder(Nvcc.NVCC.toString(), "-std=c++17", "-O1", "-arch=sm_90", "-I" + dir, "-o",
                exe.toString(), cu.toString()).redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(600, TimeUnit.SECONDS), "nvcc did not finish");
        assertEquals(0, p.exitValue(), "nvcc rejected the row harness:\n" + log);
        Process run = new ProcessBuilder(exe.toString()).redirectErrorStream(true).start();
        String out = new String(run.getInputStream().readAllBytes());
        assertTrue(run.waitFor(120, TimeUnit.SECONDS), "row harness did not finish");
        return out;
    }
}
