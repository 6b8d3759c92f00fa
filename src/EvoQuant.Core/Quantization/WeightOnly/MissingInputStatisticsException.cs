namespace EvoQuant.Quantization.WeightOnly;

/// <summary>A weight-only method that needs input statistics (GPTQ, AWQ) was given none for a node's input:
/// calibrate first and pass the statistics, or choose a method that needs none (RTN).</summary>
public sealed class MissingInputStatisticsException : QuantizationException
{
    public string Method { get; }

    /// <summary>The activation tensor whose statistics are missing.</summary>
    public string Tensor { get; }

    public MissingInputStatisticsException(string method, string tensor, string? nodeName)
        : base($"The weight-only method {method} needs the input statistics of tensor '{tensor}' (the input of {(nodeName is { Length: > 0 } ? $"node '{nodeName}'" : "a MatMul")}), and none were given. Collect them from calibration samples first, or use -WeightOnlyMethod RTN.", nodeName)
    {
        Method = method;
        Tensor = tensor;
    }
}
