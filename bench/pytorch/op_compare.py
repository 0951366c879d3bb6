#!/usr/bin/env python3
"""Compares a GPUOS op dump with PyTorch on the same inputs (issue 3).

    ./gpuos opcheck --out DIR                    # GPUOS side: inputs, outputs, DIR/manifest.json
    python3 bench/pytorch/op_compare.py DIR      # PyTorch side: DIR/op_compare.json, DIR/op_compare.md

For every case of the manifest the inputs are rebuilt as torch tensors (on CUDA when available, else on the
CPU) with the same dtypes, shapes, strides and storage offsets, the case's PyTorch expression is evaluated on
them, and the result is compared with GPUOS's output:

  * dtype and shape must be the same (type promotion and broadcasting agree);
  * NaN positions must be the same;
  * integer and bool results must be equal;
  * floating results: the error must be within the tolerance of the case's check and dtype (TOLERANCE, read from
    the manifest: GPUOS's one table, dev.gpuos.tensor.ToleranceTable, with each value's justification):
      elementwise  max over elements of |x - r| / max(|r|, floor)
      normwise     max over rows of max|x - r| / max(max|r|, floor), a row being the last dimension of size > 1
                   of the result (a keepdim reduction's trailing 1s do not make rows of one element)
    where x is GPUOS, r is PyTorch, infinities must match exactly (they are skipped in the max), and floor is
    the dtype's machine epsilon: a result that cancelled to below eps (inputs are O(1)) has no relative digits
    left, so it is judged absolutely, at tolerance x eps.

A case GPUOS rejected (UnsupportedDTypeException) is run too: PyTorch rejecting it as well is a pass; PyTorch
accepting it is reported as an acceptance difference (not a failure: the issue's criteria are numeric).
Known semantic differences are in KNOWN_DIFFERENCES with their reason; none is skipped silently.

Exit status: 0 when every case passes, 1 on any mismatch or an incomplete dump (opcheck stopped early; its
finished cases are still compared), 2 on bad usage or a missing torch.

    python3 bench/pytorch/op_compare.py --validate DIR   # manifest and file sizes only (no torch needed)
    python3 bench/pytorch/op_compare.py --self-test      # the error measures on synthetic data (no torch needed)
"""

import array
import fnmatch
import json
import math
import os
import struct
import sys

# name -> (struct/array code, bytes per element, floating)
DTYPES = {
    "bool": ("B", 1, False),
    "int32": ("i", 4, False),
    "int64": ("q", 8, False),
    "float16": ("e", 2, True),
    "bfloat16": ("H", 2, True),
    "float32": ("f", 4, True),
    "float64": ("d", 8, True),
}

# torch.finfo(dtype).eps: below it, errors are judged absolutely (see the module docstring).
FLOOR = {"float16": 2.0 ** -10, "bfloat16": 2.0 ** -7, "float32": 2.0 ** -23, "float64": 2.0 ** -52}

# (check, dtype) -> tolerance, set from the manifest's "tolerance" table by load_manifest(): the values and why
# each is what it is live in one place, dev.gpuos.tensor.ToleranceTable, which opcheck writes into the dump.
TOLERANCE = {}


class Known:
    """A documented difference. kind 'reference': compare with `torch` (evaluated in float64, rounded to the output
    dtype) instead of the case's expression. kind 'differs': the results are expected to differ; reported, not
    failed."""

    def __init__(self, kind, reason, torch=None):
        self.kind, self.reason, self.torch = kind, reason, torch


# Case id patterns (fnmatch) -> Known.
KNOWN_DIFFERENCES = {
    "gelu()/*": Known(
        "reference",
        "PyTorch computes x/2 * (1 + erf(x/sqrt2)), which cancels for x < -3 (in float32, 1 + erf is below 1e-6 "
        "at x = -5, where float spacing near 1 is 6e-8); GPUOS computes the same function as x/2 * "
        "erfc(-x/sqrt2), exact there. Reference: that cancellation-free form, evaluated by PyTorch in float64.",
        torch="a * 0.5 * torch.special.erfc(-a * 0.7071067811865476)"),
    "geluTanh()/*": Known(
        "reference",
        "PyTorch computes x/2 * (1 + tanh(y)), which cancels for x < -3; GPUOS computes the same function as "
        "x / (1 + exp(-2y)). Reference: that form, evaluated by PyTorch in float64.",
        torch="a / (1 + torch.exp(-1.5957691216057308 * (a + 0.044715 * a * a * a)))"),
    "hardsigmoid()/F64/*": Known(
        "reference",
        "PyTorch multiplies by 1.0f/6.0f, a float32 constant, even in float64 (relative error 2.98e-8 = the "
        "rounding of 1/6 to float); GPUOS divides by 6. Reference: min(max(x + 3, 0), 6) / 6 in float64.",
        torch="torch.clamp(a + 3, 0, 6) / 6"),
    "hardswish()/F64/*": Known(
        "reference",
        "PyTorch multiplies by 1.0f/6.0f, a float32 constant, even in float64 (relative error 2.98e-8); GPUOS "
        "divides by 6. Reference: x * min(max(x + 3, 0), 6) / 6 in float64.",
        torch="a * torch.clamp(a + 3, 0, 6) / 6"),
    "sub(*)/BOOL/*": Known(
        "differs",
        "PyTorch rejects subtraction with any bool operand; GPUOS rejects only bool - bool (its dtype rule looks at "
        "the promoted dtype), so bool - 2.5 computes 1.0 - 2.5 = -1.5 as float32 and bool - 3 as int64."),
    "rsub(*)/BOOL/*": Known(
        "differs",
        "PyTorch rejects subtraction with any bool operand; GPUOS rejects only bool - bool (as for sub): "
        "torch.rsub(bool, 1.0) computes 1.0 - 1.0 = 0.0 as float32 and with 3, 3 - 1 = 2 as int64."),
    "floorDivide(long)/I32/by-zero": Known(
        "differs",
        "integer division by zero: PyTorch raises ZeroDivisionError on the CPU and returns an unspecified value "
        "on CUDA; GPUOS defines 0 (a GPU kernel cannot raise)."),
    "to(DType)/F32/to-I32-out-of-range": Known(
        "differs",
        "float to int32 of NaN, +-inf and out-of-range values is undefined behaviour in C++: PyTorch returns what "
        "the conversion instruction gives (x86: INT_MIN; CUDA: saturation, NaN -> 0); GPUOS defines saturation at "
        "the int32 range and NaN -> 0 on every backend (Java's (int) x), so it agrees with PyTorch on CUDA. "
        "In-range conversions are checked by the other to-int cases."),
}


def known_difference(case_id):
    for pattern, known in KNOWN_DIFFERENCES.items():
        if fnmatch.fnmatchcase(case_id, pattern):
            return known
    return None


# --- reading the dump (no torch, no numpy) -------------------------------------------------------------------------

def decode(data, dtype):
    """Little-endian elements of `dtype` as Python floats (floating dtypes) or ints."""
    code, size, floating = DTYPES[dtype]
    if len(data) % size:
        raise ValueError("%d bytes is not a whole number of %s elements" % (len(data), dtype))
    n = len(data) // size
    if dtype == "float16":
        return list(struct.unpack("<%de" % n, data))
    if dtype == "bfloat16":
        halves = struct.unpack("<%dH" % n, data)
        return list(struct.unpack("<%df" % n, struct.pack("<%dI" % n, *[h << 16 for h in halves])))
    values = array.array(code)
    values.frombytes(data)
    if sys.byteorder != "little":
        values.byteswap()
    return [float(v) for v in values] if floating else [int(v) for v in values]


def numel(shape):
    n = 1
    for s in shape:
        n *= s
    return n


def read_file(directory, name, dtype, count):
    with open(os.path.join(directory, name), "rb") as f:
        data = f.read()
    size = DTYPES[dtype][1]
    if len(data) != count * size:
        raise ValueError("%s: %d bytes, the manifest says %d %s elements (%d bytes)"
                         % (name, len(data), count, dtype, count * size))
    return decode(data, dtype)


def load_manifest(directory):
    with open(os.path.join(directory, "manifest.json")) as f:
        manifest = json.load(f)
    if manifest.get("format") != "gpuos-opcheck/1":
        raise ValueError("not a gpuos-opcheck/1 manifest: format %r" % manifest.get("format"))
    table = manifest.get("tolerance")
    if not table:
        raise ValueError("the manifest has no tolerance table (a dump from before ToleranceTable): run opcheck again")
    TOLERANCE.clear()
    for key, value in table.items():
        check, dtype = key.split("/")
        TOLERANCE[(check, dtype)] = float(value)
    return manifest


def validate(directory, manifest):
    """Checks every file against the manifest: sizes, dtypes, and that each view stays inside its storage."""
    problems = []
    for case in manifest["cases"]:
        try:
            for spec in case["inputs"]:
                read_file(directory, spec["file"], spec["dtype"], spec["storage_numel"])
                shape, strides = spec["shape"], spec["strides"]
                if len(shape) != len(strides):
                    raise ValueError("input %s: shape %s and strides %s differ in rank" % (spec["name"], shape, strides))
                if numel(shape) > 0:
                    last = spec["offset"] + sum((s - 1) * st for s, st in zip(shape, strides))
                    if last >= spec["storage_numel"]:
                        raise ValueError("input %s: view reaches element %d of %d" % (spec["name"], last, spec["storage_numel"]))
            if case["status"] == "ok":
                out = case["output"]
                read_file(directory, out["file"], out["dtype"], numel(out["shape"]))
        except (OSError, ValueError, KeyError) as e:
            problems.append("%s: %s" % (case.get("id"), e))
    return problems


# --- the error measures (pure Python, on flat lists) ---------------------------------------------------------------

def nan_mismatches(x, r):
    return sum(1 for a, b in zip(x, r) if math.isnan(a) != math.isnan(b))


def _pair_error(a, b):
    """None when the pair is equal or both NaN; inf when exactly one is infinite or they are unequal infinities."""
    if a == b or (math.isnan(a) and math.isnan(b)):
        return None
    if math.isinf(a) or math.isinf(b) or math.isnan(a) or math.isnan(b):
        return math.inf
    return abs(a - b)


def elementwise_error(x, r, floor):
    """max over elements of |x - r| / max(|r|, floor); inf for mismatched infinities or NaNs."""
    worst = 0.0
    for a, b in zip(x, r):
        d = _pair_error(a, b)
        if d is not None:
            worst = max(worst, d / max(abs(b), floor) if d != math.inf else math.inf)
    return worst


def normwise_error(x, r, row, floor):
    """max over rows of `row` elements of max|x - r| / max(max|r|, floor); only finite references set the scale."""
    worst = 0.0
    row = max(row, 1)
    for start in range(0, len(r), row):
        xs, rs = x[start:start + row], r[start:start + row]
        scale = max([abs(b) for b in rs if math.isfinite(b)] + [floor])
        diff = 0.0
        for a, b in zip(xs, rs):
            d = _pair_error(a, b)
            if d is not None:
                diff = max(diff, d)
        worst = max(worst, diff / scale if diff != math.inf else math.inf)
    return worst


def row_length(shape):
    """The length of a normwise row: the last dimension of size > 1 (1 for a single element)."""
    longer = [s for s in shape if s > 1]
    return longer[-1] if longer else 1


def exact_mismatches(x, r):
    return sum(1 for a, b in zip(x, r) if a != b)


def compare(x, r, dtype, check, shape):
    """(error, tolerance, ok, note) of GPUOS values x against reference values r, both flat lists."""
    if len(x) != len(r):
        return math.inf, 0.0, False, "%d values vs %d" % (len(x), len(r))
    if not DTYPES[dtype][2]:
        bad = exact_mismatches(x, r)
        return float(bad), 0.0, bad == 0, "%d of %d differ" % (bad, len(x)) if bad else ""
    tol = TOLERANCE[(check, dtype)]
    nans = nan_mismatches(x, r)
    if check == "elementwise":
        err = elementwise_error(x, r, FLOOR[dtype])
    else:
        err = normwise_error(x, r, row_length(shape), FLOOR[dtype])
    note = "%d NaN positions differ" % nans if nans else ""
    return err, tol, nans == 0 and err <= tol, note


# --- running PyTorch -----------------------------------------------------------------------------------------------

def import_torch():
    try:
        import torch  # noqa: F401
        return torch
    except ImportError:
        sys.stderr.write("op_compare.py: PyTorch is required to compare (pip install torch); "
                         "--validate and --self-test work without it\n")
        sys.exit(2)


def build_input(torch, directory, spec, device):
    dtype = getattr(torch, spec["dtype"])
    with open(os.path.join(directory, spec["file"]), "rb") as f:
        data = f.read()
    base = torch.frombuffer(bytearray(data), dtype=dtype).clone() if data else torch.empty(0, dtype=dtype)
    return torch.as_strided(base.to(device), spec["shape"], spec["strides"], spec["offset"])


def evaluate(torch, expression, inputs):
    scope = {"torch": torch, "F": torch.nn.functional}
    scope.update(inputs)
    # Expressions come from our own manifest. Full builtins: torch 2.11's Python-scalar paths import lazily, and an
    # import under a restricted __builtins__ fails with KeyError: '__import__'.
    import builtins
    return eval(expression, {"__builtins__": builtins}, scope)


def flat_values(torch, t):
    t = t.detach().to("cpu").reshape(-1)
    return t.double().tolist() if t.is_floating_point() else [int(v) for v in t.tolist()]


def run_case(torch, directory, case, device):
    """One result row: id, api, dtype, case, status (pass/FAIL/known/both-reject/accept-diff), err, tol, note."""
    row = {"id": case["id"], "api": case["api"], "dtype": case["dtype"], "case": case["id"].split("/")[-1],
           "torch": case["torch"], "status": "FAIL", "max_rel_err": None, "tolerance": None, "note": ""}
    known = known_difference(case["id"])
    inputs = {s["name"]: build_input(torch, directory, s, device) for s in case["inputs"]}
    if case["status"] == "error":
        row["note"] = "GPUOS failed: " + case.get("message", "")
        return row
    if case["status"] == "rejected":
        try:
            result = evaluate(torch, case["torch"], inputs)
            row["status"] = "accept-diff"
            row["note"] = "GPUOS rejects (%s); PyTorch returns %s" % (case.get("message", ""), str(result.dtype).replace("torch.", ""))
        except Exception:  # noqa: BLE001 - any PyTorch error means it rejects the case too
            row["status"] = "both-reject"
        return row
    expression = case["torch"]
    out = case["output"]
    try:
        if known is not None and known.kind == "reference":
            expression = known.torch
            upcast = {k: (v.double() if v.is_floating_point() else v) for k, v in inputs.items()}
            result = evaluate(torch, expression, upcast).to(getattr(torch, out["dtype"]))
        else:
            result = evaluate(torch, expression, inputs)
    except Exception as e:  # noqa: BLE001
        row["note"] = "PyTorch raised %s: %s" % (type(e).__name__, str(e).splitlines()[0] if str(e) else "")
        if known is not None and known.kind == "differs":
            row["status"] = "known"
            row["note"] += " (known difference)"
        return row
    ref_dtype = str(result.dtype).replace("torch.", "")
    if ref_dtype != out["dtype"] or list(result.shape) != list(out["shape"]):
        row["note"] = "PyTorch gives %s %s, GPUOS %s %s" % (ref_dtype, list(result.shape), out["dtype"], out["shape"])
        return row
    x = read_file(directory, out["file"], out["dtype"], numel(out["shape"]))
    err, tol, ok, note = compare(x, flat_values(torch, result), out["dtype"], case["check"], out["shape"])
    row.update(max_rel_err=err, tolerance=tol, note=note)
    if known is not None:
        row["status"] = "known" if known.kind == "differs" else ("pass" if ok else "FAIL")
        row["note"] = (note + "; " if note else "") + ("known difference" if known.kind == "differs"
                                                        else "reference: " + expression)
    else:
        row["status"] = "pass" if ok else "FAIL"
    return row


# --- reporting -----------------------------------------------------------------------------------------------------

def fmt_err(v):
    return "-" if v is None else ("inf" if v == math.inf else "%.2e" % v)


def table(rows):
    lines = ["| op | dtype | case | max rel err | tolerance | ok | note |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append("| `%s` | %s | %s | %s | %s | %s | %s |" % (
            r["api"], r["dtype"], r["case"], fmt_err(r["max_rel_err"]), fmt_err(r["tolerance"]), r["status"],
            r["note"].replace("|", "\\|")))
    return lines


def report(directory, manifest, rows, device):
    counts = {}
    for r in rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    failed = counts.get("FAIL", 0)
    complete = manifest.get("complete", True)
    summary = {"complete_dump": complete, "gpuos_backend": manifest.get("backend"), "gpuos_device": manifest.get("device"),
               "torch_device": device, "cases": len(rows), "counts": counts, "failed": failed}
    # JSON has no infinity: an infinite error is written as the string "inf".
    json_rows = [dict(r, max_rel_err=fmt_err(r["max_rel_err"]) if r["max_rel_err"] == math.inf else r["max_rel_err"])
                 for r in rows]
    with open(os.path.join(directory, "op_compare.json"), "w") as f:
        json.dump({"summary": summary, "tolerance": {"%s/%s" % k: v for k, v in TOLERANCE.items()},
                   "floor": FLOOR, "rows": json_rows}, f, indent=1, allow_nan=False, default=str)
    md = ["# GPUOS vs PyTorch, op by op", "",
          "GPUOS backend `%s` (%s), PyTorch on `%s`: %d cases, %s." % (
              manifest.get("backend"), manifest.get("device"), device, len(rows),
              ", ".join("%d %s" % (v, k) for k, v in sorted(counts.items()))),
          "" if complete else "**The dump is incomplete** (opcheck stopped early): only its finished cases are here.",
          "", "Error measures and tolerances: see `bench/pytorch/op_compare.py`. `both-reject`: GPUOS and PyTorch "
          "both reject the dtype; `accept-diff`: GPUOS rejects what PyTorch accepts; `known`: a documented "
          "difference.", "", "## Known differences", ""]
    for pattern, known in KNOWN_DIFFERENCES.items():
        md.append("- `%s` (%s): %s" % (pattern, known.kind, known.reason))
    problems = [r for r in rows if r["status"] in ("FAIL", "accept-diff", "known")]
    md += ["", "## Failures and differences", ""] + (table(problems) if problems else ["none"])
    md += ["", "## All cases", ""] + table(rows)
    with open(os.path.join(directory, "op_compare.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    return failed


def main(argv):
    if len(argv) == 1 and argv[0] == "--self-test":
        return self_test()
    if len(argv) == 2 and argv[0] == "--validate":
        problems = validate(argv[1], load_manifest(argv[1]))
        for p in problems:
            print(p)
        print("%d problem(s)" % len(problems))
        return 1 if problems else 0
    if len(argv) != 1 or argv[0].startswith("-"):
        sys.stderr.write(__doc__)
        return 2
    directory = argv[0]
    manifest = load_manifest(directory)
    problems = validate(directory, manifest)
    torch = import_torch()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    # Full float32 matmul on both sides: no TF32.
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    for flag in ("allow_fp16_reduced_precision_reduction", "allow_bf16_reduced_precision_reduction"):
        try:  # accumulate 16-bit products in float32, as GPUOS does (older torch lacks the bf16 flag)
            setattr(torch.backends.cuda.matmul, flag, False)
        except (AttributeError, AssertionError):
            pass
    rows = [run_case(torch, directory, c, device) for c in manifest["cases"]]
    # The log gets the rows that need a look; op_compare.md has them all.
    for line in table([r for r in rows if r["status"] not in ("pass", "both-reject")]):
        print(line)
    for p in problems:
        print("manifest problem: " + p)
    failed = report(directory, manifest, rows, device)
    complete = manifest.get("complete", True)
    print("op_compare: %d cases%s, %d failed; %s" % (len(rows), "" if complete else " (INCOMPLETE dump)", failed,
                                                    os.path.join(directory, "op_compare.md")))
    return 1 if failed or problems or not complete else 0


# --- self test (no torch) ------------------------------------------------------------------------------------------

def self_test():
    import tempfile
    nan, inf = math.nan, math.inf
    checks = []
    # Fixture bounds for the measures below (a real run reads GPUOS's table from the manifest).
    TOLERANCE.update({("elementwise", "float32"): 1e-5, ("normwise", "float32"): 1e-4,
                      ("elementwise", "bfloat16"): 1e-2})

    def expect(name, got, want):
        checks.append((name, got == want, got, want))

    # Decoding: bf16 is the top half of a float32, f16 is IEEE half.
    expect("bf16 decode", [str(v) for v in decode(struct.pack("<4H", 0x3F80, 0xC040, 0xFF80, 0x7FC0), "bfloat16")],
           ["1.0", "-3.0", "-inf", "nan"])
    expect("f16 decode", decode(struct.pack("<3H", 0x3C00, 0xC500, 0x7BFF), "float16"), [1.0, -5.0, 65504.0])
    expect("i64 decode", decode(struct.pack("<2q", -2 ** 63, 7), "int64"), [-2 ** 63, 7])
    expect("bool decode", decode(bytes([0, 1, 1]), "bool"), [0, 1, 1])
    # Elementwise: relative, with the floor near zero; infinities must match; NaN both sides is equal.
    expect("equal", elementwise_error([1.0, -inf, nan, 0.0], [1.0, -inf, nan, -0.0], 1e-7), 0.0)
    expect("relative", elementwise_error([1.00001], [1.0], 1e-7) <= 1.0001e-5, True)
    expect("floor", elementwise_error([1e-12], [0.0], 2.0 ** -23) < 1e-5, True)
    expect("inf mismatch", elementwise_error([inf], [3.0e38], 1e-7), inf)
    expect("nan count", nan_mismatches([nan, 1.0, nan], [nan, nan, 2.0]), 2)
    # Normwise: per row of the last dimension, scaled by the row's largest finite reference.
    expect("normwise rows", normwise_error([1.0, 100.001, 0.5, 0.0], [1.0, 100.0, 0.5, 0.0], 2, 1e-7) < 1.1e-5, True)
    expect("normwise cancel", normwise_error([1.0, 1e-6], [1.0, 0.0], 2, 1e-7), 1e-6)
    expect("normwise inf", normwise_error([-inf, 1.0], [-inf, 1.0], 2, 1e-7), 0.0)
    expect("row length", [row_length([4, 5, 1]), row_length([1, 5, 1]), row_length([]), row_length([3])], [5, 5, 1, 3])
    # compare(): tolerance by check and dtype, exact integers, NaN positions.
    expect("f32 pass", compare([1.000001], [1.0], "float32", "elementwise", [1])[2], True)
    expect("f32 fail", compare([1.0001], [1.0], "float32", "elementwise", [1])[2], False)
    expect("bf16 pass", compare([1.0078125], [1.0], "bfloat16", "elementwise", [1])[2], True)
    expect("reduction tol", compare([1.00005, 2.0], [1.0, 2.0], "float32", "normwise", [2])[2], True)
    expect("nan fails", compare([nan, 1.0], [0.5, 1.0], "float32", "normwise", [2])[2], False)
    expect("int exact", compare([3, 4], [3, 5], "int32", "elementwise", [2])[:3], (1.0, 0.0, False))
    expect("known lookup", known_difference("gelu()/F16/special").kind, "reference")
    expect("known none", known_difference("add(Tensor)/F32/broadcast"), None)
    expect("known sub", known_difference("sub(double)/BOOL/scalar").kind, "differs")
    # A tiny dump on disk: validate() reads what a Java dump writes.
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "c0000_a.bin"), "wb") as f:
            f.write(struct.pack("<5f", 1, 2, 3, 4, 5))
        with open(os.path.join(d, "c0000_out.bin"), "wb") as f:
            f.write(struct.pack("<2f", 2, 4))
        case = {"id": "t", "status": "ok", "inputs": [{"name": "a", "dtype": "float32", "file": "c0000_a.bin",
                                                        "storage_numel": 5, "shape": [2], "strides": [2], "offset": 1}],
                "output": {"dtype": "float32", "shape": [2], "file": "c0000_out.bin"}}
        expect("validate ok", validate(d, {"cases": [case]}), [])
        case["inputs"][0]["offset"] = 4
        expect("validate bounds", len(validate(d, {"cases": [case]})), 1)
        # The bounds come from the manifest (GPUOS's table); a manifest without them is refused.
        with open(os.path.join(d, "manifest.json"), "w") as f:
            json.dump({"format": "gpuos-opcheck/1", "cases": [], "tolerance": {"normwise/float64": 1e-9}}, f)
        load_manifest(d)
        expect("table from manifest", TOLERANCE, {("normwise", "float64"): 1e-9})
        with open(os.path.join(d, "manifest.json"), "w") as f:
            json.dump({"format": "gpuos-opcheck/1", "cases": []}, f)
        try:
            load_manifest(d)
            expect("no table refused", False, True)
        except ValueError:
            expect("no table refused", True, True)
    failed = [c for c in checks if not c[1]]
    for name, ok, got, want in checks:
        print("%-18s %s%s" % (name, "ok" if ok else "FAIL", "" if ok else ": got %r, want %r" % (got, want)))
    print("self-test: %d checks, %d failed" % (len(checks), len(failed)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
