#!/usr/bin/env python3
"""Side by side: runtime.json of `gpuos bench --only runtime` under two worker hand-offs (issue 13).

usage: runtime_ab.py DIR_A DIR_B   (each holds a runtime.json); prints median / p99 of every shared measure."""
import json
import sys


def load(d):
    with open(f"{d}/runtime.json") as f:
        return json.load(f)


a, b = load(sys.argv[1]), load(sys.argv[2])
print(f"{'measure':46s} {a.get('worker_handoff', 'A'):>22s} {b.get('worker_handoff', 'B'):>22s}   (median / p99)")
for k, va in a.items():
    vb = b.get(k)
    if isinstance(va, dict) and isinstance(vb, dict) and "median" in va:
        print(f"{k:46s} {va['median']:10.3f} / {va['p99']:9.3f} {vb['median']:10.3f} / {vb['p99']:9.3f}")
    elif not isinstance(va, dict) and k not in ("device", "worker", "jit_stats_warm"):
        print(f"{k:46s} {str(va):>22s} {str(vb):>22s}")
