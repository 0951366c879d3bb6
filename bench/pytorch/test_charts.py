"""bench/charts.py without matplotlib: merging, verdicts, the table."""

import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import charts  # noqa: E402
import cases  # noqa: E402


def rows_doc(side_rows, **more):
    doc = {"environment": {"device": "H100", "driver_version": 1}, "rows": side_rows}
    doc.update(more)
    return doc


class ChartsTest(unittest.TestCase):
    def setUp(self):
        w1 = cases.w1(256)
        self.gpuos = rows_doc([cases.row(w1, "gpuos", [1.0] * 7, 5.0, "ok", 0.0),
                               cases.row(w1, "gpuos_raw", [0.5] * 7, 5.0, "ok", 0.0),
                               cases.row(w1, "java_launch_per_op", [3.0] * 7, 5.0, "FAILED-CHECK", 1.0, "bad")])
        self.torch = rows_doc([cases.row(w1, "torch_eager", [4.0] * 9, 9.0, "ok", 0.0),
                               cases.row(w1, "torch_cuda_graph", [2.0] * 9, 9.0, "ok", 0.0)],
                              gpuos_checks=[{"workload": "W1", "case": "n=256", "config": "gpuos", "status": "ok"},
                                            {"workload": "W1", "case": "n=256", "config": "gpuos_raw",
                                             "status": "FAILED-CHECK", "max_rel_err": 0.1}])

    def test_verdicts_and_speedups(self):
        merged = charts.merge(self.gpuos, self.torch)
        rows = merged[("W1", "n=256")]
        self.assertEqual(rows["gpuos"]["verdict"], "ok")
        self.assertEqual(rows["gpuos_raw"]["verdict"], "FAILED-CHECK")     # the torch cross-check failed
        self.assertEqual(rows["java_launch_per_op"]["verdict"], "FAILED-CHECK")
        self.assertAlmostEqual(charts.speedup(rows, "gpuos", "torch_eager"), 4.0)
        self.assertAlmostEqual(charts.speedup(rows, "gpuos", "torch_cuda_graph"), 2.0)
        self.assertIsNone(charts.speedup(rows, "gpuos_raw", "torch_eager"))  # a failed check is never a number

    def test_unverified_when_torch_ran_but_did_not_cross_check(self):
        self.torch["gpuos_checks"] = []
        rows = charts.merge(self.gpuos, self.torch)[("W1", "n=256")]
        self.assertEqual(rows["gpuos"]["verdict"], "unverified")
        self.assertTrue(charts.cell(rows["gpuos"]).startswith("1.000*"))

    def test_main_writes_table(self):
        with tempfile.TemporaryDirectory() as d:
            for name, doc in (("workloads_gpuos.json", self.gpuos), ("workloads_torch.json", self.torch)):
                with open(os.path.join(d, name), "w") as f:
                    json.dump(doc, f)
            self.assertEqual(charts.main([d]), 0)
            with open(os.path.join(d, "table.md")) as f:
                text = f.read()
            self.assertIn("| W1 | n=256 | 1.000 (1.000–1.000) | FAILED-CHECK | FAILED-CHECK | 4.000", text)
            self.assertIn("4.00x | 2.00x | – |", text)
            self.assertIn("cross-check W1 n=256 gpuos_raw", text)
        with tempfile.TemporaryDirectory() as d:
            self.assertEqual(charts.main([d]), 1)


if __name__ == "__main__":
    unittest.main()
