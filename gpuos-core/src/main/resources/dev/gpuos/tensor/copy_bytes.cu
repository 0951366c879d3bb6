// Copies refs[0] to refs[1], both contiguous U8 of equal length: stages an upload into a buffer that earlier,
// possibly still running, tasks use, in dependency order. tileSize = bytes per tile.

GPUOS_OP {
    const unsigned char* src = (const unsigned char*)task->refs[0].data;
    unsigned char* dst = (unsigned char*)task->refs[1].data;
    long long begin, end;
    gpuos::tile_range(task, tile, task->refs[1].numel, &begin, &end);
    for (long long i = begin + threadIdx.x; i < end; i += blockDim.x) dst[i] = src[i];
}
