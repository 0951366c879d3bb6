package dev.gpuos.tensor.fuzz;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Properties of generated programs that keep two correct backends from disagreeing for allowed reasons. */
class ProgramGeneratorTest {
    @Test
    void rsqrtNeverTakesAValueWhoseZeroSignMinOrMaxChose() {
        ProgramGenerator generator = new ProgramGenerator();
        int rsqrts = 0;
        for (long seed = 1; seed <= 20_000; seed++) {
            FuzzProgram p = generator.generate(seed);
            Set<Integer> open = new HashSet<>();
            for (FuzzStep s : p.steps()) {
                if (s.op() == FuzzOp.RSQRT) {
                    rsqrts++;
                    assertFalse(open.contains(s.in()[0]), "seed " + seed + ": rsqrt of t" + s.in()[0]
                            + ", whose zeros min/max may have signed either way\n" + p);
                }
                boolean o = switch (s.op()) {
                    case MAX, MIN, MAXIMUM, MINIMUM, CLAMP, RELU -> true;
                    default -> false;
                };
                for (int id : s.in()) o |= open.contains(id);
                if (o && s.out() >= 0) open.add(s.out());
            }
        }
        assertTrue(rsqrts > 100, "the check saw only " + rsqrts + " rsqrt steps");
    }
}
