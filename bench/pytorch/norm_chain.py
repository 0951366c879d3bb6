"""PyTorch side of NormChainBench (issue 12, W7): x = rms_norm(x + r_i) * w_i for STEPS steps on (1, HIDDEN),
eager and as a CUDA graph, F32 and BF16, in the same run as GPUOS. Prints one markdown row per case: median,
p10 and p90 microseconds per chain (synchronized), like NormChainBench.

Usage: python3 norm_chain.py [steps] [hidden] [repeats]
"""
import sys
import time

import torch
import torch.nn.functional as F


def chain(x, r, w, hidden):
    for ri, wi in zip(r, w):
        x = F.rms_norm(x + ri, (hidden,), eps=1e-6) * wi
    return x


def timed(fn, repeats):
    for _ in range(20):
        fn()
    torch.cuda.synchronize()
    ns = []
    for _ in range(repeats):
        t0 = time.perf_counter_ns()
        fn()
        torch.cuda.synchronize()
        ns.append(time.perf_counter_ns() - t0)
    ns.sort()
    return ns[len(ns) // 2] / 1e3, ns[len(ns) // 10] / 1e3, ns[len(ns) * 9 // 10] / 1e3


def main():
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 64
    hidden = int(sys.argv[2]) if len(sys.argv) > 2 else 2048
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    dev = torch.device("cuda")
    print(f"pytorch {torch.__version__}, {torch.cuda.get_device_name()}: {steps} steps on (1, {hidden})")
    print("| dtype | mode | median us | p10 us | p90 us |")
    print("|---|---|---|---|---|")
    for dtype in (torch.float32, torch.bfloat16):
        g = torch.Generator(device="cpu").manual_seed(42)
        x = (torch.rand(1, hidden, generator=g) * 2 - 1).to(dev, dtype)
        r = [(torch.rand(1, hidden, generator=g) * 2 - 1).to(dev, dtype) for _ in range(steps)]
        w = [(torch.rand(hidden, generator=g) + 0.5).to(dev, dtype) for _ in range(steps)]
        name = str(dtype).replace("torch.", "")
        print("| %s | eager | %.1f | %.1f | %.1f |" % ((name,) + timed(lambda: chain(x, r, w, hidden), repeats)))
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            for _ in range(3):
                chain(x, r, w, hidden)
        torch.cuda.current_stream().wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            out = chain(x, r, w, hidden)
        graph.replay()
        torch.cuda.synchronize()
        assert torch.allclose(out.float(), chain(x, r, w, hidden).float(), rtol=1e-2, atol=1e-2)
        print("| %s | cuda graph | %.1f | %.1f | %.1f |" % ((name,) + timed(graph.replay, repeats)))


if __name__ == "__main__":
    main()
