package dev.gpuos.tensor;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BackendPluginTest {

    @Test
    void aBackendThatLacksAnOpSaysSoAtTheCallSite() {
        TestOnlyBackend backend = new TestOnlyBackend();
        try (TensorScope s = TensorScope.open(backend)) {
            Tensor x = s.tensor(new float[]{1, 2, 3});
            assertEquals(1, backend.submitted);
            int owned = s.ownedBufferCount();
            UnsupportedOnBackendException e = assertThrows(UnsupportedOnBackendException.class, () -> x.add(x));
            assertTrue(e.getMessage().contains("add") && e.getMessage().contains("test-only"), e.getMessage());
            assertThrows(UnsupportedOnBackendException.class, () -> s.zeros(DType.F32, 3));
            assertEquals(owned, s.ownedBufferCount(), "the rejected op's output must be freed");
            assertEquals(1, backend.submitted);
            // Views need no backend work; reading goes through Backend.read.
            assertArrayEquals(new float[]{3, 2, 1}, new float[]{x.select(0, 2).toFloatArray()[0],
                    x.select(0, 1).toFloatArray()[0], x.select(0, 0).toFloatArray()[0]});
        }
    }
}
