package dev.gpuos.tensor.gpu;

import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.TensorScope;
import dev.gpuos.tensor.op.OpNode;
import dev.gpuos.tensor.op.UploadNode;
import dev.gpuos.testkit.NodeRecorder;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link StableCuts} against the planner it describes ({@link TaskPlan}, streamed: every output stored): for every
 * prefix of a random program that a recording could hold when its time bound expires, the cut it gives must plan
 * the same tasks as no cut, whether the rest of the stream ends where the prefix ends, somewhere later, or at the
 * program's end. Programs mix what crosses elements in the planner: row ops with prologues and epilogues
 * (softmax, rms_norm, layer_norm), row reductions (no epilogue), products, fills, views, independent and
 * connected elementwise steps.
 */
class StableCutsPlanTest {

    @Test
    void everyStableCutPlansWhatNoCutPlans() {
        for (boolean rowFusion : new boolean[]{true, false}) {
            for (int seed = 1; seed <= 4; seed++) {
                List<OpNode> program = program(seed);
                Checked c = check(program, rowFusion, new Random(seed));
                // The rule must leave room to cut (a time bound that never submits would defeat overlap), and
                // must hold back an open tail (a group that may still grow, a row op that may take an epilogue).
                assertTrue(c.cuts > program.size() / 4, "seed " + seed + ": cuts at " + c.cuts + " of " + program.size() + " prefixes");
                assertTrue(c.heldBack > program.size() / 4, "seed " + seed + ": a tail held back at " + c.heldBack + " prefixes");
            }
        }
    }

    /** A row op with its prologue and epilogue: cutting before it, or between it and its epilogue, is refused. */
    @Test
    void aRowOpIsNotCutFromItsPrologueOrEpilogue() {
        NodeRecorder rec = new NodeRecorder();
        try (TensorScope s = TensorScope.open(rec)) {
            Tensor x = s.ones(DType.F32, 4, 64), r = s.ones(DType.F32, 4, 64), w = s.ones(DType.F32, 64);
            int from = rec.nodes().size();
            Tensor h = x.add(r);                                           // prologue
            Tensor n = h.rmsNorm(new long[]{64}, null, 1e-6);              // the row op
            Tensor y = n.mul(w);                                           // epilogue
            y.relu();
            List<OpNode> nodes = rec.nodes().subList(from, rec.nodes().size());
            StableCuts cuts = new StableCuts(true);
            assertEquals(0, cuts.stablePrefix(nodes.subList(0, 2)), "the add is the norm's prologue");
            assertEquals(0, cuts.stablePrefix(nodes.subList(0, 3)), "the mul is the norm's epilogue");
            assertEquals(0, cuts.stablePrefix(nodes), "the relu may still join the epilogue");
            assertEquals(2, new StableCuts(false).stablePrefix(nodes.subList(0, 3)), "without row fusion: before the mul");
            h.sum(new int[]{1}, true);                                     // a reduction: a single node, no epilogue
            List<OpNode> more = rec.nodes().subList(from, rec.nodes().size());
            assertEquals(more.size(), cuts.stablePrefix(more), "the reduction closed the relu group and takes no epilogue");
            x.matmul(s.ones(DType.F32, 64, 8));
            more = rec.nodes().subList(from, rec.nodes().size());
            assertEquals(more.size(), cuts.stablePrefix(more), "after a product nothing is open");
        }
    }

    record Checked(int cuts, int heldBack) {}

    private static Checked check(List<OpNode> program, boolean rowFusion, Random rnd) {
        StableCuts rule = new StableCuts(rowFusion);
        int cuts = 0, heldBack = 0;
        // The plan of program[from, to) as text, by from * 2^20 + to: consecutive prefixes share most of theirs.
        java.util.Map<Long, String> plans = new java.util.HashMap<>();
        java.util.function.BiFunction<Integer, Integer, String> plan = (from, to) -> plans.computeIfAbsent(
                ((long) from << 20) + to, k -> describe(tasks(program.subList(from, to), rowFusion)));
        for (int m = 1; m <= program.size(); m++) {
            int c = rule.stablePrefix(program.subList(0, m));
            assertTrue(c >= 0 && c <= m, "cut " + c + " of " + m);
            if (c < m) heldBack++;
            if (c == 0) continue;
            cuts++;
            int later = m + rnd.nextInt(program.size() - m + 1);
            for (int end : new int[]{m, later, program.size()}) {
                if (c == end) continue;
                String whole = plan.apply(0, end), cut = plan.apply(0, c) + plan.apply(c, end);
                if (!whole.equals(cut)) {
                    int d = 0;
                    while (d < Math.min(whole.length(), cut.length()) && whole.charAt(d) == cut.charAt(d)) d++;
                    int from = Math.max(0, d - 200);
                    assertEquals(whole.substring(from, Math.min(whole.length(), d + 200)),
                            cut.substring(from, Math.min(cut.length(), d + 200)),
                            "prefix " + m + ", cut at " + c + ", stream ending at " + end + ": tasks from the first difference");
                }
            }
        }
        return new Checked(cuts, heldBack);
    }

    /** What the streamed planner makes of {@code nodes}: each task's nodes, in order (work as prepare leaves it). */
    private static List<List<OpNode>> tasks(List<OpNode> nodes, boolean rowFusion) {
        List<OpNode> work = new ArrayList<>();
        for (OpNode n : nodes) if (!(n instanceof UploadNode) && n.output().numel() > 0) work.add(n);
        List<List<OpNode>> out = new ArrayList<>();
        if (work.isEmpty()) return out;
        for (TaskPlan.Item item : TaskPlan.of(work, Intermediates.NONE, rowFusion)) {
            out.add(switch (item) {
                case TaskPlan.Run r -> List.copyOf(r.members());
                case TaskPlan.Row r -> {
                    List<OpNode> all = new ArrayList<>(r.fused().prologue);
                    all.add(r.fused().row);
                    all.addAll(r.fused().epilogue);
                    yield all;
                }
                case TaskPlan.Single s -> List.of(s.node());
            });
        }
        return out;
    }

    /** Tasks by node identity (positions in recording order would do; identity needs no index). */
    private static String describe(List<List<OpNode>> tasks) {
        StringBuilder b = new StringBuilder();
        for (List<OpNode> t : tasks) {
            b.append('[');
            for (OpNode n : t) b.append(n.opName()).append('@').append(Integer.toHexString(System.identityHashCode(n))).append(' ');
            b.append("] ");
        }
        return b.toString();
    }

    /** A random program's nodes: the shapes of a small transformer block's steps, in random order and mixes. */
    private static List<OpNode> program(int seed) {
        NodeRecorder rec = new NodeRecorder();
        try (TensorScope s = TensorScope.open(rec)) {
            Tensor[] pool = new Tensor[6];
            for (int i = 0; i < pool.length; i++) pool[i] = s.full(0.5 * i, DType.F32, 8, 32);
            Tensor w = s.full(0.25, DType.F32, 32, 32), g = s.full(1.0, DType.F32, 32), b = s.full(0.0, DType.F32, 32);
            Random rnd = new Random(seed);
            int from = rec.nodes().size();
            for (int step = 0; step < 120; step++) {
                int i = rnd.nextInt(pool.length), j = rnd.nextInt(pool.length), k = rnd.nextInt(pool.length);
                Tensor r = switch (rnd.nextInt(12)) {
                    case 0 -> pool[i].add(pool[j]);
                    case 1 -> pool[i].mul(pool[j]).relu().sub(1.0);
                    case 2 -> pool[i].add(pool[j]).softmax(-1).mul(3.0);
                    case 3 -> pool[i].add(pool[j]).rmsNorm(new long[]{32}, g, 1e-5).mul(pool[k]).tanh();
                    case 4 -> pool[i].mul(2.0).layerNorm(new long[]{32}, g, b, 1e-5);
                    case 5 -> pool[i].exp().sum(new int[]{1}, true).expand(8, 32).add(pool[j]);
                    case 6 -> pool[i].max(new int[]{1}, true).expand(8, 32).sub(pool[j]).softmax(1);
                    case 7 -> pool[i].matmul(w).add(pool[j]);
                    case 8 -> pool[i].transpose(0, 1).contiguous().transpose(0, 1).add(pool[j]);
                    case 9 -> pool[i].select(0, rnd.nextInt(8)).expand(8, 32).mul(pool[j]).sigmoid();
                    case 10 -> pool[i].narrow(1, 0, 16).add(pool[j].narrow(1, 16, 16)).mean(new int[]{1}, true).expand(8, 32);
                    default -> s.full(rnd.nextInt(3), DType.F32, 8, 32).add(pool[j]);
                };
                pool[k] = r;
            }
            return List.copyOf(rec.nodes().subList(from, rec.nodes().size()));
        }
    }
}
