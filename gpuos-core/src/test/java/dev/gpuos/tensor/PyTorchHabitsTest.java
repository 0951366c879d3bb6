package dev.gpuos.tensor;

import dev.gpuos.tensor.cpu.CpuBackend;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The API a PyTorch user reaches for without looking (issue 12, item 7): t(), sum/mean over dims, scalar-first
 * ops, layerNorm(shape), capture from the Backend a scope holds, AutoCloseable replays, and backend names that
 * tell two CPU backends apart. Values are checked against the long forms they stand for, on both CPU backends.
 */
class PyTorchHabitsTest {
    static Stream<Backend> backends() {
        return Stream.of(CpuBackend.eager(), CpuBackend.batched(64, Duration.ofMillis(5)));
    }

    @ParameterizedTest
    @MethodSource("backends")
    void tTransposesMatricesKeepsVectorsAndRefusesRank3(Backend backend) {
        try (TensorScope s = TensorScope.open(backend)) {
            Tensor m = s.arange(6).reshape(2, 3);
            assertArrayEquals(new long[]{3, 2}, m.t().shape());
            assertArrayEquals(new long[]{0, 3, 1, 4, 2, 5}, m.t().toLongArray());
            assertArrayEquals(new long[]{0, 1, 2}, s.arange(3).t().toLongArray());
            assertEquals(7, s.scalar(7L).t().longItem());
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> s.zeros(DType.F32, 2, 3, 4).t());
            assertTrue(e.getMessage().contains("<= 2 dimensions") && e.getMessage().contains("3D"), e.getMessage());
        }
    }

    @ParameterizedTest
    @MethodSource("backends")
    void sumAndMeanOverDimsAreTheKeepdimFalseForms(Backend backend) {
        try (TensorScope s = TensorScope.open(backend)) {
            Tensor x = s.randn(3, DType.F32, 4, 5, 6);
            assertArrayEquals(x.sum(new int[]{0, 2}, false).toFloatArray(), x.sum(0, 2).toFloatArray());
            assertArrayEquals(new long[]{5}, x.sum(0, 2).shape());
            assertArrayEquals(x.mean(new int[]{-1}, false).toFloatArray(), x.mean(-1).toFloatArray());
            assertArrayEquals(new long[]{4, 5}, x.mean(-1).shape());
            assertEquals(0, x.sum().rank());  // sum() still reduces everything
            assertThrows(IllegalArgumentException.class, () -> x.sum(1, -2));  // the same dimension twice
        }
    }

    @ParameterizedTest
    @MethodSource("backends")
    void scalarFirstOpsComputeScalarMinusAndOverTheTensor(Backend backend) {
        try (TensorScope s = TensorScope.open(backend)) {
            Tensor z = s.tensor(new float[]{0.25f, 2f, -4f});
            assertArrayEquals(new float[]{0.75f, -1f, 5f}, z.rsub(1.0).toFloatArray());   // 1 - z
            assertArrayEquals(new float[]{4f, 0.5f, -0.25f}, z.rdiv(1L).toFloatArray());  // 1 / z
            Tensor i = s.tensor(new int[]{1, 5, -2});
            assertEquals(DType.I32, i.rsub(3L).dtype());
            assertArrayEquals(new int[]{2, -2, 5}, i.rsub(3L).toIntArray());
            assertEquals(DType.F32, i.rsub(0.5).dtype());
            assertEquals(DType.F32, i.rdiv(2L).dtype());  // true division
            assertArrayEquals(new float[]{2f, 0.4f, -1f}, i.rdiv(2L).toFloatArray());
            Tensor b = s.tensor(new float[]{10f, 20f, 30f});
            assertArrayEquals(b.sub(z).toFloatArray(), z.rsub(b).toFloatArray());
        }
    }

    @ParameterizedTest
    @MethodSource("backends")
    void layerNormOfAShapeHasDefaultEpsAndNoAffine(Backend backend) {
        try (TensorScope s = TensorScope.open(backend)) {
            Tensor x = s.randn(5, DType.F32, 3, 4, 8);
            assertArrayEquals(x.layerNorm(new long[]{8}, null, null, 1e-5).toFloatArray(), x.layerNorm(8).toFloatArray());
            assertArrayEquals(x.layerNorm(new long[]{4, 8}, null, null, 1e-5).toFloatArray(), x.layerNorm(4, 8).toFloatArray());
            assertThrows(ShapeMismatchException.class, () -> x.layerNorm(5));
        }
    }

    @ParameterizedTest
    @MethodSource("backends")
    void captureIsReachableFromTheScopesBackendAndRerunsTheProgram(Backend backend) {
        try (TensorScope s = TensorScope.open(backend)) {
            Tensor x = s.zeros(DType.F32, 3);
            Tensor y = s.zeros(DType.F32, 3);
            Replay step = s.backend().capture(() -> y.copyFrom(x.mul(2).add(1)));
            assertArrayEquals(new float[]{0, 0, 0}, y.toFloatArray(), "capture does not run the program");
            for (float v : new float[]{1, 2, 3}) {
                x.copyFrom(s.full(v, DType.F32, 3));
                step.run();
                assertArrayEquals(new float[]{2 * v + 1, 2 * v + 1, 2 * v + 1}, y.toFloatArray());
            }
            assertEquals(3, step.runs());
            assertEquals(List.of(), step.outputs());
            step.close();
            step.close();
            IllegalStateException e = assertThrows(IllegalStateException.class, step::run);
            assertTrue(e.getMessage().contains("closed"), e.getMessage());
        }
    }

    @ParameterizedTest
    @MethodSource("backends")
    void captureReturningKeepsItsOutputsAcrossRuns(Backend backend) {
        try (TensorScope s = TensorScope.open(backend)) {
            Tensor x = s.zeros(DType.F32, 2);
            try (Replay step = s.backend().captureReturning(() -> List.of(x.rsub(1), x.sum()))) {
                assertThrows(IllegalStateException.class, step::outputs, "a CPU capture has outputs after its first run");
                step.run();
                Tensor out = step.outputs().getFirst(), total = step.outputs().get(1);
                assertArrayEquals(new float[]{1, 1}, out.toFloatArray());
                x.copyFrom(s.tensor(new float[]{3, 4}));
                step.run();
                assertSame(out, step.outputs().getFirst());
                assertArrayEquals(new float[]{-2, -3}, out.toFloatArray());
                assertEquals(7.0, total.item());
            }
        }
    }

    @Test
    void twoCpuBackendsAreToldApartInTheError() {
        CpuBackend a = CpuBackend.eager(), b = CpuBackend.batched(16, Duration.ofMillis(5));
        assertNotEquals(a.name(), b.name());
        assertTrue(a.name().startsWith("cpu-eager#") && b.name().startsWith("cpu-batched#"), a.name() + " " + b.name());
        try (TensorScope sa = TensorScope.open(a); TensorScope sb = TensorScope.open(b)) {
            Tensor x = sa.ones(DType.F32, 2), y = sb.ones(DType.F32, 2);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> x.add(y));
            assertTrue(e.getMessage().contains("(" + a.name() + " and " + b.name() + ")"), e.getMessage());
            CpuBackend c = CpuBackend.eager();
            assertNotEquals(a.name(), c.name());
        }
    }
}
