/** What tests and tools share and the library does not ship: the differential fuzzer and the node recorder. */
module dev.gpuos.testkit {
    requires transitive dev.gpuos.core;

    exports dev.gpuos.tensor.fuzz;
    exports dev.gpuos.testkit;
}
