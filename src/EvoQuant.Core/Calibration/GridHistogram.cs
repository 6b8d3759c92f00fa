using System.Buffers;
using System.Numerics;
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
    /// <summary>What a batch is about to do: the width exponent and the finite extremes the histogram will
    /// have, and whether the batch holds NaN or infinities.</summary>
    public readonly record struct BatchPreview(int? Exponent, float Min, float Max, bool NonFinite);

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
    /// batch added last (a sub-batch of it: the counts do not depend on how a batch is cut).
    /// <paramref name="beforeCommit"/>, when given, hears what the batch will do once it is known and before
    /// it changes anything the histograms that follow this one could need: they decide there whether they
    /// still can follow, and read the counts as they were if not.</summary>
    public void Add(ReadOnlySpan<float> x, bool startsBatch = true, Action<GridHistogram, BatchPreview>? beforeCommit = null)
    {
        if (x.IsEmpty) return;
        if (TryAddOnCurrentGrid(x, startsBatch, beforeCommit)) return;
        // One fused pass; NaN is ignored here and dropped by the binning. An infinity (or no number at
        // all) takes the filtering path: it would otherwise set the grid's width.
        var (min, max) = Kernels.MinMax(x);
        if (!float.IsFinite(min) || !float.IsFinite(max))
        {
            AddFiltered(x, startsBatch, beforeCommit);
            return;
        }
        beforeCommit?.Invoke(this, new BatchPreview(ExponentAfter(min, max), Math.Min(Min, min), Math.Max(Max, max), ContainsNaN(x)));
        if (startsBatch) BatchCount++;
        AddFinite(x, min, max);
    }

    /// <summary>Once the grid has a width, most batches fit it: count them straight into it while taking min
    /// and max in the same pass. The rare batch that does not fit (or that <paramref name="beforeCommit"/>
    /// must see uncounted: one with NaN) is counted again into scratch and taken back out; one that does
    /// not fit then takes the caller's two-pass path, which widens the grid first.</summary>
    private bool TryAddOnCurrentGrid(ReadOnlySpan<float> x, bool startsBatch, Action<GridHistogram, BatchPreview>? beforeCommit)
    {
        if (WidthExponent is not int e || e is < -120 or > 120) return false;
        int len = _counts.Length;
        long dropped = HistogramCounter.Count(x, _counts, len + 1, BinnerAt(e), out float min, out float max);
        float maxAbs = Math.Max(Math.Abs(min), Math.Abs(max));
        bool fits = float.IsFinite(min) && float.IsFinite(max) && (maxAbs == 0 || RequiredExponent(maxAbs, BinsPerSide) <= e);
        if (!fits || (dropped > 0 && beforeCommit != null))
        {
            var scratch = ArrayPool<long>.Shared.Rent(len);
            var batch = scratch.AsSpan(0, len);
            batch.Clear();
            HistogramCounter.Count(x, batch, len + 1, BinnerAt(e));
            for (int j = 0; j < len; j++) _counts[j] -= batch[j];
            if (fits)
            {
                beforeCommit!(this, new BatchPreview(e, Math.Min(Min, min), Math.Max(Max, max), true));
                for (int j = 0; j < len; j++) _counts[j] += batch[j];
            }
            ArrayPool<long>.Shared.Return(scratch);
            if (!fits) return false;
        }
        // Without NaN the batch keeps the grid, so it changes no follower (see HistogramCalibrator): telling
        // after counting is as good as before.
        else beforeCommit?.Invoke(this, new BatchPreview(e, Math.Min(Min, min), Math.Max(Max, max), false));
        if (startsBatch) BatchCount++;
        Min = Math.Min(Min, min);
        Max = Math.Max(Max, max);
        Count += x.Length - dropped;
        NonFinite += dropped;
        return true;
    }

    private void AddFiltered(ReadOnlySpan<float> x, bool startsBatch, Action<GridHistogram, BatchPreview>? beforeCommit)
    {
        var buf = ArrayPool<float>.Shared.Rent(x.Length);
        int n = 0;
        foreach (float v in x)
            if (float.IsFinite(v)) buf[n++] = v;
        var span = buf.AsSpan(0, n);
        var (min, max) = n > 0 ? Kernels.MinMax(span) : (float.PositiveInfinity, float.NegativeInfinity);
        beforeCommit?.Invoke(this, new BatchPreview(n > 0 ? ExponentAfter(min, max) : WidthExponent, Math.Min(Min, min), Math.Max(Max, max), true));
        if (startsBatch) BatchCount++;
        NonFinite += x.Length - n;
        if (n > 0) AddFinite(span, min, max);
        ArrayPool<float>.Shared.Return(buf);
    }

    /// <summary>The width exponent once finite values in [min, max] are added.</summary>
    private int? ExponentAfter(float min, float max)
    {
        float maxAbs = Math.Max(Math.Abs(min), Math.Abs(max));
        if (maxAbs == 0) return WidthExponent;
        int needed = RequiredExponent(maxAbs, BinsPerSide);
        return WidthExponent is int e && e >= needed ? e : needed;
    }

    private static bool ContainsNaN(ReadOnlySpan<float> x)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
            for (; i <= x.Length - Vector<float>.Count; i += Vector<float>.Count)
            {
                var v = new Vector<float>(x.Slice(i, Vector<float>.Count));
                if (!Vector.EqualsAll(v, v)) return true;
            }
        for (; i < x.Length; i++)
            if (float.IsNaN(x[i])) return true;
        return false;
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

    /// <summary>The same counts on a grid with fewer bins per side (this one's divided by a power of two):
    /// a finer storage of this histogram seen at the resolution its bins per side give.</summary>
    public GridHistogram Rescaled(int binsPerSide)
    {
        if (binsPerSide == BinsPerSide) return this;
        int shift = BitOperations.Log2((uint)(BinsPerSide / binsPerSide));
        if (binsPerSide << shift != BinsPerSide) throw new ArgumentException($"{BinsPerSide} bins per side do not rescale to {binsPerSide}.", nameof(binsPerSide));
        var h = new GridHistogram(Absolute, binsPerSide)
        {
            Min = Min, Max = Max, Count = Count, NonFinite = NonFinite, BatchCount = BatchCount, _pendingZeros = _pendingZeros,
        };
        if (WidthExponent is int e)
        {
            // Twice the bins per side at half the width: the same smallest power of two, shifted.
            h.WidthExponent = e + shift;
            for (int j = 0; j < _counts.Length; j++)
                if (_counts[j] != 0) h._counts[h.Origin + ((j - Origin) >> shift)] += _counts[j];
        }
        return h;
    }

    /// <summary>The histogram, with <paramref name="binsPerSide"/> bins per side, of clamp(x, lo, hi) over
    /// the values x counted here (lo &lt;= 0 &lt;= hi; infinite bounds for a tensor that only moves values), or
    /// null when this grid is too coarse for it. Exact: clamping moves a value to lo or hi, whose bin holds
    /// every value the clamp moves there because binning is monotone, and a finer power-of-two grid
    /// coarsens exactly. Signed histograms only; non-finite values are carried over as they are.</summary>
    public GridHistogram? DeriveClamped(float lo, float hi, int binsPerSide)
    {
        if (Absolute) throw new InvalidOperationException("Only signed histograms can be clamped.");
        var y = new GridHistogram(false, binsPerSide) { Count = Count, NonFinite = NonFinite, BatchCount = BatchCount };
        if (Count == 0) return y;
        (y.Min, y.Max) = (Math.Clamp(Min, lo, hi), Math.Clamp(Max, lo, hi));
        float maxAbs = Math.Max(Math.Abs(y.Min), Math.Abs(y.Max));
        if (maxAbs == 0)
        {
            y._pendingZeros = Count; // every value clamped to 0: no width yet, as for a stream of zeros
            return y;
        }
        int ey = RequiredExponent(maxAbs, binsPerSide), e = WidthExponent!.Value; // x reaches past |y| > 0
        int shift = ey - e;
        if (shift < 0) return null;
        int first = float.IsNegativeInfinity(lo) ? -BinsPerSide : RelativeBin(lo, e);
        int last = float.IsPositiveInfinity(hi) ? BinsPerSide - 1 : RelativeBin(hi, e);
        var c = GetCounts();
        for (int j = 0; j < c.Length; j++)
            if (c[j] != 0) y._counts[y.Origin + (Math.Clamp(j - Origin, first, last) >> shift)] += c[j];
        y.WidthExponent = ey;
        return y;
    }

    /// <summary>The bin of one value relative to the origin at width 2^e, as the binner computes it.</summary>
    private int RelativeBin(float v, int e)
    {
        double f = e is < -120 or > 120 ? Math.Floor(v * Math.ScaleB(1.0, -e)) : GridBinner.Floor(v, MathF.ScaleB(1f, -e));
        return (int)Math.Clamp(f, -Origin, _counts.Length - 1 - Origin);
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
