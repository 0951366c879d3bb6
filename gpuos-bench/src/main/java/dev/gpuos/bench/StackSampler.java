package dev.gpuos.bench;

import java.io.PrintStream;
import java.util.HashMap;
import java.util.Map;

/**
 * A poor man's profiler for machines without JFR in the runtime image: samples one thread's stack every
 * millisecond and counts, per method, how often it was on top (self) and anywhere on the stack (total).
 */
final class StackSampler implements AutoCloseable {
    private final Thread target;
    private final Thread sampler;
    private final Map<String, int[]> counts = new HashMap<>();
    private volatile boolean running = true;
    private int samples;

    StackSampler(Thread target) {
        this.target = target;
        this.sampler = Thread.ofPlatform().daemon().name("gpuos-stack-sampler").start(this::sample);
    }

    private void sample() {
        while (running) {
            // The caller's thread, and the recording timer thread that submits on a time bound.
            StackTraceElement[] stack = target.getStackTrace();
            if (stack.length > 0 && stack[0].getMethodName().equals("submit")
                    && stack[0].getClassName().endsWith("Recording")) {
                for (Thread t : Thread.getAllStackTraces().keySet()) {
                    if (t.getName().equals("gpuos-recording-timer")) {
                        StackTraceElement[] timer = t.getStackTrace();
                        if (timer.length > 0) {
                            stack = timer; // the caller waits for the timer's submission: profile that instead
                        }
                    }
                }
            }
            synchronized (counts) {
                samples++;
                var seen = new java.util.HashSet<String>();
                for (int i = 0; i < stack.length; i++) {
                    String m = stack[i].getClassName() + "." + stack[i].getMethodName();
                    int[] c = counts.computeIfAbsent(m, k -> new int[2]);
                    if (i == 0) c[0]++;
                    if (seen.add(m)) c[1]++;
                }
            }
            try {
                Thread.sleep(1);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    void print(PrintStream out, int top) {
        synchronized (counts) {
            out.printf("profile: %d samples; methods by total%% (self%%), dev.gpuos and JDK hot spots%n", samples);
            counts.entrySet().stream()
                    .filter(e -> !e.getKey().startsWith("java.lang.Thread.") && !e.getKey().contains("DemoCommand")
                            && !e.getKey().contains("bench.Main"))
                    .sorted((a, b) -> b.getValue()[1] - a.getValue()[1])
                    .limit(top)
                    .forEach(e -> out.printf("  %5.1f%% (%5.1f%%)  %s%n", 100.0 * e.getValue()[1] / samples,
                            100.0 * e.getValue()[0] / samples, e.getKey()));
        }
    }

    @Override
    public void close() {
        running = false;
        sampler.interrupt();
    }
}
