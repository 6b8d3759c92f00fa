namespace EvoQuant.Quantization.WeightOnly;

/// <summary>One way to choose a weight matrix's block codes, scales and zero points (round-to-nearest,
/// GPTQ, AWQ, HQQ, ...), as the calibrators are for activation ranges. The rewrite asks each method for
/// the matrices of the MatMul/Gemm/Gather weights it quantizes, then writes them in the chosen ONNX form.</summary>
public interface IWeightOnlyMethod
{
    /// <summary>Name shown in reports and accepted by -WeightOnlyMethod.</summary>
    string Name { get; }

    /// <summary>True when <see cref="Quantize"/> needs the input statistics from calibration samples.</summary>
    bool NeedsInputStatistics { get; }

    /// <summary>Quantizes a [rows=K, columns=N] row-major float weight. <paramref name="statistics"/> is
    /// null for methods that do not need it (and for Gather tables, whose "input" is an index).</summary>
    BlockQuantizedMatrix Quantize(ReadOnlySpan<float> weight, int rows, int columns, BlockQuantizationSpec spec, InputStatistics? statistics);
}
