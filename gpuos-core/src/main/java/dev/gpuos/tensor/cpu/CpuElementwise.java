package dev.gpuos.tensor.cpu;

import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.HostElements;
import dev.gpuos.tensor.Layout;
import dev.gpuos.tensor.Operand;
import dev.gpuos.tensor.Scalar;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.op.DoubleKernel;
import dev.gpuos.tensor.op.ElementwiseNode;
import dev.gpuos.tensor.op.ElementwiseOp;
import dev.gpuos.tensor.op.FillNode;
import dev.gpuos.tensor.op.FillPattern;
import dev.gpuos.tensor.op.LongKernel;
import dev.gpuos.tensor.op.UploadNode;

import java.lang.foreign.MemorySegment;
import java.util.List;

/** CPU execution of elementwise, fill and upload nodes. */
final class CpuElementwise {
    private CpuElementwise() {}

    static void run(ElementwiseNode node) {
        Tensor out = node.output();
        long n = out.numel();
        if (n == 0) return;
        List<Operand> operands = node.operands();
        int arity = operands.size();
        Layout[] layouts = new Layout[arity + 1];
        MemorySegment[] segs = new MemorySegment[arity];
        DType[] types = new DType[arity];
        Scalar[] scalars = new Scalar[arity];
        layouts[arity] = out.layout();
        for (int k = 0; k < arity; k++) {
            if (operands.get(k) instanceof Tensor t) {
                layouts[k] = t.layout();
                segs[k] = CpuBackend.segment(t);
                types[k] = t.dtype();
            } else {
                scalars[k] = (Scalar) operands.get(k);
                layouts[k] = Layout.contiguous(new long[out.rank()]); // unused placeholder with zero offsets
            }
        }
        MemorySegment outSeg = CpuBackend.segment(out);
        DType outType = out.dtype();
        StridedCursor cur = new StridedCursor(out.shape(), layouts);
        ElementwiseOp op = node.op();
        double[] p = node.params();

        if (op == ElementwiseOp.CAST && types[0] == outType) {
            for (long i = 0; i < n; i++, cur.next()) {
                HostElements.setBits(outSeg, outType, cur.offset(1), HostElements.getBits(segs[0], outType, cur.offset(0)));
            }
            return;
        }
        DType opType = node.operandType();
        double[] constD = new double[arity];
        long[] constL = new long[arity];
        for (int k = 0; k < arity; k++) {
            if (scalars[k] == null) continue;
            // Scalars convert to the common dtype first, like any operand (0.1 becomes 0.0999755859375 for F16).
            constD[k] = scalars[k].kind() == DType.F64 ? HostElements.round(opType, scalars[k].doubleValue())
                    : HostElements.round(opType, (double) scalars[k].longValue());
            constL[k] = HostElements.round(opType, scalars[k].longValue());
        }
        switch (node.computeType()) {
            case I64 -> {
                LongKernel f = op.longKernel();
                long[] v = new long[3];
                for (long i = 0; i < n; i++, cur.next()) {
                    for (int k = 0; k < arity; k++) {
                        v[k] = scalars[k] != null ? constL[k]
                                : HostElements.round(opType, HostElements.getLong(segs[k], types[k], cur.offset(k)));
                    }
                    HostElements.setLong(outSeg, outType, cur.offset(arity), f.apply(v[0], v[1], v[2], p));
                }
            }
            case F32 -> {
                DoubleKernel f = op.doubleKernel();
                double[] v = new double[3];
                for (long i = 0; i < n; i++, cur.next()) {
                    for (int k = 0; k < arity; k++) {
                        v[k] = scalars[k] != null ? constD[k] : loadFloat(segs[k], types[k], opType, cur.offset(k));
                    }
                    HostElements.setFloat(outSeg, outType, cur.offset(arity), (float) f.apply(v[0], v[1], v[2], p));
                }
            }
            case F64 -> {
                DoubleKernel f = op.doubleKernel();
                double[] v = new double[3];
                for (long i = 0; i < n; i++, cur.next()) {
                    for (int k = 0; k < arity; k++) {
                        v[k] = scalars[k] != null ? constD[k] : HostElements.getDouble(segs[k], types[k], cur.offset(k));
                    }
                    HostElements.setDouble(outSeg, outType, cur.offset(arity), f.apply(v[0], v[1], v[2], p));
                }
            }
            default -> throw new IllegalStateException("compute type must be F32, F64 or I64, got " + node.computeType());
        }
    }

    // Operand of an F32-compute op: converted to the operand type (F16, BF16 or F32), then widened to float.
    private static float loadFloat(MemorySegment seg, DType type, DType opType, long offset) {
        float v = HostElements.getFloat(seg, type, offset);
        return type == opType || opType == DType.F32 ? v : (float) HostElements.round(opType, v);
    }

    static void fill(FillNode node) {
        Tensor out = node.output();
        MemorySegment seg = CpuBackend.segment(out);
        DType t = out.dtype();
        long n = out.numel();
        StridedCursor cur = new StridedCursor(out.shape(), out.layout());
        for (long i = 0; i < n; i++, cur.next()) {
            long o = cur.offset(0);
            switch (node.pattern()) {
                case FillPattern.Constant(Scalar v) -> {
                    if (t.isFloating() || t == DType.BOOL) HostElements.setDouble(seg, t, o, v.doubleValue());
                    else HostElements.setLong(seg, t, o, v.longValue());
                }
                case FillPattern.Arange(Scalar start, Scalar step) -> {
                    if (!t.isFloating() && start.kind() != DType.F64 && step.kind() != DType.F64) {
                        HostElements.setLong(seg, t, o, start.longValue() + i * step.longValue());
                    } else {
                        HostElements.setDouble(seg, t, o, start.doubleValue() + i * step.doubleValue());
                    }
                }
                case FillPattern.Uniform(long seed, double low, double high) -> HostElements.setDouble(seg, t, o,
                        low + FillPattern.unitInterval(FillPattern.hash(seed, i)) * (high - low));
                case FillPattern.Normal(long seed, double mean, double std) -> {
                    double u1 = ((FillPattern.hash(seed, 2 * i) >>> 11) + 1) * 0x1.0p-53;
                    double u2 = FillPattern.unitInterval(FillPattern.hash(seed, 2 * i + 1));
                    HostElements.setDouble(seg, t, o, mean + std * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2));
                }
            }
        }
    }

    static void upload(UploadNode node) {
        Tensor out = node.output();
        MemorySegment data = node.readableData();
        MemorySegment.copy(data, 0, CpuBackend.segment(out), out.storageOffset() * out.dtype().byteSize(), data.byteSize());
    }
}
