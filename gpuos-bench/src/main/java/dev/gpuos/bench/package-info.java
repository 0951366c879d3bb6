/** Workloads, PyTorch side-by-side runs and the command line. */
package dev.gpuos.bench;
