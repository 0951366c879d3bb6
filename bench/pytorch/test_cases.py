"""Tests of the torch-free half of the PyTorch side: python3 -m unittest discover -s bench/pytorch -p 'test_*.py'"""

import json
import math
import os
import re
import tempfile
import unittest

import numpy as np

import cases

JAVA_ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "gpuos-bench", "src", "main",
                         "java", "dev", "gpuos", "bench", "workloads")


class GeneratorTest(unittest.TestCase):
    def test_golden_values_from_seeded_inputs_java(self):
        # Printed by SeededInputs.generate in Java: bits of the first elements of three inputs.
        self.assertEqual(cases.generate_numpy(7, 4, -1.0, 2.0).tolist(),
                         [np.float32(v) for v in (0.93081, -0.28300965, 0.8757466, 0.09772885)])
        self.assertEqual(cases.generate_numpy(52, 5, 0.999, 0.002).view(np.int32).tolist(),
                         [1065357537, 1065338617, 1065340074, 1065345109, 1065355701])
        self.assertEqual(cases.generate_numpy(24, 5, 1.0, 1.0).view(np.int32).tolist(),
                         [1072218210, 1071923187, 1069505824, 1073039386, 1069173852])
        big = cases.generate_numpy(11, 3_000_000, -1.0, 2.0)
        self.assertEqual(int(big[-1:].view(np.int32)[0]), -1099355616)
        self.assertAlmostEqual(float(big.astype(np.float64).sum()), -488.75022542476654, places=6)

    def test_slices_generate_independently(self):
        whole = cases.generate_numpy(5, 1000, -1.0, 2.0)
        part = cases.generate_numpy(5, 100, -1.0, 2.0, start=900)
        np.testing.assert_array_equal(whole[900:], part)

    def test_hash_of_ints_and_arrays_agree(self):
        xs = np.array([0, 1, 2**31, 2**32 - 1, 123456789], dtype=np.int64)
        self.assertEqual(cases.hash32(xs).tolist(), [cases.hash32_int(int(x)) for x in xs])

    def test_symmetric_values_are_exact_multiples_of_2_pow_minus_23(self):
        v = cases.generate_numpy(3, 10000, -1.0, 2.0).astype(np.float64)
        self.assertTrue(((v >= -1) & (v < 1)).all())
        scaled = (v + 1) * 2**23
        np.testing.assert_array_equal(scaled, np.rint(scaled))


class CasesMirrorJavaTest(unittest.TestCase):
    def test_issue_cases(self):
        cs = cases.issue_cases()
        self.assertEqual(len(cs), 17)
        self.assertEqual([c.key for c in cs[:2]], ["W1_n256", "W1_n512"])
        self.assertEqual(sorted({c.workload for c in cs}), ["W1", "W2", "W3", "W4", "W5", "W6"])
        self.assertEqual(cases.w4(8, 256).key, "W4_8x256")
        self.assertEqual(cases.w3(512).key, "W3_L512")

    def test_seeds_and_ranges_match_the_java_sources(self):
        # Every (name, seed) pair declared in Python appears in the Java case with the same name and seed.
        java = {}
        for name in os.listdir(JAVA_ROOT):
            with open(os.path.join(JAVA_ROOT, name)) as f:
                java[name] = f.read()
        expect = {"ElementwiseBatch.java": cases.w1(8), "MixedChain.java": cases.w2(), "AttentionDecode.java": cases.w3(8),
                  "SmallReductions.java": cases.w4(2, 2), "DependentChain.java": cases.w5(), "MlpInference.java": cases.w6()}
        for file, case in expect.items():
            for inp in case.inputs:
                self.assertRegex(java[file], r'"%s", (new long\[\]\{[^}]*\}, )?%d\b' % (re.escape(inp.name), inp.seed),
                                 f"{file}: input {inp.name} seed {inp.seed}")

    def test_probe_rows(self):
        self.assertEqual(cases.w5().probe_rows(), [0])
        rows = cases.w1(256).probe_rows()
        self.assertEqual(rows[0], 0)
        self.assertEqual(rows[-1], 9999)
        self.assertEqual(len(rows), 17)  # 0, 625, ..., 9375 and 9999
        self.assertEqual(cases.Case("W0", "x", "", (), 40, 40, 1e-5).probe_rows(), list(range(0, 40, 2)) + [39])


class AccuracyTest(unittest.TestCase):
    def test_as_in_java(self):
        E, A = cases.ELEMENTWISE, cases.ACCUMULATING
        self.assertEqual(cases.max_rel_error_numpy([[1, -2, 0]], [[1, -2, 0]], E), 0.0)
        err = cases.max_rel_error_numpy(np.array([[100.001, 0.001]], dtype=np.float32), [[100.0, 0.0]], E)
        self.assertAlmostEqual(err, 1e-2, places=6)
        # accumulating: normwise per row (the H100 attention element that cancelled to 2.6e-5)
        err = cases.max_rel_error_numpy(np.array([[0.03, -2.5534413e-5]], dtype=np.float32),
                                        [[0.03, -2.555770152666694e-5]], A)
        self.assertLess(err, 1e-4)
        self.assertGreater(cases.max_rel_error_numpy([[0.03, 1e-4]], [[0.03, -2.5e-5]], A), 1e-3)
        self.assertEqual(cases.max_rel_error_numpy([[np.nan]], [[1.0]], A), math.inf)
        self.assertEqual(cases.max_rel_error_numpy([[np.inf]], [[1.0]], A), math.inf)
        self.assertEqual(cases.max_rel_error_numpy([[1.0, 2.0]], [[1.0]], A), math.inf)
        self.assertEqual(cases.status(1e-6, E), "ok")
        self.assertEqual(cases.status(2e-5, E), "FAILED-CHECK")

    def test_percentiles(self):
        p = cases.percentiles(list(range(1, 11)))
        self.assertAlmostEqual(p["median_ms"], 5.5)
        self.assertAlmostEqual(p["p10_ms"], 1.9)
        self.assertAlmostEqual(p["p90_ms"], 9.1)


class FilesTest(unittest.TestCase):
    def test_results_and_probe_round_trip(self):
        case = cases.w1(4, 40)
        with tempfile.TemporaryDirectory() as d:
            r = cases.row(case, "torch_eager", [1.0, 2.0, 3.0], 10.0, "ok", 0.0, 'a "note", with comma')
            cases.write_results(d, "workloads_torch", {"environment": {}, "rows": [r], "x": math.nan})
            with open(os.path.join(d, "workloads_torch.json")) as f:
                doc = json.load(f)
            self.assertIsNone(doc["x"])
            self.assertEqual(doc["rows"][0]["median_ms"], 2.0)
            self.assertAlmostEqual(doc["rows"][0]["us_per_op"], 2.0 * 1000 / 40)
            with open(os.path.join(d, "workloads_torch.csv")) as f:
                lines = f.read().splitlines()
            self.assertEqual(lines[0].split(",")[:4], ["workload", "case", "config", "status"])
            self.assertIn('"a ""note"", with comma"', lines[1])

            probe_dir = os.path.join(d, "workloads_probe")
            os.makedirs(probe_dir)
            rows = np.arange(len(case.probe_rows()) * 4, dtype="<f4").reshape(-1, 4)
            rows.tofile(os.path.join(probe_dir, case.key + "__gpuos.f32"))
            found = cases.probe_files(d, {"probe_dir": "workloads_probe"}, case)
            self.assertEqual(list(found), ["gpuos"])
            np.testing.assert_array_equal(cases.read_probe(found["gpuos"], case, 4), rows)
            with self.assertRaises(ValueError):
                cases.read_probe(found["gpuos"], case, 5)

    def test_fingerprints(self):
        case = cases.w5(8, 3)
        values = {i.name: cases.generate_numpy(i.seed, i.count, i.lo, i.span) for i in case.inputs}

        def ours(inp):
            v = values[inp.name]
            return v.size, [float(x) for x in v[:4]], float(v[-1]), float(v.astype(np.float64).sum())

        doc = {"inputs": {case.key: {n: {"count": int(v.size), "head": [float(x) for x in v[:4]],
                                        "head_bits": v[:4].view(np.int32).tolist(),
                                        "last": float(v[-1]), "last_bits": int(v[-1:].view(np.int32)[0]),
                                        "sum": float(v.astype(np.float64).sum())}
                                    for n, v in values.items()}}}
        self.assertEqual(cases.fingerprint_mismatches(case, doc, ours), [])
        doc["inputs"][case.key]["c"]["last_bits"] += 1
        self.assertEqual(len(cases.fingerprint_mismatches(case, doc, ours)), 1)
        self.assertIsNone(cases.fingerprint_mismatches(cases.w5(16, 3), doc, ours))


if __name__ == "__main__":
    unittest.main()
