/**
 * Device memory for a runtime whose GPU never goes idle.
 *
 * <p>GPUOS keeps one persistent worker kernel running. On the target driver {@code cuMemFree} waits for the
 * context to become idle, which never happens while that worker runs, so device memory is taken from the
 * driver in large slabs and sub-allocated here in Java ({@link dev.gpuos.runtime.memory.DeviceArena}); it is
 * only handed back while the worker is parked. A freed block is reused only once every task that used it has
 * completed, which the runtime tells the arena by advancing the completion watermark.
 */
package dev.gpuos.runtime.memory;
