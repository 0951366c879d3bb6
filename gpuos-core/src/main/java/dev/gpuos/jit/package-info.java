/**
 * Source to loadable code: {@link dev.gpuos.jit.CudaCompiler} compiles {@link dev.gpuos.jit.CompileUnit}s to
 * relocatable cubins with NVRTC and links them with nvJitLink, both through the on-disk, content-addressed
 * {@link dev.gpuos.jit.JitCache}. Generating the sources is the business of the layers that own the operators.
 */
package dev.gpuos.jit;
