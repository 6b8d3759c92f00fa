using EvoQuant.Targets;

namespace EvoQuant.Quantization.WeightOnly;

/// <summary>What a target decides for weight-only models that the user did not set.</summary>
public static class WeightOnlyDefaults
{
    /// <summary>ONNX Runtime's fused MatMulNBits on every CPU it has kernels for; the standard
    /// DequantizeLinear form for <see cref="QuantTarget.Portable"/>, which promises any runtime.</summary>
    public static WeightOnlyForm FormFor(QuantTarget target) =>
        target == QuantTarget.Portable ? WeightOnlyForm.DequantizeLinear : WeightOnlyForm.MatMulNBits;

    /// <summary>The form <paramref name="options"/> ask for.</summary>
    public static WeightOnlyForm FormOf(QuantizationOptions options) => options.WeightOnly.Form ?? FormFor(options.Target);
}
