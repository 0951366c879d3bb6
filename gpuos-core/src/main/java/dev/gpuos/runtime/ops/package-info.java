/**
 * Operator names, versions and the physical slots the GPU worker dispatches on.
 *
 * <p>The worker calls operators by slot number, an index into the function table of the currently loaded
 * module (a generation). The host resolves an operator name to a slot when it submits a task, so every
 * descriptor carries the exact code it must run; {@link dev.gpuos.runtime.ops.AliasTable} decides which
 * slots a generation must contain so that replacing an operator never strands a task already submitted.
 */
package dev.gpuos.runtime.ops;
