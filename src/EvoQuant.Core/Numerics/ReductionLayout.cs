namespace EvoQuant.Numerics;

/// <summary>How an integer GEMM walks a weight tensor: for each index of the axes that are not reduction
/// axes (an output column), it multiplies and adds the elements along <see cref="ReductionAxes"/>, the
/// first axis listed varying slowest. x86 kernels without VNNI add those products in adjacent pairs.</summary>
/// <param name="OutputAxis">The axis of output channels (the per-channel axis of the weight).</param>
/// <param name="ReductionAxes">The summed axes in the order the kernel reads them, slowest first.</param>
public sealed record ReductionLayout(int OutputAxis, int[] ReductionAxes)
{
    /// <summary>A weight read by kernels with different layouts: no per-layout scale fits all of them,
    /// so a pair-safe guard falls back to 7-bit weights for it.</summary>
    public static ReductionLayout Mixed { get; } = new(-1, Array.Empty<int>());

    public bool Equals(ReductionLayout? other) =>
        other is not null && OutputAxis == other.OutputAxis && ReductionAxes.AsSpan().SequenceEqual(other.ReductionAxes);

    public override int GetHashCode() => HashCode.Combine(OutputAxis, ReductionAxes.Length);

    /// <summary>MatMul's B of [..., K, N], or Gemm's B without transB ([K, N]).</summary>
    public static ReductionLayout ColumnsOf(int rank) => new(rank - 1, new[] { rank - 2 });

    /// <summary>Gemm's B with transB ([N, K]), or any [out, in] weight read row by row.</summary>
    public static ReductionLayout RowsOf(int rank) => new(rank - 2, new[] { rank - 1 });

    /// <summary>A Conv weight [M, C/group, kH, kW] as ONNX Runtime's QLinearConv reads it: the filter is
    /// reordered to channels-last, so the kernel walks kH, kW, then the input channels fastest.</summary>
    public static ReductionLayout ConvChannelsLast(int rank) =>
        new(0, Enumerable.Range(2, rank - 2).Append(1).ToArray());

    /// <summary>A Conv weight as im2col over NCHW reads it (ConvInteger): input channel slowest.</summary>
    public static ReductionLayout ConvChannelsFirst(int rank) => new(0, Enumerable.Range(1, rank - 1).ToArray());
}
