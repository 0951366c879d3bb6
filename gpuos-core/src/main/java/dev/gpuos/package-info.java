/** GPUOS: a persistent-kernel GPU runtime for Java. */
package dev.gpuos;
