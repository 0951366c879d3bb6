package dev.gpuos.tensor.gpu;

/**
 * Flips the planner's product fusions ({@code -Dgpuos.fusion.products}: rms_norm before and SwiGLU after a one-row
 * product, planned into its task) inside one JVM, for DecodeBreakdownBench's A/B: both ways on one machine, one
 * GpuOS, the same loaded bytes. A capture plans with the value current when it is made.
 */
public final class ProductFusionSwitch {
    private ProductFusionSwitch() {}

    /** Sets the switch; returns what it was. */
    public static boolean set(boolean on) {
        boolean was = FamilyTasks.productFusion;
        FamilyTasks.productFusion = on;
        return was;
    }

    /**
     * Sets the multi-row products' pointwise epilogues ({@code -Dgpuos.fusion.productEpilogues}: bias, gelu, residual,
     * cast computed on the product's stores); returns what it was.
     */
    public static boolean setEpilogues(boolean on) {
        boolean was = FamilyTasks.productEpilogues;
        FamilyTasks.productEpilogues = on;
        return was;
    }
}
