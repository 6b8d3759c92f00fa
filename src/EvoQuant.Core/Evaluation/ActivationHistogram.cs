using EvoQuant.Numerics;

namespace EvoQuant.Evaluation;

/// <summary>Histogram of a tensor's values seen in batches, with a fixed number of bins over a range that
/// grows as needed: when a batch falls outside, the bin width doubles (adjacent bins merge) until it fits.
/// Memory stays one array of <see cref="Bins"/> counts however many batches are added.</summary>
public sealed class ActivationHistogram
{
    private readonly long[] _counts;

    /// <summary>Lower edge of the first bin.</summary>
    public double Low { get; private set; }

    /// <summary>Upper edge of the last bin.</summary>
    public double High { get; private set; }

    /// <summary>Smallest and largest finite value seen.</summary>
    public double DataMin { get; private set; } = double.PositiveInfinity;
    public double DataMax { get; private set; } = double.NegativeInfinity;

    /// <summary>Finite values counted.</summary>
    public long Count { get; private set; }

    /// <summary>Number of bins.</summary>
    public int Bins => _counts.Length;

    /// <summary>Counts per bin (a copy).</summary>
    public long[] GetCounts() => (long[])_counts.Clone();

    /// <summary>An empty histogram of <paramref name="bins"/> bins (even, at least 2).</summary>
    public ActivationHistogram(int bins = 128)
    {
        if (bins < 2 || bins % 2 != 0) throw new ArgumentOutOfRangeException(nameof(bins), bins, "Use an even number of bins, at least 2.");
        _counts = new long[bins];
    }

    /// <summary>Adds a batch of values (NaN and infinities are ignored).</summary>
    public void Add(ReadOnlySpan<float> values)
    {
        if (values.IsEmpty) return;
        var (mn, mx) = Kernels.MinMax(values); // SIMD; ignores NaN
        bool finite = float.IsFinite(mn) && float.IsFinite(mx);
        if (!finite)
        {
            // Infinities (or all NaN): the finite extremes need the slow pass.
            mn = float.PositiveInfinity;
            mx = float.NegativeInfinity;
            foreach (float v in values)
            {
                if (!float.IsFinite(v)) continue;
                if (v < mn) mn = v;
                if (v > mx) mx = v;
            }
        }
        if (mn > mx) return; // nothing finite
        if (Count == 0)
        {
            Low = mn;
            High = mx > mn ? mx : mn + Math.Max(1e-6, Math.Abs(mn) * 1e-6);
        }
        while (mn < Low) Grow(downward: true);
        while (mx > High) Grow(downward: false);
        DataMin = Math.Min(DataMin, mn);
        DataMax = Math.Max(DataMax, mx);

        if (finite)
        {
            // SIMD binning (NaN skipped); the range holds every value, so clamping at the edges is exact.
            Kernels.AccumulateHistogram(values, _counts, (float)Low, (float)High);
            long total = 0;
            foreach (long c in _counts) total += c;
            Count = total;
            return;
        }

        float scale = (float)(Bins / (High - Low)), low = (float)Low;
        int last = Bins - 1;
        long counted = 0;
        var counts = _counts;
        foreach (float v in values)
        {
            if (!float.IsFinite(v)) continue;
            int b = (int)((v - low) * scale);
            counts[b < 0 ? 0 : b > last ? last : b]++;
            counted++;
        }
        Count += counted;
    }

    // Doubles the range by merging bin pairs; the old range becomes the upper (downward) or lower half.
    private void Grow(bool downward)
    {
        int n = Bins, half = n / 2;
        var merged = new long[half];
        for (int i = 0; i < n; i++) merged[i / 2] += _counts[i];
        Array.Clear(_counts);
        double width = High - Low;
        if (downward)
        {
            merged.CopyTo(_counts, half);
            Low -= width;
        }
        else
        {
            merged.CopyTo(_counts, 0);
            High += width;
        }
    }
}
