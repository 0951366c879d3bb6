package dev.gpuos.tensor.gpu;

import dev.gpuos.runtime.WorkerSources;
import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.TensorScope;
import dev.gpuos.testkit.NodeRecorder.Captured;
import dev.gpuos.testkit.NodeRecorder;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Row-fused operators and operand-table elementwise operators, compiled by nvcc for sm_90 and inlined into
 * probe kernels with the worker's launch bounds (256 threads, 2 blocks per SM): every one stays within the
 * 128-register cap, with inline operands and with an operand table, for every floating dtype: wide elementwise
 * walks without spilling, row-fused tasks spilling at most 16 bytes (see the bound's comment).
 * Skips without nvcc.
 */
class RowFusionCompileTest {

    /** The sources of every task {@code c} plans (streamed and captured), by a readable name. */
    private static void sources(String name, Captured c, Map<String, String> out) {
        int k = 0;
        for (boolean capture : new boolean[]{false, true}) {
            Intermediates im = capture ? Intermediates.of(c.work(), c.internal()) : Intermediates.NONE;
            for (TaskPlan.Item item : TaskPlan.of(c.work(), im, true)) {
                String src = switch (item) {
                    case TaskPlan.Row r -> RowFusion.source(r.fused());
                    case TaskPlan.Run r -> ElementwiseKernels.source(r.members(), im);
                    case TaskPlan.Single s -> null;
                };
                if (src != null && !out.containsValue(src)) out.put(name + "_" + (capture ? "cap" : "str") + k++, src);
            }
        }
    }

    static Map<String, String> probes() {
        Map<String, String> probes = new LinkedHashMap<>();
        NodeRecorder rec = new NodeRecorder();
        try (TensorScope s = TensorScope.open(rec)) {
            // Every form in F32; the norm chain and layer_norm (the most registers) in every other floating dtype.
            for (DType t : new DType[]{DType.F32, DType.F16, DType.BF16, DType.F64}) {
                String n = t.name().toLowerCase(java.util.Locale.ROOT);
                // 512: a block holds the row (the resident form); 4096: it does not (chunked passes).
                sources("rmschain_" + n, RowFusionPlanTest.normChain(rec, s, t, 3, 512), probes);
                sources("rmslong_" + n, RowFusionPlanTest.normChain(rec, s, t, 2, 4096), probes);
                Tensor x = s.ones(t, 4, 96), r = s.ones(t, 4, 96), w = s.ones(t, 96), b = s.ones(t, 96);
                if (t != DType.F64) sources("layer_" + n, rec.capture(() -> List.of(x.add(r).mul(0.5).layerNorm(w, b).relu())), probes);
                if (t != DType.F32) continue;
                Tensor scores = s.ones(t, 2, 16, 16), mask = s.ones(t, 16, 16);
                sources("softmax_" + n, rec.capture(() -> List.of(scores.mul(0.125).add(mask).softmax(-1))), probes);
                sources("logsoftmax_" + n, rec.capture(() -> List.of(scores.mul(0.125).add(mask).logSoftmax(1).exp())), probes);
                sources("sum_" + n, rec.capture(() -> List.of(x.mul(w).sum(new int[]{1}, false))), probes);
                sources("mean_" + n, rec.capture(() -> List.of(scores.sub(mask).abs().mean(new int[]{0, 2}, true))), probes);
                sources("max_" + n, rec.capture(() -> List.of(x.add(r).max(new int[]{1}, false), x.add(r).min(new int[]{0}, false))), probes);
            }
            Tensor[] in = new Tensor[7];
            for (int i = 0; i < in.length; i++) in[i] = s.ones(DType.F32, 1, 1024);
            sources("lstm", rec.capture(() -> {
                Tensor i = in[0].add(in[1]).sigmoid(), f = in[2].sigmoid(), g = in[3].add(in[4]).tanh();
                Tensor o = in[5].sigmoid();
                Tensor cell = f.mul(in[6]).add(i.mul(g));
                return List.of(cell, o.mul(cell.tanh()));
            }), probes);
            // A table as wide as it goes: 8 inputs summed with stored partial sums (8 + 8 operands).
            Tensor[] many = new Tensor[8];
            for (int i = 0; i < many.length; i++) many[i] = s.ones(DType.F16, 3, 40).transpose(0, 1);
            sources("widest", rec.capture(() -> {
                Tensor acc = many[0].mul(2);
                for (int i = 1; i < many.length; i++) acc = acc.add(many[i]);
                return List.of(acc);
            }), probes);
        }
        return probes;
    }

    @Test
    void fusedOperatorsStayWithinTheWorkersRegisterCapWithoutSpilling() throws Exception {
        Nvcc.assumeInstalled();
        Map<String, String> probes = probes();
        // The rowRegisters forms (warp-resident rows, the block reduction's reads in flight) under the same bounds.
        boolean was = RowFusion.rowRegisters;
        RowFusion.rowRegisters = true;
        try {
            for (var e : probes().entrySet()) if (!probes.containsValue(e.getValue())) probes.put("reg_" + e.getKey(), e.getValue());
        } finally {
            RowFusion.rowRegisters = was;
        }
        assertTrue(probes.values().stream().anyMatch(v -> v.contains("warp_reduce(")), "no warp-resident probe");
        assertTrue(probes.keySet().stream().anyMatch(k -> k.startsWith("widest")), probes.keySet().toString());
        assertTrue(probes.values().stream().anyMatch(v -> v.contains("len32")) && probes.values().stream().anyMatch(v -> v.contains("i0 +")),
                "the probes cover both forms of row-fused operators, resident and chunked");
        boolean anyTable = false, anyRowTable = false;
        for (var e : probes.entrySet()) {
            anyTable |= e.getValue().contains("gt::operand_table(task)");
            anyRowTable |= e.getValue().contains("row-fused") && e.getValue().contains("gt::operand_table(task)");
        }
        assertTrue(anyTable && anyRowTable, "no probe reads an operand table");
        String log = ElementwisePackCompileTest.nvcc(ElementwisePackCompileTest.probeUnit(probes), List.of("-rdc=true", "-c", "-Xptxas", "-v"), "probe.o", List.of());
        System.out.println("[row fusion] probe kernels (sm_90, launch bounds 256 x 2):\n" + log);
        List<String> bad = new ArrayList<>();
        for (String name : probes.keySet()) {
            Matcher m = Pattern.compile("Function properties for probe_" + name + "\\s+(\\d+) bytes stack frame, (\\d+) bytes"
                    + " spill stores, (\\d+) bytes spill loads\\s+ptxas info\\s+: Used (\\d+) registers").matcher(log);
            assertTrue(m.find(), "no ptxas report for probe_" + name + ":\n" + log);
            // Row-fused tasks are at the cap where many operands are stored (streamed) or in F64: a few words of
            // the row set-up spill (to L1-resident local memory; the counts are printed above). Allowed up to 16
            // bytes; wide elementwise walks: none.
            int allowed = name.startsWith("lstm") || name.startsWith("widest") ? 0 : 16;
            if (Integer.parseInt(m.group(2)) > allowed || Integer.parseInt(m.group(3)) > allowed
                    || Integer.parseInt(m.group(4)) > 128) {
                bad.add(name + " (" + m.group(4) + " registers, " + m.group(2) + "/" + m.group(3) + " spill bytes)");
            }
        }
        assertTrue(bad.isEmpty(), "spills or too many registers: " + bad);
        assertFalse(log.contains("warning"), log);
    }
}
