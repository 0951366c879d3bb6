// Does nothing: measures the runtime's own cost per task.
GPUOS_OP {}
