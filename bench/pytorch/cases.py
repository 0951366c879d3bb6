"""Workload cases W1..W6 of issue 4, mirrored from dev.gpuos.bench.workloads (Java is the source of truth).

Nothing here imports torch, so the data, accuracy and file logic can be tested on any machine:
  python3 -m unittest discover -s bench/pytorch -p 'test_*.py'

Inputs: element i of an input with seed s (SeededInputs.java):
    h = hash32((i + hash32(s)) mod 2^32)        hash32: Thomas Mueller's hash, all mod 2^32:
                                                   x = (x ^ (x >> 16)) * 0x45d9f3b   (x3 steps, see hash32)
    u = float32(h >> 8) * 2^-24                 exact
    v = float32(lo) + float32(span) * u          two float32 operations, each rounded to nearest even
The multiplier is below 2^27, so int64 arithmetic (numpy or torch, CPU or GPU) never overflows; the two
float32 steps are separate ops (never an FMA), so Java, numpy and torch produce the same bits. Java writes a
fingerprint of every input (count, first four and last element, float64 sum) into workloads_gpuos.json and
run.py checks its own inputs against it before comparing anything.
"""

import json
import math
import os
import re
import struct
from dataclasses import dataclass, field

M32 = 0xFFFFFFFF
MULTIPLIER = 0x45D9F3B
# F32 rows of GPUOS's one tolerance table (dev.gpuos.tensor.ToleranceTable, where each value is justified): this
# script runs without Java, so it keeps the two numbers, and gpuos-bench's ToleranceCopiesTest fails if they drift.
ELEMENTWISE = 1e-5     # f32 tolerance for elementwise ops
ACCUMULATING = 1e-4    # ... for reductions, matmul, softmax


def hash32_int(x):
    x &= M32
    x = ((x ^ (x >> 16)) * MULTIPLIER) & M32
    x = ((x ^ (x >> 16)) * MULTIPLIER) & M32
    return x ^ (x >> 16)


def hash32(x):
    """The same hash on an int64 array (numpy or torch) holding values in [0, 2^32)."""
    x = ((x ^ (x >> 16)) * MULTIPLIER) & M32
    x = ((x ^ (x >> 16)) * MULTIPLIER) & M32
    return x ^ (x >> 16)


def generate_numpy(seed, count, lo, span, start=0):
    """Elements [start, start + count) as a float32 numpy array."""
    import numpy as np
    idx = np.arange(start, start + count, dtype=np.int64)
    h = hash32((idx + hash32_int(seed)) & M32)
    u = (h >> 8).astype(np.float32) * np.float32(2.0 ** -24)
    return u * np.float32(span) + np.float32(lo)


@dataclass(frozen=True)
class Input:
    name: str
    shape: tuple
    seed: int
    lo: float
    span: float

    @property
    def count(self):
        return math.prod(self.shape)


def symmetric(name, seed, *shape):
    return Input(name, tuple(shape), seed, -1.0, 2.0)


@dataclass(frozen=True)
class Case:
    workload: str
    label: str
    description: str
    inputs: tuple
    rows: int
    ops: int
    tolerance: float
    params: dict = field(default_factory=dict, hash=False, compare=False)

    @property
    def key(self):
        return self.workload + "_" + re.sub(r"[^A-Za-z0-9]+", "", self.label)

    def probe_rows(self):
        """Every max(1, rows // 16)-th row and the last, as WorkloadCase.probeRows()."""
        step = max(1, self.rows // 16)
        return sorted(set(range(0, self.rows, step)) | {self.rows - 1})


def w1(n, ops=10_000):
    return Case("W1", f"n={n}", f"{ops} independent adds of {n} elements",
                (symmetric("a", 11, ops, n), symmetric("b", 12, ops, n)), ops, ops, ELEMENTWISE, {"n": n})


def w2(n=2048, iterations=1000):
    return Case("W2", f"n={n}", f"{iterations} x (add, mul, relu, sigmoid, div) on {n} elements",
                (symmetric("a", 21, iterations, n), symmetric("b", 22, iterations, n),
                 symmetric("c", 23, iterations, n), Input("d", (iterations, n), 24, 1.0, 1.0)),
                iterations, 5 * iterations, ELEMENTWISE, {"n": n})


def w3(length, tokens=1000):
    return Case("W3", f"L={length}", f"{tokens} tokens of softmax(q @ K^T / 8) @ V, head 64, cache length {length}",
                (symmetric("q", 31, tokens, 64), symmetric("k", 32, length, 64), symmetric("v", 33, length, 64)),
                tokens, 4 * tokens, ACCUMULATING, {"length": length})


def w4(rows, cols, iterations=1000):
    return Case("W4", f"{rows}x{cols}", f"{iterations} x sum(dim=-1) over ({rows}, {cols})",
                (symmetric("x", 41, iterations, rows, cols),), iterations, iterations, ACCUMULATING,
                {"rows": rows, "cols": cols})


def w5(n=1024, steps=1000):
    return Case("W5", f"n={n}", f"{steps} dependent multiplies x = x * c on {n} elements",
                (symmetric("x", 51, n), Input("c", (n,), 52, 0.999, 0.002)), 1, steps, ELEMENTWISE,
                {"n": n, "steps": steps})


def w6(requests=1000, threads=8):
    lo, span = -1.0 / 16, 1.0 / 8
    return Case("W6", f"threads={threads}",
                f"{requests} batch-1 requests of gelu(x @ w1 + b1) @ w2 + b2 (256-256-256); "
                f"GPUOS records from {threads} threads, PyTorch runs them in one eager loop",
                (symmetric("x", 61, requests, 256), Input("w1", (256, 256), 62, lo, span),
                 Input("b1", (256,), 63, lo, span), Input("w2", (256, 256), 64, lo, span),
                 Input("b2", (256,), 65, lo, span)), requests, 5 * requests, ACCUMULATING)


def issue_cases():
    """The sizes of the issue, in the order WorkloadBenchmark.Plan.issue() runs them."""
    return ([w1(n) for n in (256, 512, 1024, 2048, 4096, 8192, 16384)] + [w2()]
            + [w3(length) for length in (128, 512, 2048)]
            + [w4(r, c) for r, c in ((8, 256), (32, 128), (64, 512), (128, 1024))] + [w5(), w6()])


def small_cases():
    """Tiny sizes for a smoke test of the script (no GPUOS counterpart)."""
    return [w1(64, 50), w2(32, 10), w3(16, 5), w4(4, 8, 6), w5(16, 20), w6(5)]


# ---- accuracy (as Accuracy.java) -------------------------------------------------------------------------------

def floor_fraction(tolerance):
    """As Accuracy.Tolerance: elementwise rows are judged per element (tiny elements against 1e-3 of their
    row's largest magnitude); accumulating rows (reductions, matmul, softmax) normwise, against the row's
    largest magnitude, because a sum rounds relative to its terms and an element that cancels to near zero
    keeps an absolute error a per-element bound would call huge."""
    return 1e-3 if tolerance <= ELEMENTWISE else 1.0


def max_rel_error_numpy(actual, reference, tolerance):
    """Rows of `actual` vs rows of `reference` (2-D): max of |x - r| / max(|r|, f * max|row of r|, 1e-30), f from
    floor_fraction(tolerance).

    NaN or infinity where the reference is finite, and a shape mismatch, are infinite error."""
    import numpy as np
    a = np.asarray(actual, dtype=np.float64)
    r = np.asarray(reference, dtype=np.float64)
    if a.shape != r.shape:
        return math.inf
    if a.size == 0:
        return 0.0
    a = a.reshape(a.shape[0], -1)
    r = r.reshape(r.shape[0], -1)
    scale = np.abs(r).max(axis=1, keepdims=True)
    floor = np.maximum(floor_fraction(tolerance) * scale, 1e-30)
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.abs(a - r) / np.maximum(np.abs(r), floor)
    bad = ~np.isfinite(a) & ~((a == r) | (np.isnan(a) & np.isnan(r)))
    err = np.where(bad, math.inf, np.nan_to_num(err, nan=0.0))
    return float(err.max())


def status(err, tolerance):
    return "ok" if err <= tolerance else "FAILED-CHECK"


def percentiles(times):
    import numpy as np
    t = np.asarray(times, dtype=np.float64)
    return {"median_ms": float(np.percentile(t, 50)), "p10_ms": float(np.percentile(t, 10)),
            "p90_ms": float(np.percentile(t, 90)), "min_ms": float(t.min()), "max_ms": float(t.max()),
            "repeats": int(t.size)}


# ---- result files (same schema as ResultRow.java / ResultFiles.java) ---------------------------------------------

CSV_COLUMNS = ["workload", "case", "config", "status", "median_ms", "p10_ms", "p90_ms", "min_ms", "repeats",
               "us_per_op", "first_run_ms", "max_rel_err", "tolerance", "ops", "note"]


def row(case, config, times=None, first_run_ms=None, row_status="ok", max_rel_err=None, note="", extra=None,
        ops=None):
    ops = case.ops if ops is None else ops
    r = {"workload": case.workload, "case": case.label, "config": config, "description": case.description,
         "ops": ops}
    stats = percentiles(times) if times else {"median_ms": None, "p10_ms": None, "p90_ms": None, "min_ms": None,
                                              "max_ms": None, "repeats": 0}
    r.update(stats)
    r["us_per_op"] = stats["median_ms"] * 1000 / ops if stats["median_ms"] is not None and ops else None
    r["first_run_ms"] = first_run_ms
    r["status"] = row_status
    r["max_rel_err"] = max_rel_err if max_rel_err is None or math.isfinite(max_rel_err) else None
    r["tolerance"] = case.tolerance
    r["note"] = note
    r["extra"] = extra or {}
    return r


def _csv_field(v):
    s = "" if v is None else str(v)
    if any(ch in s for ch in ',"\n'):
        return '"' + s.replace('"', '""') + '"'
    return s


def to_csv(rows):
    lines = [",".join(CSV_COLUMNS)]
    for r in rows:
        lines.append(",".join(_csv_field(r.get(c)) for c in CSV_COLUMNS))
    return "\n".join(lines) + "\n"


def write_atomically(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def _finite(o):
    """JSON has no NaN or infinity: null, as the Java writer does."""
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if isinstance(o, dict):
        return {k: _finite(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_finite(v) for v in o]
    return o


def write_results(out_dir, stem, document):
    write_atomically(os.path.join(out_dir, stem + ".json"), json.dumps(_finite(document), indent=2) + "\n")
    write_atomically(os.path.join(out_dir, stem + ".csv"), to_csv(document.get("rows", [])))


# ---- what the Java side left for us ------------------------------------------------------------------------------

def load_gpuos(out_dir):
    path = os.path.join(out_dir, "workloads_gpuos.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def fingerprint_mismatches(case, gpuos_doc, fingerprint_of):
    """Inputs whose Java fingerprint disagrees with ours; fingerprint_of(input) -> (count, head, last, sum).

    Head and last are compared as float32 bits (head_bits, last_bits), the sum to a relative 1e-9."""
    prints = (gpuos_doc or {}).get("inputs", {}).get(case.key)
    if prints is None:
        return None  # Java did not run this case
    bad = []
    for inp in case.inputs:
        want = prints.get(inp.name)
        if want is None:
            bad.append(f"{inp.name}: not in workloads_gpuos.json")
            continue
        count, head, last, total = fingerprint_of(inp)
        head_bits = [float32_bits(h) for h in head]
        if (count != want["count"] or head_bits != want["head_bits"] or float32_bits(last) != want["last_bits"]
                or abs(total - want["sum"]) > 1e-9 * max(1.0, abs(want["sum"]))):
            bad.append(f"{inp.name}: ours count {count} head {list(head)} last {last} sum {total}, "
                       f"java count {want['count']} head {want['head']} last {want['last']} sum {want['sum']}")
    return bad


def float32_bits(x):
    """The bits of x rounded to float32, as Java's Float.floatToRawIntBits (signed)."""
    return struct.unpack("<i", struct.pack("<f", x))[0]


def read_probe(path, case, row_length):
    import numpy as np
    data = np.fromfile(path, dtype="<f4")
    rows = len(case.probe_rows())
    if data.size != rows * row_length:
        raise ValueError(f"{path}: {data.size} floats, expected {rows} probe rows x {row_length}")
    return data.reshape(rows, row_length)


def probe_files(out_dir, gpuos_doc, case):
    """{config: path} of the GPUOS probe files written for this case."""
    probe_dir = os.path.join(out_dir, (gpuos_doc or {}).get("probe_dir", "workloads_probe"))
    found = {}
    if os.path.isdir(probe_dir):
        prefix = case.key + "__"
        for name in sorted(os.listdir(probe_dir)):
            if name.startswith(prefix) and name.endswith(".f32"):
                found[name[len(prefix):-len(".f32")]] = os.path.join(probe_dir, name)
    return found
