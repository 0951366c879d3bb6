// Faults on purpose: writes far outside any allocation.
GPUOS_OP {
    float* o = (float*)task->refs[0].data;
    o[(1ll << 40) + threadIdx.x] = 1.0f;
}
