__global__ void __launch_bounds__(256, 2) probe(const gpuos_task* t, const gpuos_env* e) { __shared__ gpuos_task s; if (threadIdx.x == 0) s = *t; __syncthreads(); native_body(&s, blockIdx.x, e); }
