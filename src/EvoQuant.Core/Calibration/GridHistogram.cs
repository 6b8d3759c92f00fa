using System.Buffers;
using EvoQuant.Numerics;

namespace EvoQuant.Calibration;

/// <summary>A histogram on a grid anchored at 0 whose bin width is a power of two: bin j covers
/// [j*w, (j+1)*w). The width is always the smallest power of two that keeps every value seen within
/// <see cref="BinsPerSide"/> bins of 0, so it depends only on the data, not on their order: when a
/// batch exceeds the range, the width doubles and pairs of bins merge, which preserves counts exactly.
/// Two histograms of the same shape merge exactly (the finer one is coarsened to the wider width), so
/// merged shards equal the histogram of the whole stream. Signed histograms count x over
/// [-R*w, R*w) (2R bins); absolute ones count |x| over [0, R*w) (R bins).</summary>
internal sealed class GridHistogram
{
    private long[] _counts;

    /// <summary>Counts |x| (Percentile) rather than x (Entropy).</summary>
    public bool Absolute { get; }

    /// <summary>R: bins on each side of 0 (the data always reach past R/2 of them).</summary>
    public int BinsPerSide { get; }

    /// <summary>log2 of the bin width, or null while every value seen was 0.</summary>
    public int? WidthExponent { get; private set; }

    /// <summary>Zeros seen before any non-zero value fixed the width (they go to the bin at 0 later).</summary>
    private long _pendingZeros;

    public float Min { get; private set; } = float.PositiveInfinity;
    public float Max { get; private set; } = float.NegativeInfinity;

    /// <summary>Finite values counted.</summary>
    public long Count { get; private set; }

    /// <summary>NaN and infinite values, left out of the histogram and of min/max.</summary>
    public long NonFinite { get; private set; }

    public GridHistogram(bool absolute, int binsPerSide)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(binsPerSide, 2);
        Absolute = absolute;
        BinsPerSide = binsPerSide;
        _counts = new long[absolute ? binsPerSide : 2 * binsPerSide];
    }

    /// <summary>Index of the bin that starts at 0.</summary>
    public int Origin => Absolute ? 0 : BinsPerSide;

    public double BinWidth => WidthExponent is int e ? Math.ScaleB(1.0, e) : 0;

    /// <summary>The counts, with pending zeros folded into the bin at 0.</summary>
    public long[] GetCounts()
    {
        var c = (long[])_counts.Clone();
        c[Origin] += _pendingZeros;
        return c;
    }

    /// <summary>Batches with at least one value: the caller's batches, however they were cut into runs.</summary>
    public long BatchCount { get; private set; }

    /// <summary>Adds one batch of values, or with <paramref name="startsBatch"/> false, more values of the
    /// batch added last (a sub-batch of it: the counts do not depend on how a batch is cut).</summary>
    public void Add(ReadOnlySpan<float> x, bool startsBatch = true)
    {
        if (x.IsEmpty) return;
        if (startsBatch) BatchCount++;
        if (TryAddOnCurrentGrid(x)) return;
        // One fused pass; NaN is ignored here and dropped by the binning. An infinity (or no number at
        // all) takes the filtering path: it would otherwise set the grid's width.
        var (min, max) = Kernels.MinMax(x);
        if (!float.IsFinite(min) || !float.IsFinite(max))
        {
            AddFiltered(x);
            return;
        }
        AddFinite(x, min, max);
    }

    /// <summary>Once the grid has a width, most batches fit it: count them on it while taking min and max
    /// in the same pass, into scratch counts that are kept only when the batch did fit (else the caller's
    /// two-pass path widens the grid first). Infinities or no number at all also go to that path.</summary>
    private bool TryAddOnCurrentGrid(ReadOnlySpan<float> x)
    {
        if (WidthExponent is not int e || e is < -120 or > 120) return false;
        int len = _counts.Length;
        var scratch = ArrayPool<long>.Shared.Rent(len);
        try
        {
            var local = scratch.AsSpan(0, len);
            local.Clear();
            long dropped = HistogramCounter.Count(x, local, len + 1, BinnerAt(e), out float min, out float max);
            if (!float.IsFinite(min) || !float.IsFinite(max)) return false;
            float maxAbs = Math.Max(Math.Abs(min), Math.Abs(max));
            if (maxAbs != 0 && RequiredExponent(maxAbs, BinsPerSide) > e) return false;
            for (int j = 0; j < len; j++) _counts[j] += local[j];
            Min = Math.Min(Min, min);
            Max = Math.Max(Max, max);
            Count += x.Length - dropped;
            NonFinite += dropped;
            return true;
        }
        finally
        {
            ArrayPool<long>.Shared.Return(scratch);
        }
    }

    private void AddFiltered(ReadOnlySpan<float> x)
    {
        var buf = ArrayPool<float>.Shared.Rent(x.Length);
        int n = 0;
        foreach (float v in x)
        {
            if (float.IsFinite(v)) buf[n++] = v;
            else NonFinite++;
        }
        if (n > 0)
        {
            var span = buf.AsSpan(0, n);
            var (min, max) = Kernels.MinMax(span);
            AddFinite(span, min, max);
        }
        ArrayPool<float>.Shared.Return(buf);
    }

    /// <summary>Adds values whose finite ones lie in [min, max]; any NaN among them is counted as non-finite.</summary>
    private void AddFinite(ReadOnlySpan<float> x, float min, float max)
    {
        Min = Math.Min(Min, min);
        Max = Math.Max(Max, max);
        float maxAbs = Math.Max(Math.Abs(min), Math.Abs(max));
        long dropped;
        if (maxAbs == 0)
        {
            long zeros = 0;
            foreach (float v in x) if (v == 0) zeros++;
            if (WidthExponent == null) _pendingZeros += zeros;
            else _counts[Origin] += zeros;
            dropped = x.Length - zeros;
        }
        else
        {
            int needed = RequiredExponent(maxAbs, BinsPerSide);
            if (WidthExponent is not int e || needed > e) CoarsenTo(needed);
            dropped = Bin(x, WidthExponent!.Value);
        }
        Count += x.Length - dropped;
        NonFinite += dropped;
    }

    /// <summary>Smallest e with maxAbs &lt; R * 2^e (so floor(maxAbs / 2^e) &lt;= R - 1).</summary>
    internal static int RequiredExponent(double maxAbs, int binsPerSide) => Math.ILogB(maxAbs / binsPerSide) + 1;

    private void CoarsenTo(int exponent)
    {
        if (WidthExponent is int e)
        {
            int shift = exponent - e;
            if (shift <= 0) return;
            _counts = Coarsen(_counts, Origin, shift);
        }
        WidthExponent = exponent;
        if (_pendingZeros > 0)
        {
            _counts[Origin] += _pendingZeros;
            _pendingZeros = 0;
        }
    }

    /// <summary>Counts on a grid 2^shift times wider: bin (j - origin) goes to origin + floor((j - origin) / 2^shift).</summary>
    private static long[] Coarsen(long[] counts, int origin, int shift)
    {
        var dst = new long[counts.Length];
        if (shift >= 31)
        {
            // Everything collapses onto the two bins around 0.
            for (int j = 0; j < counts.Length; j++) dst[j < origin ? origin - 1 : origin] += counts[j];
            return dst;
        }
        for (int j = 0; j < counts.Length; j++)
        {
            if (counts[j] == 0) continue;
            dst[origin + ((j - origin) >> shift)] += counts[j]; // arithmetic shift floors negatives
        }
        return dst;
    }

    /// <summary>Counts the finite values; returns how many were not (NaN), which are left out.</summary>
    private long Bin(ReadOnlySpan<float> x, int exponent)
    {
        // x * 2^-e is exact in float (a power-of-two scale), so each value lands in the same bin at any
        // later width: merges stay exact. Out of float range (tiny or huge widths) fall back to double.
        if (exponent is < -120 or > 120)
        {
            double inv = Math.ScaleB(1.0, -exponent);
            long nan = 0;
            foreach (float v in x)
            {
                if (float.IsNaN(v)) nan++;
                else Increment((int)Math.Floor((Absolute ? Math.Abs(v) : v) * inv));
            }
            return nan;
        }
        return HistogramCounter.Count(x, _counts, _counts.Length + 1, BinnerAt(exponent));
    }

    /// <summary>The bins of width 2^<paramref name="exponent"/>, with one slot past the counts for non-finite values.</summary>
    private GridBinner BinnerAt(int exponent) => new(MathF.ScaleB(1f, -exponent), Origin, _counts.Length - 1, Absolute);

    private void Increment(int relative) => _counts[Math.Clamp(relative + Origin, 0, _counts.Length - 1)]++;

    /// <summary>Adds another histogram of the same kind and size (exact).</summary>
    public void Merge(GridHistogram other)
    {
        if (other.Absolute != Absolute || other.BinsPerSide != BinsPerSide)
            throw new ArgumentException($"Cannot merge a {(other.Absolute ? "absolute" : "signed")} histogram of {other.BinsPerSide} bins per side into a {(Absolute ? "absolute" : "signed")} one of {BinsPerSide}.");
        Min = Math.Min(Min, other.Min);
        Max = Math.Max(Max, other.Max);
        Count += other.Count;
        NonFinite += other.NonFinite;
        BatchCount += other.BatchCount;
        if (other.WidthExponent is not int oe)
        {
            if (WidthExponent == null) _pendingZeros += other._pendingZeros;
            else _counts[Origin] += other._pendingZeros;
            return;
        }
        int target = WidthExponent is int e ? Math.Max(e, oe) : oe;
        CoarsenTo(target);
        var theirs = oe < target ? Coarsen(other._counts, Origin, target - oe) : other._counts;
        for (int j = 0; j < _counts.Length; j++) _counts[j] += theirs[j];
        _counts[Origin] += other._pendingZeros;
    }

    /// <summary>The stored form for a calibration table: non-empty bins only.</summary>
    public HistogramData ToData()
    {
        var c = GetCounts();
        int first = Array.FindIndex(c, v => v != 0), last = Array.FindLastIndex(c, v => v != 0);
        var trimmed = first < 0 ? Array.Empty<long>() : c[first..(last + 1)];
        return new HistogramData(Absolute, BinsPerSide, WidthExponent, first < 0 ? 0 : first - Origin, trimmed);
    }

    /// <summary>Rebuilds a histogram from its stored form plus the observed statistics.</summary>
    public static GridHistogram FromData(HistogramData data, float min, float max, long count, long nonFinite, long batches)
    {
        var h = new GridHistogram(data.Absolute, data.BinsPerSide)
        {
            Min = min, Max = max, Count = count, NonFinite = nonFinite, BatchCount = batches,
        };
        if (data.WidthExponent is int e)
        {
            h.WidthExponent = e;
            for (int j = 0; j < data.Counts.Length; j++)
            {
                int idx = h.Origin + data.FirstBin + j;
                if ((uint)idx >= (uint)h._counts.Length) throw new ArgumentException("The histogram's bins do not fit its grid.");
                h._counts[idx] = data.Counts[j];
            }
        }
        else h._pendingZeros = data.Counts.Sum();
        return h;
    }
}
