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


def args(defaults):
    """steps, hidden, repeats from argv, each defaulting to DEFAULTS' entry."""
    return [int(sys.argv[i + 1]) if len(sys.argv) > i + 1 else d for i, d in enumerate(defaults)]


def report_both(name, fn, repeats, same):
    """Times FN eager, then captured once as a CUDA graph (after a warm-up on a side stream, as PyTorch asks)
    whose replay must agree with an eager run (SAME(graph_out, eager_out)); prints a markdown row for each."""
    print("| %s | eager | %.1f | %.1f | %.1f |" % ((name,) + timed(fn, repeats)))
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(3):
            fn()
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out = fn()
    graph.replay()
    torch.cuda.synchronize()
    assert same(out, fn())
    print("| %s | cuda graph | %.1f | %.1f | %.1f |" % ((name,) + timed(graph.replay, repeats)))


def close(a, b):
    return torch.allclose(a.float(), b.float(), rtol=1e-2, atol=1e-2)


def main():
    steps, hidden, repeats = args((64, 2048, 200))
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
        report_both(name, lambda: chain(x, r, w, hidden), repeats, close)


if __name__ == "__main__":
    main()
