package dev.gpuos.model;

/** Told after each weight is handed to the backend: how many bytes of how many are done, and which tensor. */
@FunctionalInterface
public interface LoadProgress {
    LoadProgress NONE = (done, total, name) -> { };

    void uploaded(long bytesDone, long bytesTotal, String tensorName);
}
