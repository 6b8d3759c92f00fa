using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace EvoQuant.Numerics;

public static partial class Kernels
{
    // Histogram binning, the same in every path:
    //   t   = (x - lo) * s          with s = (float)(bins / (double)(hi - lo)), float arithmetic, no FMA
    //   bin = t < 0 ? 0 : t >= bins - 1 ? bins - 1 : (int)t
    // so values below lo land in bin 0 and values at or above hi in the last bin; NaN is skipped.
    // The bin of a value within an ulp of an edge may differ from exact arithmetic; it never differs
    // between our paths. SIMD computes the bin indices (NaN -> an extra trash bin) and a scalar loop
    // increments counters, spread over several sub-histograms so that runs of equal values (zeros after
    // ReLU) do not serialise on one counter's store-to-load latency (see HistogramCounter).

    /// <summary>Adds the values of <paramref name="x"/> to <paramref name="counts"/>, equal-width bins over [lo, hi).</summary>
    /// <exception cref="ArgumentException">counts empty, bounds not finite or hi &lt;= lo.</exception>
    public static void AccumulateHistogram(ReadOnlySpan<float> x, Span<long> counts, float lo, float hi)
    {
        if (counts.IsEmpty) throw new ArgumentException("At least one bin is needed.", nameof(counts));
        if (!float.IsFinite(lo) || !float.IsFinite(hi) || !(hi > lo))
            throw new ArgumentException($"Histogram range [{lo}, {hi}) must be finite and non-empty.", nameof(hi));
        float s = HistogramScale(counts.Length, lo, hi);
        Histogram(x, counts, lo, s, absolute: false);
    }

    /// <summary>Adds |x| to <paramref name="counts"/>, equal-width bins over [0, hi); |x| &gt;= hi goes to the last bin.</summary>
    /// <exception cref="ArgumentException">counts empty, hi not finite or not positive.</exception>
    public static void AccumulateAbsHistogram(ReadOnlySpan<float> x, Span<long> counts, float hi)
    {
        if (counts.IsEmpty) throw new ArgumentException("At least one bin is needed.", nameof(counts));
        if (!float.IsFinite(hi) || !(hi > 0))
            throw new ArgumentException($"Histogram upper bound {hi} must be finite and positive.", nameof(hi));
        float s = HistogramScale(counts.Length, 0f, hi);
        Histogram(x, counts, 0f, s, absolute: true);
    }

    /// <summary>The factor s mapping x - lo to a bin position (shared with the scalar reference).</summary>
    internal static float HistogramScale(int bins, float lo, float hi) => (float)(bins / ((double)hi - lo));

    private static void Histogram(ReadOnlySpan<float> x, Span<long> counts, float lo, float s, bool absolute)
    {
        // One slot past the bins takes NaN and is dropped.
        if (absolute) HistogramCounter.Count(x, counts, counts.Length + 1, new RangeBinner<AbsTransform>(lo, s, counts.Length));
        else HistogramCounter.Count(x, counts, counts.Length + 1, new RangeBinner<IdentityTransform>(lo, s, counts.Length));
    }

    /// <summary>The binning rule above, scalar and vector; NaN goes to the trash slot <c>bins</c>.</summary>
    private readonly struct RangeBinner<TTransform> : IBinner where TTransform : struct, IValueTransform
    {
        private readonly float _lo, _s, _last;
        private readonly int _bins;

        public RangeBinner(float lo, float s, int bins) => (_lo, _s, _last, _bins) = (lo, s, bins - 1, bins);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public int Bin(float x) => BinOf(TTransform.Apply(x), _lo, _s, _bins);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector128<int> Bin(Vector128<float> x)
        {
            var v = TTransform.Apply(x);
            var t = (v - Vector128.Create(_lo)) * Vector128.Create(_s);
            t = Vector128.ConditionalSelect(Vector128.GreaterThan(t, Vector128<float>.Zero), t, Vector128<float>.Zero);
            t = Vector128.ConditionalSelect(Vector128.LessThan(t, Vector128.Create(_last)), t, Vector128.Create(_last));
            return Vector128.ConditionalSelect(Vector128.Equals(v, v).AsInt32(), Vector128.ConvertToInt32(t), Vector128.Create(_bins));
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector256<int> Bin(Vector256<float> x)
        {
            var v = TTransform.Apply(x);
            var t = (v - Vector256.Create(_lo)) * Vector256.Create(_s);
            t = Vector256.ConditionalSelect(Vector256.GreaterThan(t, Vector256<float>.Zero), t, Vector256<float>.Zero);
            t = Vector256.ConditionalSelect(Vector256.LessThan(t, Vector256.Create(_last)), t, Vector256.Create(_last));
            return Vector256.ConditionalSelect(Vector256.Equals(v, v).AsInt32(), Vector256.ConvertToInt32(t), Vector256.Create(_bins));
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector512<int> Bin(Vector512<float> x)
        {
            var v = TTransform.Apply(x);
            var t = (v - Vector512.Create(_lo)) * Vector512.Create(_s);
            t = Vector512.ConditionalSelect(Vector512.GreaterThan(t, Vector512<float>.Zero), t, Vector512<float>.Zero);
            t = Vector512.ConditionalSelect(Vector512.LessThan(t, Vector512.Create(_last)), t, Vector512.Create(_last));
            return Vector512.ConditionalSelect(Vector512.Equals(v, v).AsInt32(), Vector512.ConvertToInt32(t), Vector512.Create(_bins));
        }
    }

    private interface IValueTransform
    {
        static abstract float Apply(float x);
        static abstract Vector128<float> Apply(Vector128<float> x);
        static abstract Vector256<float> Apply(Vector256<float> x);
        static abstract Vector512<float> Apply(Vector512<float> x);
    }

    private readonly struct IdentityTransform : IValueTransform
    {
        public static float Apply(float x) => x;
        public static Vector128<float> Apply(Vector128<float> x) => x;
        public static Vector256<float> Apply(Vector256<float> x) => x;
        public static Vector512<float> Apply(Vector512<float> x) => x;
    }

    private readonly struct AbsTransform : IValueTransform
    {
        public static float Apply(float x) => MathF.Abs(x);
        public static Vector128<float> Apply(Vector128<float> x) => Vector128.Abs(x);
        public static Vector256<float> Apply(Vector256<float> x) => Vector256.Abs(x);
        public static Vector512<float> Apply(Vector512<float> x) => Vector512.Abs(x);
    }

    /// <summary>Scalar bin of one value; <paramref name="bins"/> (the trash bin) for NaN.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int BinOf(float x, float lo, float s, int bins)
    {
        if (float.IsNaN(x)) return bins;
        float t = (x - lo) * s;
        return t < 0f ? 0 : t >= bins - 1 ? bins - 1 : (int)t;
    }
}
