// Does not compile on purpose.
GPUOS_OP {
    this_is_not_declared = 1;
}
