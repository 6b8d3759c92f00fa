using System.Numerics.Tensors;

namespace EvoQuant.Calibration;

// Stand-ins for EvoQuant.Numerics.Kernels (MinMax, MaxAbs, AccumulateHistogram, AccumulateAbsHistogram),
// with the same signatures and semantics, so switching to the kernels is a change to this file only.
internal static class HistogramMath
{
    /// <summary>Smallest and largest value; NaN when the span holds a NaN; (+inf, -inf) when empty.</summary>
    public static (float Min, float Max) MinMax(ReadOnlySpan<float> x) =>
        x.IsEmpty ? (float.PositiveInfinity, float.NegativeInfinity) : (TensorPrimitives.Min(x), TensorPrimitives.Max(x));

    /// <summary>Largest |x|; 0 when empty.</summary>
    public static float MaxAbs(ReadOnlySpan<float> x) => x.IsEmpty ? 0f : TensorPrimitives.MaxMagnitude(x) is var m ? MathF.Abs(m) : 0f;

    /// <summary>Counts x into counts.Length equal bins over [lo, hi): bin = floor((x - lo) * bins / (hi - lo)),
    /// values below lo go to bin 0, values at or above hi to the last bin, NaN is ignored.</summary>
    public static void AccumulateHistogram(ReadOnlySpan<float> x, Span<long> counts, float lo, float hi)
    {
        int bins = counts.Length;
        float scale = bins / (hi - lo);
        foreach (float v in x)
        {
            if (float.IsNaN(v)) continue;
            float f = (v - lo) * scale;
            int b = f <= 0 ? 0 : f >= bins ? bins - 1 : (int)f;
            counts[b]++;
        }
    }

    /// <summary>Counts |x| into counts.Length equal bins over [0, hi) (same rules as <see cref="AccumulateHistogram"/>).</summary>
    public static void AccumulateAbsHistogram(ReadOnlySpan<float> x, Span<long> counts, float hi)
    {
        int bins = counts.Length;
        float scale = bins / hi;
        foreach (float v in x)
        {
            if (float.IsNaN(v)) continue;
            float f = MathF.Abs(v) * scale;
            int b = f >= bins ? bins - 1 : (int)f;
            counts[b]++;
        }
    }
}
