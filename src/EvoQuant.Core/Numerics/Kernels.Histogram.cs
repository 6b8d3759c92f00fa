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
    // ReLU) do not serialise on one counter's store-to-load latency.
    private const int SubHistograms = 4;

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
        if (x.IsEmpty) return;
        int bins = counts.Length;
        int stride = bins + 1;                          // + trash bin for NaN
        int copies = bins <= 8192 ? SubHistograms : 1;
        uint[] rented = ArrayPool<uint>.Shared.Rent(stride * copies);
        try
        {
            var local = rented.AsSpan(0, stride * copies);
            local.Clear();
            // uint counters cannot overflow: one call sees at most int.MaxValue elements.
            if (absolute) HistogramCore<AbsTransform>(x, local, stride, copies, lo, s, bins);
            else HistogramCore<IdentityTransform>(x, local, stride, copies, lo, s, bins);
            for (int c = 0; c < copies; c++)
                for (int b = 0; b < bins; b++)
                    counts[b] += local[c * stride + b];
        }
        finally
        {
            ArrayPool<uint>.Shared.Return(rented);
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

    private static void HistogramCore<TTransform>(ReadOnlySpan<float> x, Span<uint> local, int stride, int copies, float lo, float s, int bins)
        where TTransform : struct, IValueTransform
    {
        nuint n = (nuint)x.Length;
        ref float xs = ref MemoryMarshal.GetReference(x);
        ref uint h = ref MemoryMarshal.GetReference(local);
        nuint i = 0;
        float last = bins - 1;
        // Consecutive elements go to different sub-histograms (when there are several).
        int o1 = copies > 1 ? stride : 0, o2 = 2 * o1, o3 = 3 * o1;

        // No overlapping tail here: counting an element twice would be wrong.
        if (Vector512.IsHardwareAccelerated && n >= (nuint)Vector512<float>.Count)
        {
            const int W = 16;
            Span<int> idx = stackalloc int[W];
            ref int ir = ref MemoryMarshal.GetReference(idx);
            var loV = Vector512.Create(lo); var sV = Vector512.Create(s); var lastV = Vector512.Create(last);
            var trash = Vector512.Create(bins);
            for (; i + W <= n; i += W)
            {
                var v = TTransform.Apply(Vector512.LoadUnsafe(ref xs, i));
                var t = (v - loV) * sV;
                t = Vector512.ConditionalSelect(Vector512.GreaterThan(t, Vector512<float>.Zero), t, Vector512<float>.Zero);
                t = Vector512.ConditionalSelect(Vector512.LessThan(t, lastV), t, lastV);
                var b = Vector512.ConvertToInt32(t);
                b = Vector512.ConditionalSelect(Vector512.Equals(v, v).AsInt32(), b, trash);
                b.StoreUnsafe(ref ir);
                for (int k = 0; k < W; k += 4)
                {
                    Unsafe.Add(ref h, Unsafe.Add(ref ir, k))++;
                    Unsafe.Add(ref h, Unsafe.Add(ref ir, k + 1) + o1)++;
                    Unsafe.Add(ref h, Unsafe.Add(ref ir, k + 2) + o2)++;
                    Unsafe.Add(ref h, Unsafe.Add(ref ir, k + 3) + o3)++;
                }
            }
        }
        else if (Vector256.IsHardwareAccelerated && n >= (nuint)Vector256<float>.Count)
        {
            const int W = 8;
            Span<int> idx = stackalloc int[W];
            ref int ir = ref MemoryMarshal.GetReference(idx);
            var loV = Vector256.Create(lo); var sV = Vector256.Create(s); var lastV = Vector256.Create(last);
            var trash = Vector256.Create(bins);
            for (; i + W <= n; i += W)
            {
                var v = TTransform.Apply(Vector256.LoadUnsafe(ref xs, i));
                var t = (v - loV) * sV;
                t = Vector256.ConditionalSelect(Vector256.GreaterThan(t, Vector256<float>.Zero), t, Vector256<float>.Zero);
                t = Vector256.ConditionalSelect(Vector256.LessThan(t, lastV), t, lastV);
                var b = Vector256.ConvertToInt32(t);
                b = Vector256.ConditionalSelect(Vector256.Equals(v, v).AsInt32(), b, trash);
                b.StoreUnsafe(ref ir);
                for (int k = 0; k < W; k += 4)
                {
                    Unsafe.Add(ref h, Unsafe.Add(ref ir, k))++;
                    Unsafe.Add(ref h, Unsafe.Add(ref ir, k + 1) + o1)++;
                    Unsafe.Add(ref h, Unsafe.Add(ref ir, k + 2) + o2)++;
                    Unsafe.Add(ref h, Unsafe.Add(ref ir, k + 3) + o3)++;
                }
            }
        }
        else if (Vector128.IsHardwareAccelerated && n >= (nuint)Vector128<float>.Count)
        {
            const int W = 4;
            Span<int> idx = stackalloc int[W];
            ref int ir = ref MemoryMarshal.GetReference(idx);
            var loV = Vector128.Create(lo); var sV = Vector128.Create(s); var lastV = Vector128.Create(last);
            var trash = Vector128.Create(bins);
            for (; i + W <= n; i += W)
            {
                var v = TTransform.Apply(Vector128.LoadUnsafe(ref xs, i));
                var t = (v - loV) * sV;
                t = Vector128.ConditionalSelect(Vector128.GreaterThan(t, Vector128<float>.Zero), t, Vector128<float>.Zero);
                t = Vector128.ConditionalSelect(Vector128.LessThan(t, lastV), t, lastV);
                var b = Vector128.ConvertToInt32(t);
                b = Vector128.ConditionalSelect(Vector128.Equals(v, v).AsInt32(), b, trash);
                b.StoreUnsafe(ref ir);
                Unsafe.Add(ref h, ir)++;
                Unsafe.Add(ref h, Unsafe.Add(ref ir, 1) + o1)++;
                Unsafe.Add(ref h, Unsafe.Add(ref ir, 2) + o2)++;
                Unsafe.Add(ref h, Unsafe.Add(ref ir, 3) + o3)++;
            }
        }

        for (; i < n; i++)
            Unsafe.Add(ref h, BinOf(TTransform.Apply(Unsafe.Add(ref xs, i)), lo, s, bins))++;
    }
}
