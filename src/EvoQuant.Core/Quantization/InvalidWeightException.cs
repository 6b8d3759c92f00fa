namespace EvoQuant.Quantization;

/// <summary>A weight tensor holds NaN or infinite values, or values so large that no quantization scale can
/// represent them: quantizing it would write garbage (NaN scales, SQNR NaN), so it is refused.</summary>
public sealed class InvalidWeightException : QuantizationException
{
    public string? TensorName { get; }

    public InvalidWeightException(string? tensorName, string problem)
        : base($"Weight tensor {(tensorName != null ? $"'{tensorName}'" : "")} {problem}; it cannot be quantized. The model is damaged: re-export it, or keep the node that uses it in float.")
        => TensorName = tensorName;
}
