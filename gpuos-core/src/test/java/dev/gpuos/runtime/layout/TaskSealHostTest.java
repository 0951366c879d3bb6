package dev.gpuos.runtime.layout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The seal the host writes ({@link TaskSeal}, Java) and the one the agent checks ({@code gpuos_seal_mix} and
 * {@code gpuos_sealed_words} in the generated header, C) agree on random descriptors of every operand count,
 * with and without records in device memory. A disagreement would not break anything (the agent would fall back
 * to the doorbell) but would silently lose the one-read submission; this catches it without a GPU. Needs nvcc.
 */
class TaskSealHostTest {
    private static final Path NVCC = Path.of("/usr/local/bin/nvcc");

    @TempDir
    Path dir;

    @Test
    void javaAndCudaSealsAgree() throws Exception {
        Assumptions.assumeTrue(Files.isExecutable(NVCC), "nvcc not installed at " + NVCC + ": cannot build the C seal");
        Files.writeString(dir.resolve(CudaHeader.FILE_NAME), CudaHeader.generate());
        // The same summation probe_slot does (warp-parallel there), over one descriptor per input line.
        Files.writeString(dir.resolve("seal.cu"), """
                #include <cstdio>
                #include "gpuos_layout.cuh"
                int main() {
                    unsigned long long salt, w[%d];
                    while (scanf("%%llx", &salt) == 1) {
                        for (int i = 0; i < %d; ++i) scanf("%%llx", &w[i]);
                        const gpuos_task* t = (const gpuos_task*)w;
                        const unsigned int words = gpuos_sealed_words(t->flags, t->nrefs);
                        unsigned long long sum = salt;
                        for (unsigned int i = 0; i < words; ++i) if (i != GPUOS_SEAL_WORD) sum += gpuos_seal_mix(w[i], i);
                        printf("%%llx\\n", sum);
                    }
                    return 0;
                }
                """.formatted(TaskFields.TASK_BYTES / 8, TaskFields.TASK_BYTES / 8));
        Process cc = new ProcessBuilder(NVCC.toString(), "-std=c++17", "-o", "seal", "seal.cu").directory(dir.toFile())
                .redirectErrorStream(true).start();
        String log = new String(cc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(cc.waitFor(5, TimeUnit.MINUTES), "nvcc did not finish");
        assertEquals(0, cc.exitValue(), "nvcc rejected the seal program:\n" + log);

        Random random = new Random(13);
        int cases = 200;
        long[][] descriptors = new long[cases][];
        long[] salts = new long[cases];
        StringBuilder input = new StringBuilder();
        for (int c = 0; c < cases; c++) {
            long[] w = new long[(int) (TaskFields.TASK_BYTES / 8)];
            for (int i = 0; i < w.length; i++) w[i] = random.nextLong();
            // flags with and without REFS_IN_DEVICE, nrefs 0..4 (and a bad 255, clamped as the agent clamps it)
            int flags = random.nextInt(0x10000) & ~(c % 2 == 0 ? Layouts.TASK_FLAG_REFS_IN_DEVICE : 0);
            int nrefs = c % 7 == 6 ? 255 : c % 5;
            int word = (int) (TaskFields.FLAGS >>> 3);
            w[word] &= ~(0xFFFFL << (TaskFields.FLAGS & 7) * 8) & ~(0xFFL << (TaskFields.NREFS & 7) * 8);
            w[word] |= (long) flags << (TaskFields.FLAGS & 7) * 8 | (long) nrefs << (TaskFields.NREFS & 7) * 8;
            descriptors[c] = w;
            salts[c] = random.nextLong();
            input.append(Long.toHexString(salts[c]));
            for (long x : w) input.append(' ').append(Long.toHexString(x));
            input.append('\n');
        }
        Process run = new ProcessBuilder(dir.resolve("seal").toString()).redirectErrorStream(true).start();
        run.getOutputStream().write(input.toString().getBytes(StandardCharsets.US_ASCII));
        run.getOutputStream().close();
        String[] lines = new String(run.getInputStream().readAllBytes(), StandardCharsets.US_ASCII).trim().split("\n");
        assertTrue(run.waitFor(1, TimeUnit.MINUTES));
        assertEquals(cases, lines.length, String.join("\n", lines));
        for (int c = 0; c < cases; c++) {
            long[] w = descriptors[c];
            int flagsWord = (int) (TaskFields.FLAGS >>> 3);
            int flags = (int) (w[flagsWord] >>> (TaskFields.FLAGS & 7) * 8) & 0xFFFF;
            int nrefs = (int) (w[flagsWord] >>> (TaskFields.NREFS & 7) * 8) & 0xFF;
            long java = TaskSeal.of(salts[c], w, 0, w, TaskSeal.HEADER_WORDS,
                    TaskSeal.sealedWords(flags, nrefs) - TaskSeal.HEADER_WORDS);
            assertEquals(Long.toHexString(java), lines[c], "case " + c + " (flags " + flags + ", nrefs " + nrefs + ")");
        }
    }
}
