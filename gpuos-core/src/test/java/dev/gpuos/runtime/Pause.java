package dev.gpuos.runtime;

import java.util.concurrent.locks.LockSupport;

final class Pause {
    private Pause() {}

    static void micros(long us) {
        long end = System.nanoTime() + us * 1000;
        while (System.nanoTime() < end) {
            LockSupport.parkNanos(end - System.nanoTime());
        }
    }
}
