package dev.gpuos.tensor.record;

import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Operand;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.TensorScope;
import dev.gpuos.tensor.cpu.CpuBackend;
import dev.gpuos.tensor.op.ElementwiseNode;
import dev.gpuos.tensor.op.ElementwiseOp;
import dev.gpuos.tensor.op.OpNode;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Recording hands nodes over in order, in submissions bounded by size, and whole captures. */
class SubmissionTest {

    private static ElementwiseNode node(ElementwiseOp op, Tensor out, Operand... in) {
        return new ElementwiseNode(op, List.of(in), out, DType.F32, new double[0]);
    }

    @Test
    void recordingKeepsOrderAndSequence() {
        List<Submission> seen = new java.util.ArrayList<>();
        Recording r = new Recording(2, java.time.Duration.ofHours(1), seen::add);
        try (TensorScope s = TensorScope.open(CpuBackend.eager())) {
            Tensor x = s.ones(DType.F32, 1);
            for (int i = 0; i < 5; i++) r.record(node(ElementwiseOp.NEG, x, x));
            r.submit();
            assertEquals(List.of(0L, 1L, 2L), seen.stream().map(Submission::sequence).toList());
            assertEquals(List.of(2, 2, 1), seen.stream().map(sub -> sub.nodes().size()).toList());
        }
    }
    /** Every node arrives once, in recording order, in submissions cut exactly where the size bound and the flushes cut. */
    @Test
    void sizeBoundAndFlushesCutWhereTheyFall() {
        List<Submission> seen = new java.util.concurrent.CopyOnWriteArrayList<>();
        Recording r = new Recording(16, java.time.Duration.ofHours(1), seen::add);
        try (TensorScope s = TensorScope.open(CpuBackend.eager())) {
            Tensor x = s.ones(DType.F32, 1);
            List<OpNode> recorded = new java.util.ArrayList<>();
            List<Integer> expected = new java.util.ArrayList<>();
            int sinceCut = 0;
            for (int i = 1; i <= 10_000; i++) {
                OpNode n = node(ElementwiseOp.NEG, x, x);
                recorded.add(n);
                r.record(n);
                if (++sinceCut == 16) {
                    expected.add(16);
                    sinceCut = 0;
                }
                if (i % 37 == 0) {
                    r.submit();
                    if (sinceCut > 0) expected.add(sinceCut);
                    sinceCut = 0;
                }
            }
            r.submit();
            if (sinceCut > 0) expected.add(sinceCut);
            assertEquals(expected, seen.stream().map(sub -> sub.nodes().size()).toList());
            assertEquals(java.util.stream.LongStream.range(0, seen.size()).boxed().toList(),
                    seen.stream().map(Submission::sequence).toList());
            List<OpNode> arrived = seen.stream().flatMap(sub -> sub.nodes().stream()).toList();
            assertEquals(recorded.size(), arrived.size());
            for (int i = 0; i < arrived.size(); i++) {
                org.junit.jupiter.api.Assertions.assertSame(recorded.get(i), arrived.get(i), "node " + i);
            }
        }
    }

    @Test
    void aCaptureHoldsEveryNodeForOneSubmissionAndRefusesSyncPointsAndOtherThreads() throws Exception {
        List<Submission> seen = new java.util.concurrent.CopyOnWriteArrayList<>();
        Recording r = new Recording(2, java.time.Duration.ofMillis(1), seen::add);
        try (TensorScope s = TensorScope.open(CpuBackend.eager())) {
            Tensor x = s.ones(DType.F32, 1);
            r.record(node(ElementwiseOp.NEG, x, x));            // pending before: submitted by beginCapture
            r.beginCapture();
            for (int i = 0; i < 7; i++) r.record(node(ElementwiseOp.NEG, x, x));  // past maxNodes and maxAge
            Thread.sleep(20);
            org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class, r::submit);
            Throwable[] other = new Throwable[1];
            Thread t = new Thread(() -> {
                try {
                    r.record(node(ElementwiseOp.NEG, x, x));
                } catch (Throwable e) {
                    other[0] = e;
                }
                org.junit.jupiter.api.Assertions.assertFalse(r.submit(), "another thread's flush leaves the capture alone");
            });
            t.start();
            t.join();
            org.junit.jupiter.api.Assertions.assertInstanceOf(IllegalStateException.class, other[0]);
            assertEquals(List.of(1), seen.stream().map(sub -> sub.nodes().size()).toList());
            Submission captured = r.endCapture();
            assertEquals(7, captured.nodes().size());
            r.record(node(ElementwiseOp.NEG, x, x));            // normal recording again
            r.submit();
            assertEquals(List.of(1, 1), seen.stream().map(sub -> sub.nodes().size()).toList());
        }
    }

    /**
     * With cuts, the time bound and memory pressure submit the prefix the cuts allow and keep the rest pending (here:
     * all but the last node, as if it might still fuse with what comes), and the size bound still cuts every
     * {@code maxNodes} nodes counted from the last program point: where it cuts does not depend on when a timer fired.
     */
    @Test
    void withCutsTimeAndPressureSubmitTheStablePrefixAndTheSizeBoundCountsFromTheLastSync() throws Exception {
        List<Submission> seen = new java.util.concurrent.CopyOnWriteArrayList<>();
        Recording r = new Recording(16, java.time.Duration.ofMillis(1), seen::add, pending -> pending.size() - 1);
        try (TensorScope s = TensorScope.open(CpuBackend.eager())) {
            Tensor x = s.ones(DType.F32, 1);
            for (int i = 0; i < 5; i++) r.record(node(ElementwiseOp.NEG, x, x));
            waitFor(seen, 1);
            assertEquals(List.of(4), sizes(seen), "the time bound kept the last node");
            Thread.sleep(20);
            assertEquals(List.of(4), sizes(seen), "no new node: the tail is not looked at again");
            assertEquals(1, r.pendingCount());
            r.record(node(ElementwiseOp.NEG, x, x));
            waitFor(seen, 2);
            assertEquals(List.of(4, 1), sizes(seen), "a new node re-arms the bound");
            r.submit();                                          // a program point: 1 node, the count restarts
            seen.clear();
            Recording p = new Recording(16, java.time.Duration.ofHours(1), seen::add, pending -> pending.size() - 1);
            for (int i = 0; i < 10; i++) p.record(node(ElementwiseOp.NEG, x, x));
            org.junit.jupiter.api.Assertions.assertTrue(p.submitIfFree());
            assertEquals(List.of(9), sizes(seen), "memory pressure: the stable prefix");
            for (int i = 0; i < 6; i++) p.record(node(ElementwiseOp.NEG, x, x));
            assertEquals(List.of(9, 7), sizes(seen), "the size bound at node 16, counted from the start");
            for (int i = 0; i < 3; i++) p.record(node(ElementwiseOp.NEG, x, x));
            p.submit();
            assertEquals(List.of(9, 7, 3), sizes(seen));
        }
    }

    /**
     * Threads recording at once while the time bound (50 us) and memory pressure take stable prefixes: every node
     * arrives once, each thread's in its order, and the size bound still cuts at every 64th node of the stream
     * (whatever the timer and the pressure took in between, a submission never spans one of those positions).
     */
    @Test
    void stableCutsRacingTheSizeBoundLoseNothingAndKeepItsPositions() throws Exception {
        List<Submission> seen = new java.util.concurrent.CopyOnWriteArrayList<>();
        java.util.concurrent.atomic.AtomicInteger asked = new java.util.concurrent.atomic.AtomicInteger();
        Recording r = new Recording(64, java.time.Duration.ofNanos(50_000), seen::add, pending -> {
            asked.incrementAndGet();
            return pending.size() / 2;
        });
        int threads = 4, each = 20_000;
        try (TensorScope s = TensorScope.open(CpuBackend.eager())) {
            Tensor x = s.ones(DType.F32, 1);
            List<List<OpNode>> recorded = new java.util.ArrayList<>();
            List<Thread> running = new java.util.ArrayList<>();
            for (int t = 0; t < threads; t++) {
                List<OpNode> mine = new java.util.ArrayList<>();
                recorded.add(mine);
                int id = t;
                running.add(Thread.ofPlatform().start(() -> {
                    for (int i = 0; i < each; i++) {
                        OpNode n = node(ElementwiseOp.NEG, x, x);
                        mine.add(n);
                        r.record(n);
                        if (i % 97 == id) r.submitIfFree();
                        if (i % 1000 == 0) Thread.onSpinWait();
                    }
                }));
            }
            for (Thread t : running) t.join();
            r.submit();
            List<OpNode> stream = seen.stream().flatMap(sub -> sub.nodes().stream()).toList();
            assertEquals(threads * each, stream.size());
            java.util.Map<OpNode, Integer> position = new java.util.IdentityHashMap<>();
            for (int i = 0; i < stream.size(); i++) org.junit.jupiter.api.Assertions.assertNull(position.put(stream.get(i), i), "node twice");
            for (List<OpNode> mine : recorded) {
                for (int i = 1; i < mine.size(); i++) {
                    org.junit.jupiter.api.Assertions.assertTrue(position.get(mine.get(i - 1)) < position.get(mine.get(i)),
                            "a thread's nodes out of order");
                }
            }
            int start = 0;
            for (Submission sub : seen) {
                int end = start + sub.nodes().size();
                org.junit.jupiter.api.Assertions.assertTrue(sub.nodes().size() > 0, "an empty submission");
                org.junit.jupiter.api.Assertions.assertTrue(end / 64 == start / 64 || end % 64 == 0 && (end - 1) / 64 == start / 64,
                        "submission [" + start + ", " + end + ") spans a size bound");
                start = end;
            }
            org.junit.jupiter.api.Assertions.assertTrue(asked.get() > 0, "no stable cut was asked for");
        }
    }

    private static List<Integer> sizes(List<Submission> seen) {
        return seen.stream().map(sub -> sub.nodes().size()).toList();
    }

    private static void waitFor(List<Submission> seen, int count) throws InterruptedException {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (seen.size() < count && System.nanoTime() < deadline) Thread.sleep(1);
        Thread.sleep(5);  // and nothing more arrives meanwhile
    }
}
