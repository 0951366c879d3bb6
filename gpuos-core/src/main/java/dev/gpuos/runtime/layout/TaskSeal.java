package dev.gpuos.runtime.layout;

/**
 * The seal of a descriptor in the host ring ({@code gpuos_task.seal}): lets the agent take the first task of a
 * submission from ONE read of its slot over PCIe, instead of a doorbell read and then a descriptor read.
 *
 * <p>Why a seal and not just the seq word: the agent reads a slot as 41 separate 16-byte loads, which PCIe may
 * serve in any order, so seeing the new seq says nothing about the other words. The seal is a position-keyed
 * hash of the words the task uses (header, then its operand records unless they live in device memory), plus a
 * random salt per queue ({@code gpuos_host_control.sealSalt}). The agent recomputes it over what it read and
 * takes the slot only if seq and seal both match; a read torn between an old and a new descriptor (or a slot
 * left in recycled pinned memory by another queue) fails it. The host writes the seal last, with release, and
 * the agent reads the 16-byte vector holding it with {@code ld.acquire.sys}: seeing it orders everything the
 * host wrote before (operand programs in pinned memory included) before what the agent's block does next.
 *
 * <p>The same function in C is emitted into {@code gpuos_layout.cuh} ({@link #cSource()}); {@code
 * TaskSealHostTest} compiles that with g++ and checks both agree.
 */
public final class TaskSeal {
    private TaskSeal() {}

    private static final long GOLDEN = 0x9E3779B97F4A7C15L;
    private static final long M1 = 0xBF58476D1CE4E5B9L;
    private static final long M2 = 0x94D049BB133111EBL;

    /** Word index of {@code seal} in a descriptor; the seal covers every used word but this one. */
    public static final int SEAL_WORD = (int) (Layouts.TASK.offset("seal") / 8);
    /** Words before the operand records. */
    public static final int HEADER_WORDS = (int) (TaskFields.REFS / 8);
    /** Words of one operand record. */
    public static final int REF_WORDS = (int) (TaskFields.REF_BYTES / 8);

    static {
        if (Layouts.TASK.offset("seal") % 8 != 0 || TaskFields.REFS % 8 != 0 || TaskFields.REF_BYTES % 8 != 0
                || TaskFields.FLAGS / 8 != TaskFields.NREFS / 8) {
            throw new ExceptionInInitializerError("the seal is computed over 8-byte words; flags and nrefs share one");
        }
    }

    /** splitmix64's finalizer of the word, keyed by its position. */
    public static long mix(long word, int index) {
        long z = word + (index + 1) * GOLDEN;
        z = (z ^ (z >>> 30)) * M1;
        z = (z ^ (z >>> 27)) * M2;
        return z ^ (z >>> 31);
    }

    /** Words the seal covers: the header, and the operand records unless they come from device memory. */
    public static int sealedWords(int flags, int nrefs) {
        boolean inDevice = (flags & Layouts.TASK_FLAG_REFS_IN_DEVICE) != 0;
        return HEADER_WORDS + (inDevice ? 0 : Math.min(nrefs, Layouts.MAX_REFS) * REF_WORDS);
    }

    /**
     * The seal of a descriptor whose header words are {@code header[hOff, hOff + HEADER_WORDS)} and whose operand
     * record words are {@code refs[rOff, rOff + refWords)} ({@code refWords} from {@link #sealedWords}, less the
     * header). The header's seal word is skipped, whatever it holds.
     */
    public static long of(long salt, long[] header, int hOff, long[] refs, int rOff, int refWords) {
        long sum = salt;
        for (int i = 0; i < HEADER_WORDS; i++) {
            if (i != SEAL_WORD) sum += mix(header[hOff + i], i);
        }
        for (int j = 0; j < refWords; j++) {
            sum += mix(refs[rOff + j], HEADER_WORDS + j);
        }
        return sum;
    }

    /** The C definitions of the above, for the generated header (host and device). */
    static String cSource() {
        return """
                // TaskSeal (dev.gpuos.runtime.layout.TaskSeal): seal = sealSalt + sum of gpuos_seal_mix(word, index)
                // over the sealed words (GPUOS_SEAL_WORDS) but word GPUOS_SEAL_WORD.
                #if defined(__CUDACC__)
                #define GPUOS_SEAL_FN static __host__ __device__ __forceinline__
                #else
                #define GPUOS_SEAL_FN static inline
                #endif
                #define GPUOS_SEAL_WORD %d
                #define GPUOS_SEAL_HEADER_WORDS %d
                #define GPUOS_SEAL_REF_WORDS %d
                GPUOS_SEAL_FN unsigned long long gpuos_seal_mix(unsigned long long w, unsigned int i) {
                    unsigned long long z = w + (unsigned long long)(i + 1) * 0x%016XULL;
                    z = (z ^ (z >> 30)) * 0x%016XULL;
                    z = (z ^ (z >> 27)) * 0x%016XULL;
                    return z ^ (z >> 31);
                }
                GPUOS_SEAL_FN unsigned int gpuos_sealed_words(unsigned int flags, unsigned int nrefs) {
                    return GPUOS_SEAL_HEADER_WORDS + ((flags & %d) ? 0u
                            : (nrefs < %d ? nrefs : %du) * GPUOS_SEAL_REF_WORDS);
                }

                """.formatted(SEAL_WORD, HEADER_WORDS, REF_WORDS, GOLDEN, M1, M2, Layouts.TASK_FLAG_REFS_IN_DEVICE,
                Layouts.MAX_REFS, Layouts.MAX_REFS);
    }
}
