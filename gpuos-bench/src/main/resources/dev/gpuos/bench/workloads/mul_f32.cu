// out = a * b over dense float32 operands (refs: 0 out, 1 a, 2 b), like ops/add_f32.cu: W5's dependent step.
GPUOS_OP {
    const gpuos_tensor_ref& out = task->refs[0];
    const gpuos_tensor_ref& a = task->refs[1];
    const gpuos_tensor_ref& b = task->refs[2];
    long long begin, end;
    gpuos::tile_range(task, tile, out.numel, &begin, &end);
    float* o = (float*)out.data;
    const float* pa = (const float*)a.data;
    const float* pb = (const float*)b.data;
    for (long long i = begin + threadIdx.x; i < end; i += blockDim.x) o[i] = pa[i] * pb[i];
}
