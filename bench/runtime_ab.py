#!/usr/bin/env python3
"""Side by side: runtime.json of `gpuos bench --only runtime` under several worker variants (issue 13).

usage: runtime_ab.py DIR...   (each holds a runtime.json); one row per measure: the median, and the p99 after a
slash for latencies (round trips, hand-off legs). Columns are numbered; a legend names them."""
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
for k, (name, r) in enumerate(runs):
    print(f"[{k}] {name}: {r.get('device', '?')}")
keys = []
for _, r in runs:
    keys += [k for k, v in r.items() if isinstance(v, dict) and "median" in v and k not in keys]
width = 14
print(f"{'median[/p99]':46s}" + "".join(f"{'[' + str(k) + ']':>{width}s}" for k in range(len(runs))))


def cell(key, v):
    if not isinstance(v, dict):
        return "-"
    m = f"{v['median']:.4g}"
    if "round_trip" in key or "leg" in key:
        m += f"/{v['p99']:.3g}"
    return m


for key in keys:
    print(f"{key:46s}" + "".join(f"{cell(key, r.get(key)):>{width}s}" for _, r in runs))
