// Does nothing: a join task only carries dependencies, so that a task waiting on more than GPUOS_MAX_DEPS
// earlier tasks can wait on a few joins instead.

GPUOS_OP {
}
