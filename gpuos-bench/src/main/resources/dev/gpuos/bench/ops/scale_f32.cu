// out[i] = a[i] * alpha, dense float32: a dependent chain of these measures latency per dependent op.
GPUOS_OP {
    const gpuos_tensor_ref& out = task->refs[0];
    const gpuos_tensor_ref& a = task->refs[1];
    const float alpha = (float)gpuos::arg_f64(task, 0);
    long long begin, end;
    gpuos::tile_range(task, tile, out.numel, &begin, &end);
    float* o = (float*)out.data;
    const float* pa = (const float*)a.data;
    for (long long i = begin + threadIdx.x; i < end; i += blockDim.x) o[i] = pa[i] * alpha;
}
