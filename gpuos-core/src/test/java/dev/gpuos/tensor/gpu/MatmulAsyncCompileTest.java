package dev.gpuos.tensor.gpu;

import dev.gpuos.jit.CompileUnit;
import dev.gpuos.jit.GenerationBuilder;
import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.gpu.OperatorSources.Family;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * matmul.cu's M_MMA_ASYNC compiled by nvcc for sm_90 as the JIT builds the operator (BF16): (1) its PTX stages
 * with 16-byte cp.async through L2 only (.cg: a buffer an earlier task of the running worker wrote is never read
 * from a stale L1 line), reads fragments with ldmatrix.x4 and multiplies with mma.sync m16n8k16 of the dtype;
 * (2) inlined into a probe kernel with the worker's launch bounds (256 threads, 2 blocks per SM, -maxrregcount=128),
 * it needs at most 128 registers and spills nothing (the operator's own __noinline__ function shows the
 * device-function ABI's callee-saved spills, as every separately linked operator does: see
 * ElementwisePackCompileTest). Skips without nvcc. That the instructions compute the right product is MatmulHostTest's
 * and GpuTensorCoreMatmulTest's business.
 */
class MatmulAsyncCompileTest {

    @Test
    void theAsyncTilesUseCpAsyncLdmatrixAndMmaWithinTheRegisterCap() throws Exception {
        Nvcc.assumeInstalled();
        for (DType t : new DType[]{DType.BF16}) {   // F16 differs in the mma's type only (OperatorSourceCompileTest compiles it)
            String source = OperatorSources.family(Family.MATMUL, t);
            CompileUnit unit = GenerationBuilder.operatorUnit(0, "matmul_" + t, source);
            String ptx = ElementwisePackCompileTest.nvcc(unit.source(), List.of("-rdc=true", "-ptx"), "unit.ptx", unit.options());
            Matcher def = Pattern.compile("\\.func\\s+\\S*mma_async_tiles\\S*\\(").matcher(ptx);   // not its declaration
            assertTrue(def.find(), t + ": no definition of mma_async_tiles in the PTX");
            String body = ptx.substring(def.end(), ptx.indexOf("\n}\n", def.end()));
            String kind = t == DType.BF16 ? "bf16" : "f16";
            assertTrue(body.contains("cp.async.cg.shared.global"), t + ": no 16-byte L2-only cp.async in\n" + body);
            assertFalse(body.contains("cp.async.ca"), t + ": a cp.async through L1");
            assertTrue(body.contains("ldmatrix.sync.aligned.m8n8.x4.shared.b16"), t + ": no ldmatrix.x4");
            assertTrue(body.contains("mma.sync.aligned.m16n8k16.row.col.f32." + kind + "." + kind + ".f32"),
                    t + ": no " + kind + " mma");
            assertTrue(body.contains("cp.async.wait_group"), t + ": the copies are never waited for");

            String inlined = unit.source().replace("__device__ __noinline__ void mma_async_tiles(",
                    "__device__ __forceinline__ void mma_async_tiles(");
            assertTrue(!inlined.equals(unit.source()), "mma_async_tiles's declaration changed: update this probe");
            inlined += "\nextern \"C\" __global__ void __launch_bounds__(GPUOS_BLOCK_THREADS, 2) probe_async("
                    + "const gpuos_task* t, const gpuos_env* env) { mma_async_tiles(t, blockIdx.x, env); }\n";
            String log = ElementwisePackCompileTest.nvcc(inlined, List.of("-rdc=true", "-c", "-Xptxas", "-v"), "probe.o",
                    unit.options());
            Matcher m = Pattern.compile("Function properties for probe_async\\s+(\\d+) bytes stack frame, (\\d+) bytes"
                    + " spill stores, (\\d+) bytes spill loads\\s+ptxas info\\s+: Used (\\d+) registers").matcher(log);
            assertTrue(m.find(), t + ": no ptxas report for probe_async:\n" + log);
            System.out.println("[matmul M_MMA_ASYNC " + t + "] " + m.group(0).replaceAll("\\s+", " "));
            assertEquals(0, Integer.parseInt(m.group(2)), t + ": spill stores\n" + log);
            assertEquals(0, Integer.parseInt(m.group(3)), t + ": spill loads\n" + log);
            assertTrue(Integer.parseInt(m.group(4)) <= 128, t + ": registers\n" + log);
        }
    }
}
