#!/usr/bin/env python3
"""Side by side: runtime.json of `gpuos bench --only runtime` under several worker hand-offs (issue 13).

usage: runtime_ab.py DIR...   (each holds a runtime.json); prints the median (and p99) of every measure."""
import json
import sys

runs = []
for d in sys.argv[1:]:
    try:
        with open(f"{d}/runtime.json") as f:
            runs.append((d.rstrip("/").split("/")[-1], json.load(f)))
    except OSError as e:
        print(f"{d}: {e}")
if not runs:
    sys.exit(1)
print(f"{'median (p99)':44s}" + "".join(f"{name:>21s}" for name, _ in runs))
for key, value in runs[0][1].items():
    if isinstance(value, dict) and "median" in value:
        cells = []
        for _, r in runs:
            v = r.get(key)
            cells.append(f"{v['median']:10.3f} ({v['p99']:7.2f})" if isinstance(v, dict) else f"{'-':>21s}")
        print(f"{key:44s}" + "".join(f"{c:>21s}" for c in cells))
