/**
 * Workloads W1..W6 of issue 4 (GPUOS vs PyTorch), the GPUOS side.
 *
 * <p>Each {@link dev.gpuos.bench.workloads.WorkloadCase} holds seeded inputs
 * ({@link dev.gpuos.bench.workloads.SeededInputs}, bit-identical to {@code bench/pytorch/cases.py}), the program
 * written once with the tensor API, and a plain-Java reference. {@link dev.gpuos.bench.workloads.WorkloadBenchmark}
 * runs every case in each configuration that applies (tensor API streamed and replayed; launch-per-op of the
 * replayed tasks for every replayable case; raw tasks, and raw launch-per-op, for the single-operator workloads
 * W1 and W5), checks rows before timings count, and writes the JSON/CSV and probe
 * files that {@code bench/pytorch/run.py} cross-checks and {@code bench/charts.py} merges.
 * {@link dev.gpuos.bench.workloads.HostCostBenchmark} is the JMH measure of host cost per op.
 */
package dev.gpuos.bench.workloads;
