/**
 * The one door to native code: java.lang.foreign bindings to the CUDA driver API ({@link dev.gpuos.cuda.Driver}),
 * NVRTC ({@link dev.gpuos.cuda.Nvrtc}) and nvJitLink ({@link dev.gpuos.cuda.NvJitLink}). Everything above this
 * package calls typed static methods and catches typed exceptions; nothing else touches downcalls.
 *
 * <p>Libraries are found lazily on first use and never throw at class initialisation: on a machine without CUDA
 * {@code isAvailable()} is false, {@code unavailableReason()} lists every place searched, and any other call
 * throws {@link dev.gpuos.cuda.CudaUnavailableException}. Overrides: system properties
 * {@code gpuos.cuda.library}, {@code gpuos.nvrtc.library}, {@code gpuos.nvjitlink.library} or environment
 * variables {@code GPUOS_CUDA_LIBRARY}, {@code GPUOS_NVRTC}, {@code GPUOS_NVJITLINK} (absolute paths).
 */
package dev.gpuos.cuda;
