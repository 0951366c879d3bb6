package dev.gpuos.tensor.interp;

import dev.gpuos.runtime.layout.CudaHeader;
import org.junit.jupiter.api.Assumptions;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The interpreter core ({@code gpuos_interp.cuh} with the generated part) compiled by nvcc into a HOST program,
 * which runs op programs over host buffers exactly as the device does over a tile (same {@code run_element},
 * same offsets; reductions one lane per group), so CI checks the interpreter without a GPU. Skips without nvcc.
 *
 * <p>Protocol (little-endian, stdin): per case: i32 instructions, the program, i64 args[6], i32 operands,
 * i64 numel, per operand: i32 dtype, i32 ndim, i64 sizes[ndim], i64 strides[ndim], i32 flags, i64 bytes, the
 * bytes. Output (stdout): per case, per operand: the operand's bytes after the run.
 */
final class HostInterpreter {
    private HostInterpreter() {}

    static final Path NVCC = Path.of("/usr/local/bin/nvcc");

    /** One operand: its whole buffer, the element offset of element 0 in it, sizes and strides. */
    record Ref(int dtype, long[] sizes, long[] strides, boolean contiguous, byte[] data) {}

    record Case(Program program, long[] args, long numel, List<Ref> refs) {}

    private static Path binary;

    static void assumeNvcc() {
        Assumptions.assumeTrue(Files.isExecutable(NVCC), "nvcc not installed at " + NVCC + ": cannot build the host interpreter");
    }

    static synchronized Path binary() throws IOException, InterruptedException {
        if (binary != null) return binary;
        assumeNvcc();
        Path dir = Files.createTempDirectory("gpuos-interp-host");
        Files.writeString(dir.resolve(CudaHeader.FILE_NAME), CudaHeader.generate());
        String src = """
                #include <cmath>
                #include <cstdio>
                #include <cstdlib>
                #include <cstring>
                #include <vector>
                #include "gpuos_layout.cuh"
                """ + InterpreterSource.OPS_HEADER + InterpreterSource.CORE + """
                static bool rd(void* p, size_t n) { return fread(p, 1, n, stdin) == n; }
                int main() {
                    int ninstr;
                    while (rd(&ninstr, 4)) {
                        std::vector<gi::instr> prog(ninstr);
                        rd(prog.data(), 8 * (size_t)ninstr);
                        static gpuos_task task;
                        memset(&task, 0, sizeof task);
                        rd(task.args, 8 * GPUOS_MAX_ARGS);
                        int nrefs; long long numel;
                        rd(&nrefs, 4); rd(&numel, 8);
                        task.nrefs = (unsigned char)nrefs;
                        std::vector<std::vector<unsigned char>> bufs(nrefs);
                        for (int k = 0; k < nrefs; ++k) {
                            int dtype, ndim, flags; long long bytes;
                            rd(&dtype, 4); rd(&ndim, 4);
                            gpuos_tensor_ref& r = task.refs[k];
                            r.dtype = (unsigned char)dtype; r.ndim = (unsigned char)ndim; r.numel = numel;
                            for (int d = 0; d < ndim; ++d) { long long s; rd(&s, 8); r.sizes[d] = (int)s; }
                            for (int d = 0; d < ndim; ++d) { long long s; rd(&s, 8); r.strides[d] = s; }
                            rd(&flags, 4); r.flags = (unsigned short)flags;
                            rd(&bytes, 8);
                            bufs[k].resize((size_t)bytes + 8);
                            rd(bufs[k].data(), (size_t)bytes);
                            r.data = (unsigned long long)bufs[k].data();
                        }
                        const unsigned int n = gi::program_length(prog[0]);
                        if (n != (unsigned int)ninstr) { fprintf(stderr, "bad program header\\n"); return 2; }
                        if (n >= 2 && prog[1].op == GPUOS_IOP_REDUCE) {
                            // One lane per group (the device's teams combine the same partials in a fixed order).
                            const unsigned int op = prog[1].x, dtype = prog[1].y;
                            for (long long g = 0; g < (long long)task.args[3]; ++g) {
                                if (gi::is_floating_dtype(dtype)) gi::reduce_store(&task, op, dtype, g, gi::reduce_partial<double>(&task, op, dtype, g, 0, 1));
                                else gi::reduce_store(&task, op, dtype, g, gi::reduce_partial<long long>(&task, op, dtype, g, 0, 1));
                            }
                            for (int k = 0; k < nrefs; ++k) fwrite(bufs[k].data(), 1, bufs[k].size() - 8, stdout);
                            continue;
                        }
                        unsigned long long words[GPUOS_INTERP_MAX_REGS] = {0};
                        const gi::regs regs{words, 1};
                        const bool flat = gi::all_contiguous(&task);
                        for (long long i = 0; i < numel; ++i) {
                            long long o[GPUOS_MAX_REFS];
                            gi::offsets(&task, flat, i, o);
                            gi::run_element(prog.data(), n, regs, &task, o);
                        }
                        for (int k = 0; k < nrefs; ++k) fwrite(bufs[k].data(), 1, bufs[k].size() - 8, stdout);
                    }
                    return 0;
                }
                """;
        Path cu = dir.resolve("host_interp.cu");
        Files.writeString(cu, src);
        Path out = dir.resolve("host_interp");
        Process p = new ProcessBuilder(NVCC.toString(), "-std=c++17", "-O1", "-arch=sm_90", "-I" + dir, "-o", out.toString(),
                cu.toString()).redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(600, TimeUnit.SECONDS), "nvcc did not finish");
        assertEquals(0, p.exitValue(), "nvcc rejected the host interpreter:\n" + log);
        binary = out;
        return out;
    }

    /** Runs the cases; returns, per case, the operands' bytes after the run. */
    static List<List<byte[]>> run(List<Case> cases) throws IOException, InterruptedException {
        ByteArrayOutputStream in = new ByteArrayOutputStream();
        for (Case c : cases) {
            byte[] code = c.program().code();
            put(in, 4, code.length / 8);
            in.write(code);
            for (int i = 0; i < 6; i++) put(in, 8, i < c.args().length ? c.args()[i] : 0);
            put(in, 4, c.refs().size());
            put(in, 8, c.numel());
            for (Ref r : c.refs()) {
                put(in, 4, r.dtype());
                put(in, 4, r.sizes().length);
                for (long s : r.sizes()) put(in, 8, s);
                for (long s : r.strides()) put(in, 8, s);
                put(in, 4, r.contiguous() ? 1 : 0);
                put(in, 8, r.data().length);
                in.write(r.data());
            }
        }
        Process p = new ProcessBuilder(binary().toString()).start();
        Thread feeder = Thread.ofVirtual().start(() -> {
            try (var os = p.getOutputStream()) {
                os.write(in.toByteArray());
            } catch (IOException ignored) {
                // the process died: its exit status says why
            }
        });
        byte[] out = p.getInputStream().readAllBytes();
        String err = new String(p.getErrorStream().readAllBytes());
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        feeder.join();
        assertEquals(0, p.exitValue(), "host interpreter failed: " + err);
        List<List<byte[]>> result = new ArrayList<>();
        int at = 0;
        for (Case c : cases) {
            List<byte[]> refs = new ArrayList<>();
            for (Ref r : c.refs()) {
                byte[] b = java.util.Arrays.copyOfRange(out, at, at + r.data().length);
                at += r.data().length;
                refs.add(b);
            }
            result.add(refs);
        }
        assertEquals(out.length, at, "host interpreter output size");
        return result;
    }

    private static void put(ByteArrayOutputStream s, int bytes, long v) {
        ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v);
        s.write(b.array(), 0, bytes);
    }
}
