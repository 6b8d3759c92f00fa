using System.Numerics.Tensors;

namespace EvoQuant.Calibration;

internal static class HistogramMath
{
    /// <summary>Smallest and largest value; NaN when the span holds a NaN (unlike Kernels.MinMax, which
    /// ignores NaN: the MinMax calibrator needs to notice it); (+inf, -inf) when empty.</summary>
    public static (float Min, float Max) MinMax(ReadOnlySpan<float> x) =>
        x.IsEmpty ? (float.PositiveInfinity, float.NegativeInfinity) : (TensorPrimitives.Min(x), TensorPrimitives.Max(x));
}
