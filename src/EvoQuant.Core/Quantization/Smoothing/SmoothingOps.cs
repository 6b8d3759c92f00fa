namespace EvoQuant.Quantization.Smoothing;

/// <summary>The op types whose output channels smoothing can rescale through their constants, and those whose
/// input channels the outlier split can compute apart.</summary>
internal static class SmoothingOps
{
    public static void Register(OpQuantizerRegistry r)
    {
        r.RegisterScaleAbsorber("LayerNormalization", LayerNormAbsorber.Instance);
        r.RegisterScaleAbsorber("Mul", ConstantMulAbsorber.Instance);
        r.RegisterScaleAbsorber("Add", ConstantAddAbsorber.Instance);
        r.RegisterScaleAbsorber("MatMul", MatMulColumnsAbsorber.Instance);
        r.RegisterChannelSplitter("MatMul", MatMulRowSplitter.Instance);
    }
}
