/**
 * The command line ({@code dev.gpuos.bench.Main}), the workloads and the JMH benchmarks. An application: it exports
 * nothing. It reads gpuos-core's internal packages that it measures on purpose (see gpuos-core's module-info).
 */
@SuppressWarnings("requires-automatic")  // JMH's jar declares no module name: jmh.core is derived from its file name
module dev.gpuos.bench {
    requires dev.gpuos.core;
    requires dev.gpuos.models;
    requires dev.gpuos.testkit;
    requires com.google.gson;
    requires jmh.core;
    requires java.management;
    requires jdk.management;
}
