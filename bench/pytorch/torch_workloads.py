"""The workloads of cases.py in PyTorch: inputs generated on the GPU, one step function per workload that the
eager, CUDA-graph and torch.compile configurations share (torch.compile compiles the step, not the 10,000-op
loop around it, which is how one would use it for these loops)."""

import math
import time

import torch
import torch.nn.functional as F

import cases


def generate(inp, device, chunk=1 << 25):
    """cases.Input -> float32 tensor on `device`, bit-identical to SeededInputs.java (see cases.py)."""
    out = torch.empty(inp.count, dtype=torch.float32, device=device)
    mixed = cases.hash32_int(inp.seed)
    span = torch.tensor(inp.span, dtype=torch.float32, device=device)
    lo = torch.tensor(inp.lo, dtype=torch.float32, device=device)
    for start in range(0, inp.count, chunk):
        n = min(chunk, inp.count - start)
        idx = torch.arange(start, start + n, dtype=torch.int64, device=device)
        h = cases.hash32((idx + mixed) & cases.M32)
        u = (h >> 8).to(torch.float32) * (2.0 ** -24)   # exact
        scaled = u * span                                  # one rounding ...
        out[start:start + n] = scaled + lo                 # ... and another, never fused into an FMA
        del idx, h, u, scaled
    return out.view(inp.shape)


def fingerprint(t):
    flat = t.reshape(-1)
    return (flat.numel(), [float(v) for v in flat[:4].tolist()], float(flat[-1].item()),
            float(flat.double().sum().item()))


# ---- one step of each workload ---------------------------------------------------------------------------------

def step_add(a, b):
    return a + b


def step_chain(a, b, c, d):
    return torch.sigmoid(torch.relu((a + b) * c)) / d


def step_attention(q1, kt, v):
    return torch.softmax((q1 @ kt) / 8.0, dim=-1) @ v


def step_sum(x):
    return x.sum(dim=-1)


def step_mul(x, c):
    return x * c


def step_mlp(x1, w1, b1, w2, b2):
    return F.gelu(x1 @ w1 + b1) @ w2 + b2


STEPS = {"W1": step_add, "W2": step_chain, "W3": step_attention, "W4": step_sum, "W5": step_mul, "W6": step_mlp}


def program(case, step):
    """fn(inputs: dict) -> list of output rows, the whole workload with `step` as its op."""
    w = case.workload
    if w == "W1":
        return lambda t: [step(t["a"][i], t["b"][i]) for i in range(case.rows)]
    if w == "W2":
        return lambda t: [step(t["a"][k], t["b"][k], t["c"][k], t["d"][k]) for k in range(case.rows)]
    if w == "W3":
        def attention(t):
            kt = t["k"].t()
            return [step(t["q"][i:i + 1], kt, t["v"]) for i in range(case.rows)]
        return attention
    if w == "W4":
        return lambda t: [step(t["x"][k]) for k in range(case.rows)]
    if w == "W5":
        def chain(t):
            x, c = t["x"], t["c"]
            for _ in range(case.params["steps"]):
                x = step(x, c)
            return [x]
        return chain
    if w == "W6":
        return lambda t: [step(t["x"][r:r + 1], t["w1"], t["b1"], t["w2"], t["b2"]) for r in range(case.rows)]
    raise ValueError(f"unknown workload {w}")


def stack_rows(rows):
    return torch.stack([r.reshape(-1) for r in rows])


def max_rel_error(actual, reference, tolerance):
    """cases.max_rel_error_numpy on the GPU, for outputs too large to copy to the host (W1: 655 MB)."""
    fraction = cases.floor_fraction(tolerance)
    if actual.shape != reference.shape:
        return math.inf
    worst = 0.0
    for start in range(0, actual.shape[0], 2048):
        a = actual[start:start + 2048].double()
        r = reference[start:start + 2048].double()
        scale = r.abs().amax(dim=1, keepdim=True)
        floor = torch.clamp(fraction * scale, min=1e-30)
        err = (a - r).abs() / torch.maximum(r.abs(), floor)
        bad = ~torch.isfinite(a) & ~((a == r) | (torch.isnan(a) & torch.isnan(r)))
        err = torch.where(bad, torch.full_like(err, math.inf), torch.nan_to_num(err, nan=0.0))
        worst = max(worst, float(err.max().item()))
    return worst


def timed(fn):
    """(ms, result) of fn() between two device synchronizations."""
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    out = fn()
    torch.cuda.synchronize()
    return (time.perf_counter() - t0) * 1e3, out


class Graph:
    """The whole workload captured once as one CUDA graph (after a warm-up on a side stream, as the PyTorch
    docs ask: cuBLAS workspaces and allocator pools must exist before capture); replay() reruns it."""

    def __init__(self, fn, inputs):
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            fn(inputs)
        torch.cuda.current_stream().wait_stream(side)
        torch.cuda.synchronize()
        self.graph = torch.cuda.CUDAGraph()
        t0 = time.perf_counter()
        with torch.cuda.graph(self.graph):
            self.rows = fn(inputs)
        torch.cuda.synchronize()
        self.capture_ms = (time.perf_counter() - t0) * 1e3

    def replay(self):
        self.graph.replay()
        return self.rows
