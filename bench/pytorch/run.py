#!/usr/bin/env python3
"""Issue 4, PyTorch side: workloads W1..W6 (cases.py) in eager mode, as one CUDA graph per workload, and with
torch.compile of each workload's step; every configuration's rows are compared with eager's before its timing
counts, and so are the rows GPUOS wrote (workloads_probe/, from `gpuos bench`), after checking that both
sides generated the same inputs.

    python3 bench/pytorch/run.py --out DIR          writes DIR/workloads_torch.json and .csv

Run after `gpuos bench --out DIR` to get the GPUOS cross-check; without it the torch rows are still written.
Progress goes to stdout, one line per configuration and case. Time: about 2-3 minutes on an H100; the run
stops starting new work at --budget-s (default 230 s) and torch.compile gets --compile-limit-s per compile.
"""

import argparse
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cases  # noqa: E402  (needs the path above)

STEM = "workloads_torch"


class CompileTimeout(Exception):
    pass


def log(msg):
    print(msg, flush=True)


def nvidia_smi_driver():
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20)
        return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else None
    except (OSError, subprocess.SubprocessError):
        return None


def progress(r):
    if r["median_ms"] is None:
        log(f"{r['workload']:<3} {r['case']:<14} {r['config']:<19} {r['status']}: {r['note']}")
    else:
        err = "-" if r["max_rel_err"] is None else f"{r['max_rel_err']:.2e}"
        first = "-" if r["first_run_ms"] is None else f"{r['first_run_ms']:.1f}"
        log(f"{r['workload']:<3} {r['case']:<14} {r['config']:<19} median {r['median_ms']:10.3f} ms  "
            f"p10 {r['p10_ms']:10.3f}  p90 {r['p90_ms']:10.3f}  ({r['repeats']} runs; first {first} ms)  "
            f"{r['status']}  max rel err {err}" + (f"  [{r['note']}]" if r["note"] else ""))


class Bench:
    def __init__(self, args):
        import torch
        self.torch = torch
        self.args = args
        self.start = time.monotonic()
        self.deadline = self.start + args.budget_s
        self.device = torch.device("cuda")
        self.rows = []
        self.gpuos_checks = []
        self.not_run = []
        self.gpuos = cases.load_gpuos(args.out)
        self.env = {
            "side": "torch", "torch": torch.__version__, "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version(), "device": torch.cuda.get_device_name(0),
            "capability": ".".join(map(str, torch.cuda.get_device_capability(0))),
            "driver_version": nvidia_smi_driver(), "python": sys.version.split()[0],
            "numpy": __import__("numpy").__version__, "tf32": False,
            "method": (f"wall time between torch.cuda.synchronize() calls around the whole workload; inputs "
                       f"generated on the GPU before; first run reported apart; {args.warmups} warm-up runs, "
                       f"{args.repeats} timed ({args.compile_repeats} for torch.compile); median, p10, p90; "
                       f"rows compared with eager's (max rel err, cases.py) before timings count"),
            "gpuos_results": "found" if self.gpuos else "absent (run `gpuos bench` first for the cross-check)",
        }

    def left(self):
        return self.deadline - time.monotonic()

    def save(self):
        cases.write_results(self.args.out, STEM, {"environment": self.env, "rows": self.rows,
                                                  "gpuos_checks": self.gpuos_checks, "not_run": self.not_run})

    def add(self, r):
        self.rows.append(r)
        progress(r)

    def inputs(self, case):
        from torch_workloads import generate
        t = {inp.name: generate(inp, self.device) for inp in case.inputs}
        self.torch.cuda.synchronize()
        return t

    def measure(self, fn, repeats):
        """Warm-ups (beyond the caller's checked first run), then timed repeats, stopping at the deadline."""
        from torch_workloads import timed
        for _ in range(max(0, self.args.warmups - 1)):
            if self.left() < 0:
                break
            timed(fn)
        times = []
        while len(times) < repeats and (not times or self.left() > 0):
            times.append(timed(fn)[0])
        note = "" if len(times) == repeats else f"only {len(times)} of {repeats} repeats: time budget"
        return times, note

    # ---- phase 1: eager, CUDA graph, GPUOS cross-check ------------------------------------------------------

    def eager_and_graph(self, case):
        from torch_workloads import Graph, STEPS, max_rel_error, program, stack_rows, timed
        inputs = self.inputs(case)
        input_note = self.check_inputs(case, inputs)
        fn = program(case, STEPS[case.workload])
        first_ms, rows = timed(lambda: fn(inputs))
        reference = stack_rows(rows)
        del rows
        times, note = self.measure(lambda: fn(inputs), self.args.repeats)
        self.add(cases.row(case, "torch_eager", times, first_ms, "ok", None,
                           "; ".join(n for n in (note, input_note) if n), {"reference": True}))
        self.check_gpuos(case, reference, input_note)

        if self.left() < 0:
            self.add(cases.row(case, "torch_cuda_graph", row_status="SKIPPED", note="time budget spent"))
            return
        try:
            t0 = time.perf_counter()
            graph = Graph(fn, inputs)
            _, rows = timed(graph.replay)
            first_ms = (time.perf_counter() - t0) * 1e3  # warm-up run, capture and first replay
            err = max_rel_error(stack_rows(rows), reference, case.tolerance)
            times, note = self.measure(graph.replay, self.args.repeats)
            self.add(cases.row(case, "torch_cuda_graph", times, first_ms, cases.status(err, case.tolerance), err,
                               note, {"capture_ms": graph.capture_ms}))
            del graph, rows
        except Exception as e:  # noqa: BLE001  (a failed capture is a result, not a crash)
            self.add(cases.row(case, "torch_cuda_graph", row_status="ERROR", note=f"{type(e).__name__}: {e}"))
        finally:
            del inputs, reference
            self.torch.cuda.empty_cache()

    def check_inputs(self, case, inputs):
        from torch_workloads import fingerprint
        bad = cases.fingerprint_mismatches(case, self.gpuos, lambda inp: fingerprint(inputs[inp.name]))
        if bad is None:
            return ""
        if bad:
            return "inputs differ from GPUOS's: " + "; ".join(bad)
        return ""

    def check_gpuos(self, case, reference, input_note):
        files = cases.probe_files(self.args.out, self.gpuos, case)
        if not files:
            return
        probe = reference[case.probe_rows()].cpu().numpy()
        for config, path in files.items():
            entry = {"workload": case.workload, "case": case.label, "config": config,
                     "tolerance": case.tolerance, "against": "torch_eager"}
            try:
                rows = cases.read_probe(path, case, probe.shape[1])
                err = cases.max_rel_error_numpy(rows, probe, case.tolerance)
                entry["max_rel_err"] = err
                entry["status"] = "INPUT-MISMATCH" if input_note else cases.status(err, case.tolerance)
                entry["note"] = input_note
            except (OSError, ValueError) as e:
                entry.update(status="ERROR", max_rel_err=None, note=str(e))
            self.gpuos_checks.append(entry)
            log(f"{case.workload:<3} {case.label:<14} {config:<19} vs torch_eager: {entry['status']} "
                f"(max rel err {entry.get('max_rel_err')})")
            if not self.args.keep_probes:
                os.remove(path)

    # ---- phase 2: torch.compile ------------------------------------------------------------------------------

    def compiled(self, case):
        torch = self.torch
        from torch_workloads import STEPS, max_rel_error, program, stack_rows, timed
        limit = int(min(self.args.compile_limit_s, self.left()))
        if limit < 5:
            self.add(cases.row(case, "torch_compile", row_status="SKIPPED", note="time budget spent"))
            return
        inputs = self.inputs(case)
        reference = stack_rows(program(case, STEPS[case.workload])(inputs))
        torch._dynamo.reset()
        step = torch.compile(STEPS[case.workload], dynamic=False)
        fn = program(case, step)

        def on_alarm(signum, frame):
            raise CompileTimeout(f"torch.compile took more than {limit} s")

        previous = signal.signal(signal.SIGALRM, on_alarm)
        signal.alarm(limit)
        try:
            first_ms, rows = timed(lambda: fn(inputs))
            signal.alarm(0)
        except Exception as e:  # noqa: BLE001  (no compiler offline, timeout, ...: the reason is the result)
            signal.alarm(0)
            self.add(cases.row(case, "torch_compile", row_status="SKIPPED",
                               note=f"compile failed: {type(e).__name__}: {str(e).splitlines()[0][:300] if str(e) else ''}"))
            return
        finally:
            signal.signal(signal.SIGALRM, previous)
        try:
            err = max_rel_error(stack_rows(rows), reference, case.tolerance)
            del rows
            times, note = self.measure(lambda: fn(inputs), self.args.compile_repeats)
            self.add(cases.row(case, "torch_compile", times, first_ms, cases.status(err, case.tolerance), err, note,
                               {"compile_and_first_run_ms": first_ms,
                                "mode": "torch.compile(step, dynamic=False), default mode; the loop stays in Python"}))
        except Exception as e:  # noqa: BLE001
            self.add(cases.row(case, "torch_compile", row_status="ERROR", note=f"{type(e).__name__}: {e}"))
        finally:
            del inputs, reference
            torch.cuda.empty_cache()

    def run(self, selected):
        torch = self.torch
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        log(f"torch {torch.__version__} (CUDA {torch.version.cuda}) on {self.env['device']}, driver "
            f"{self.env['driver_version']}; GPUOS results {self.env['gpuos_results']}")
        for case in selected:
            if self.left() < 0:
                for config in ("torch_eager", "torch_cuda_graph"):
                    self.add(cases.row(case, config, row_status="SKIPPED", note="time budget spent"))
                continue
            try:
                self.eager_and_graph(case)
            except Exception as e:  # noqa: BLE001  (one broken case must not cost the others)
                self.add(cases.row(case, "torch_eager", row_status="ERROR", note=f"{type(e).__name__}: {e}"))
                torch.cuda.empty_cache()
            self.save()
        if self.args.skip_compile:
            self.not_run.append({"config": "torch_compile", "reason": "--skip-compile"})
        else:
            # One case of each workload first, so a budget that runs out still leaves every workload a row.
            firsts = {}
            for case in selected:
                firsts.setdefault(case.workload, case)
            for case in list(firsts.values()) + [c for c in selected if c not in firsts.values()]:
                self.compiled(case)
                self.save()
        self.save()
        log(f"pytorch: {len(self.rows)} rows, {len(self.gpuos_checks)} GPUOS cross-checks in "
            f"{os.path.join(self.args.out, STEM + '.json')} ({time.monotonic() - self.start:.0f} s)")
        failed = [r for r in self.rows if r["status"] in ("FAILED-CHECK", "ERROR")]
        failed += [c for c in self.gpuos_checks if c["status"] != "ok"]
        return failed


def parse(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="results", help="directory of workloads_gpuos.json; results go here too")
    p.add_argument("--repeats", type=int, default=9)
    p.add_argument("--compile-repeats", type=int, default=7)
    p.add_argument("--warmups", type=int, default=2, help="runs before timing, the checked first run included")
    p.add_argument("--budget-s", type=float, default=230)
    p.add_argument("--compile-limit-s", type=float, default=60)
    p.add_argument("--skip-compile", action="store_true")
    p.add_argument("--keep-probes", action="store_true", help="keep GPUOS probe files after comparing them")
    p.add_argument("--only", default="", help="comma-separated workloads, e.g. W1,W5")
    p.add_argument("--cases", default="", help="a regular expression: only cases whose 'workload label' it finds, e.g."
                   " 'W1 n=1024|W2' (as -Dgpuos.workloads.only on the GPUOS side)")
    p.add_argument("--small", action="store_true", help="tiny sizes (a smoke test; no GPUOS counterpart)")
    args = p.parse_args(argv)
    if args.repeats < 7 or args.compile_repeats < 7:
        p.error("the method asks for at least 7 timed repeats")
    return args


def main(argv=None):
    args = parse(argv)
    os.makedirs(args.out, exist_ok=True)
    selected = cases.small_cases() if args.small else cases.issue_cases()
    if args.only:
        wanted = {w.strip().upper() for w in args.only.split(",")}
        selected = [c for c in selected if c.workload in wanted]
    if args.cases:
        import re
        selected = [c for c in selected if re.search(args.cases, f"{c.workload} {c.label}")]
    os.environ.setdefault("TORCHINDUCTOR_COMPILE_THREADS", "1")  # no worker pool to start on a small box
    try:
        import torch
    except ImportError as e:
        log(f"pytorch: cannot import torch ({e})")
        return 1
    if not torch.cuda.is_available():
        log("pytorch: torch.cuda.is_available() is False: no GPU for the comparison")
        return 1
    failed = Bench(args).run(selected)
    if failed:
        log(f"pytorch: {len(failed)} row(s) or cross-check(s) not ok: "
            + ", ".join(f"{f['workload']} {f['case']} {f['config']} {f['status']}" for f in failed[:10]))
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
