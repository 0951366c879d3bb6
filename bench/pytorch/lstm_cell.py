"""PyTorch side of LstmCellBench (issue 12, W8): a peephole LSTM cell loop from precomputed gate inputs,
STEPS steps on HIDDEN, eager and as a CUDA graph, F32 and BF16, in the same run as GPUOS. Each step reads 8
tensors (the four gate inputs of the step, three peephole weights, the cell state):
    i = sigmoid(xi_t + pi * c); f = sigmoid(xf_t + pf * c); g = tanh(xg_t)
    c = f * c + i * g;          o = sigmoid(xo_t + po * c); h = o * tanh(c)
Prints one markdown row per case: median, p10 and p90 microseconds per loop (synchronized), like LstmCellBench.

Usage: python3 lstm_cell.py [steps] [hidden] [repeats]
"""
import torch

from norm_chain import args, close, report_both


def loop(gates, pi, pf, po, c):
    h = None
    for xi, xf, xg, xo in gates:
        i = torch.sigmoid(xi + pi * c)
        f = torch.sigmoid(xf + pf * c)
        g = torch.tanh(xg)
        c = f * c + i * g
        o = torch.sigmoid(xo + po * c)
        h = o * torch.tanh(c)
    return h, c


def main():
    steps, hidden, repeats = args((500, 1024, 100))
    dev = torch.device("cuda")
    print(f"pytorch {torch.__version__}, {torch.cuda.get_device_name()}: lstm cell loop, {steps} steps on {hidden}")
    print("| dtype | mode | median us | p10 us | p90 us |")
    print("|---|---|---|---|---|")
    for dtype in (torch.float32, torch.bfloat16):
        g = torch.Generator(device="cpu").manual_seed(42)
        gates = [[(torch.rand(1, hidden, generator=g) * 4 - 2).to(dev, dtype) for _ in range(4)] for _ in range(steps)]
        pi, pf, po = [(torch.rand(hidden, generator=g) - 0.5).to(dev, dtype) for _ in range(3)]
        c0 = (torch.rand(1, hidden, generator=g) * 2 - 1).to(dev, dtype)
        name = str(dtype).replace("torch.", "")
        report_both(name, lambda: loop(gates, pi, pf, po, c0), repeats,
                    lambda out, ref: all(close(a, b) for a, b in zip(out, ref)))


if __name__ == "__main__":
    main()
