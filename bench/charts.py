#!/usr/bin/env python3
"""Merges the two sides of the workload comparison (issue 4) into one table and charts.

    python3 bench/charts.py DIR

reads DIR/workloads_gpuos.json (gpuos bench) and DIR/workloads_torch.json (bench/pytorch/run.py), prints the
table and writes DIR/table.md; with matplotlib also DIR/w1_speedup.png (W1: speedup of GPUOS over PyTorch eager
and over a CUDA graph, against tensor size) and DIR/workloads.png (median time per configuration, one group of
bars per workload case). A timing whose output check failed is shown as FAILED-CHECK, never as a number; a
GPUOS timing counts only if its rows also matched PyTorch eager's (the cross-check run.py records).
"""

import json
import math
import os
import sys

CONFIGS = ["gpuos", "gpuos_replay", "gpuos_raw", "java_launch_per_op", "java_launch_per_op_raw", "torch_eager",
           "torch_cuda_graph", "torch_compile"]
TITLES = {"gpuos": "GPUOS", "gpuos_replay": "GPUOS replay", "gpuos_raw": "GPUOS raw tasks", "java_launch_per_op": "Java launch/op",
          "java_launch_per_op_raw": "Java launch/op (raw)",
          "torch_eager": "torch eager", "torch_cuda_graph": "CUDA graph", "torch_compile": "torch.compile"}


def load(path):
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def merge(gpuos, torch):
    """{(workload, case): {config: row}} in run order, GPUOS rows carrying the torch cross-check as 'verdict'."""
    checks = {}
    for c in (torch or {}).get("gpuos_checks", []):
        checks[(c["workload"], c["case"], c["config"])] = c
    merged = {}
    for doc in (gpuos, torch):
        for r in (doc or {}).get("rows", []):
            row = dict(r)
            row["verdict"] = verdict(row, checks.get((r["workload"], r["case"], r["config"])),
                                     torch is not None and r["config"] in ("gpuos", "gpuos_replay", "gpuos_raw",
                                                                         "java_launch_per_op",
                                                                         "java_launch_per_op_raw"))
            merged.setdefault((r["workload"], r["case"]), {})[r["config"]] = row
    return merged


def verdict(row, cross_check, cross_check_expected):
    """'ok', 'FAILED-CHECK', 'ERROR', 'SKIPPED', or 'unverified' (a GPUOS row without a torch cross-check)."""
    if row["status"] != "ok":
        return row["status"]
    if cross_check is not None and cross_check["status"] != "ok":
        return "FAILED-CHECK"
    if cross_check is None and cross_check_expected:
        return "unverified"
    return "ok"


def counts(row):
    return row is not None and row["verdict"] in ("ok", "unverified") and row.get("median_ms") is not None


def cell(row):
    if row is None:
        return "–"
    if not counts(row):
        return row["verdict"]
    mark = "*" if row["verdict"] == "unverified" else ""
    return f"{row['median_ms']:.3f}{mark} ({row['p10_ms']:.3f}–{row['p90_ms']:.3f})"


def speedup(rows, base, against):
    a, b = rows.get(base), rows.get(against)
    if not (counts(a) and counts(b)) or a["median_ms"] <= 0:
        return None
    return b["median_ms"] / a["median_ms"]


def fmt_speedup(x):
    return "–" if x is None else f"{x:.2f}x"


def table(merged, gpuos, torch):
    present = [c for c in CONFIGS if any(c in rows for rows in merged.values())]
    lines = ["# GPUOS vs PyTorch: workloads (issue 4)", ""]
    for name, doc in (("GPUOS", gpuos), ("PyTorch", torch)):
        env = (doc or {}).get("environment")
        if env is None:
            lines.append(f"- {name}: no results")
            continue
        keys = ["device", "driver_version", "java", "nvrtc_version", "torch", "cuda", "python"]
        lines.append(f"- {name}: " + ", ".join(f"{k} {env[k]}" for k in keys if env.get(k) is not None))
    lines += ["", "Median wall time in ms (p10–p90) of the whole workload; `*`: GPUOS rows not cross-checked against "
              "PyTorch eager (run.py did not see them). Speedup = PyTorch time / GPUOS time. GPUOS: the tensor API streamed as "
              "written; GPUOS replay: the same program captured once, each run one submission of its task batch "
              "(like a CUDA graph replay).", ""]
    header = ["workload", "case"] + [TITLES[c] for c in present] + ["GPUOS vs eager", "GPUOS vs graph",
                                                                   "GPUOS vs compile", "replay vs eager",
                                                                   "replay vs graph"]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    for (workload, case), rows in merged.items():
        cells = [workload, case] + [cell(rows.get(c)) for c in present]
        cells += [fmt_speedup(speedup(rows, "gpuos", t)) for t in ("torch_eager", "torch_cuda_graph", "torch_compile")]
        cells += [fmt_speedup(speedup(rows, "gpuos_replay", t)) for t in ("torch_eager", "torch_cuda_graph")]
        lines.append("| " + " | ".join(cells) + " |")
    notes = []
    for doc in (gpuos, torch):
        for n in (doc or {}).get("not_run", []):
            notes.append(f"- not run: {n.get('config')} {n.get('workloads', '')}: {n.get('reason')}")
        for r in (doc or {}).get("rows", []):
            if r["status"] != "ok" and r.get("note"):
                notes.append(f"- {r['workload']} {r['case']} {r['config']}: {r['status']}: {r['note']}")
    for c in (torch or {}).get("gpuos_checks", []):
        if c["status"] != "ok":
            notes.append(f"- cross-check {c['workload']} {c['case']} {c['config']} vs torch eager: {c['status']} "
                         f"(max rel err {c.get('max_rel_err')}) {c.get('note', '')}")
    if notes:
        lines += ["", "Notes:"] + notes
    return "\n".join(lines) + "\n"


def charts(merged, out_dir):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        print(f"charts: matplotlib not available ({e}); table only")
        return []
    written = []
    w1 = sorted(((int(case.split("=")[1]), rows) for (w, case), rows in merged.items() if w == "W1"),
                key=lambda t: t[0])
    if w1:
        fig, ax = plt.subplots(figsize=(8, 5))
        for base, against, style in (("gpuos", "torch_eager", "o-"), ("gpuos", "torch_cuda_graph", "s-"),
                                     ("gpuos_replay", "torch_eager", "o:"), ("gpuos_replay", "torch_cuda_graph", "s:"),
                                     ("gpuos_raw", "torch_eager", "o--"), ("gpuos_raw", "torch_cuda_graph", "s--")):
            pts = [(n, speedup(rows, base, against)) for n, rows in w1]
            pts = [(n, s) for n, s in pts if s is not None]
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], style,
                        label=f"{TITLES[base]} vs {TITLES[against]}")
        ax.axhline(1.0, color="grey", lw=0.8)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("elements per add (n)")
        ax.set_ylabel("speedup (PyTorch time / GPUOS time)")
        ax.set_title("W1: 10,000 independent adds")
        ax.legend()
        ax.grid(True, which="both", alpha=0.3)
        path = os.path.join(out_dir, "w1_speedup.png")
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)
        written.append(path)

    groups = list(merged.items())
    present = [c for c in CONFIGS if any(c in rows for _, rows in groups)]
    if groups and present:
        fig, ax = plt.subplots(figsize=(max(10, 1.1 * len(groups)), 6))
        width = 0.8 / len(present)
        for i, config in enumerate(present):
            xs, ys = [], []
            for g, (_, rows) in enumerate(groups):
                r = rows.get(config)
                if counts(r):
                    xs.append(g + (i - (len(present) - 1) / 2) * width)
                    ys.append(r["median_ms"])
            ax.bar(xs, ys, width, label=TITLES[config])
        ax.set_yscale("log")
        ax.set_xticks(range(len(groups)))
        ax.set_xticklabels([f"{w}\n{c}" for (w, c), _ in groups], fontsize=8)
        ax.set_ylabel("median wall time of the workload (ms, log)")
        ax.set_title("Workloads W1-W6 (bars only where the output check passed)")
        ax.legend(fontsize=8)
        ax.grid(True, axis="y", which="both", alpha=0.3)
        path = os.path.join(out_dir, "workloads.png")
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)
        written.append(path)
    return written


def main(argv):
    if len(argv) != 1:
        print("usage: charts.py DIR   (DIR holds workloads_gpuos.json and/or workloads_torch.json)", file=sys.stderr)
        return 2
    out_dir = argv[0]
    gpuos = load(os.path.join(out_dir, "workloads_gpuos.json"))
    torch = load(os.path.join(out_dir, "workloads_torch.json"))
    if gpuos is None and torch is None:
        print(f"charts: neither workloads_gpuos.json nor workloads_torch.json in {out_dir}", file=sys.stderr)
        return 1
    merged = merge(gpuos, torch)
    text = table(merged, gpuos, torch)
    print(text, end="")
    with open(os.path.join(out_dir, "table.md"), "w") as f:
        f.write(text)
    for path in charts(merged, out_dir):
        print(f"charts: wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
