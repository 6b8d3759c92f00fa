using System.Buffers;
using System.Numerics;
using EvoQuant.Numerics;

namespace EvoQuant.Calibration;

/// <summary>A histogram on a grid anchored at 0 whose bin width is a power of two: bin j covers
/// [j*w, (j+1)*w). The width is set by the first batch and kept as later batches reach further: bins of
/// the same width are added, as ONNX Runtime's calibrators widen their histograms, up to
/// <see cref="MaxBinsPerSide"/> a side, past which the width doubles (see <see cref="GridShape"/>). Binning
/// scales by a power of two, so every value lands where it would at any coarser width: coarsening merges
/// pairs of bins exactly, and two histograms merge exactly onto the coarser of their grids (onto the
/// common one when they share it: then merged shards equal the histogram of the whole stream). Signed
/// histograms count x over [-K*w, K*w) (2K bins, K the bins a side allocated); absolute ones count |x|
/// over [0, K*w). Calibration keeps one per tensor; the accuracy report keeps one per compared activation,
/// so the report draws the bins calibration searched over.</summary>
public sealed class GridHistogram
{
    /// <summary>What a batch is about to do: the width exponent and the finite extremes the histogram will
    /// have, whether the batch holds NaN or infinities, and its number.</summary>
    public readonly record struct BatchPreview(int? Exponent, float Min, float Max, bool NonFinite, long Batch);

    /// <summary>How far past the first batch's R bins a side a histogram grows before its width doubles:
    /// at most 8x its nominal size (Entropy 2048: 256 KiB) and 2^18 bins a side (4 MiB), whatever the outliers.</summary>
    public static int MaxBinsFor(int binsPerSide) => Math.Max(binsPerSide, Math.Min(8 * binsPerSide, 1 << 18));

    private long[] _counts;
    private GridShape _shape;

    /// <summary>Counts |x| (Percentile) rather than x (Entropy).</summary>
    public bool Absolute { get; }

    /// <summary>R: the first batch's values reach between R/2 and R bins from 0.</summary>
    public int BinsPerSide { get; }

    /// <summary>The most bins a side before the width doubles.</summary>
    public int MaxBinsPerSide { get; }

    /// <summary>log2 of the bin width, or null while every value seen was 0.</summary>
    public int? WidthExponent => _shape.Exponent;

    /// <summary>Zeros seen before any non-zero value fixed the width (they go to the bin at 0 later).</summary>
    private long _pendingZeros;

    public float Min { get; private set; } = float.PositiveInfinity;
    public float Max { get; private set; } = float.NegativeInfinity;

    /// <summary>Finite values counted.</summary>
    public long Count { get; private set; }

    /// <summary>NaN and infinite values, left out of the histogram and of min/max.</summary>
    public long NonFinite { get; private set; }

    /// <param name="absolute">Count |x| rather than x.</param>
    /// <param name="binsPerSide">R, see <see cref="BinsPerSide"/>.</param>
    /// <param name="maxBinsPerSide">By default <see cref="MaxBinsFor"/>; a histogram kept at a multiple of the
    /// bins a side it stands for takes the same multiple of that one's, so that it grows as that one would.</param>
    public GridHistogram(bool absolute, int binsPerSide, int? maxBinsPerSide = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(binsPerSide, 2);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(binsPerSide, 1 << 26);
        Absolute = absolute;
        BinsPerSide = binsPerSide;
        MaxBinsPerSide = maxBinsPerSide ?? MaxBinsFor(binsPerSide);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxBinsPerSide, binsPerSide, nameof(maxBinsPerSide));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(MaxBinsPerSide, 1 << 27, nameof(maxBinsPerSide));
        _counts = new long[absolute ? binsPerSide : 2 * binsPerSide];
    }

    /// <summary>Bins a side allocated now (at least R, at most <see cref="MaxBinsPerSide"/>).</summary>
    private int AllocatedBinsPerSide => Absolute ? _counts.Length : _counts.Length / 2;

    /// <summary>Index of the bin that starts at 0 in <see cref="GetCounts"/>.</summary>
    public int Origin => Absolute ? 0 : AllocatedBinsPerSide;

    public double BinWidth => WidthExponent is int e ? Math.ScaleB(1.0, e) : 0;

    /// <summary>Lower edge of the first bin of <see cref="GetCounts"/> (0 while the width is unknown).</summary>
    public double Low => -Origin * BinWidth;

    /// <summary>Upper edge of the last bin of <see cref="GetCounts"/>.</summary>
    public double High => (_counts.Length - Origin) * BinWidth;

    /// <summary>The counts, with pending zeros folded into the bin at 0.</summary>
    public long[] GetCounts()
    {
        var c = (long[])_counts.Clone();
        c[Origin] += _pendingZeros;
        return c;
    }

    /// <summary>Batches with at least one value: the caller's batches, however they were cut into runs.</summary>
    public long BatchCount { get; private set; }

    private static double MaxAbs(float min, float max) => Math.Max(Math.Abs((double)min), Math.Abs((double)max));

    /// <summary>The shape once finite values in [min, max] join in batch number <paramref name="batch"/>.</summary>
    private GridShape ShapeAfter(float min, float max, long batch) =>
        _shape.After(MaxAbs(Math.Min(Min, min), Math.Max(Max, max)), batch, BinsPerSide, MaxBinsPerSide);

    /// <summary>Adds one batch of values, or with <paramref name="startsBatch"/> false, more values of the
    /// batch added last (a sub-batch of it: the counts do not depend on how a batch is cut).
    /// <paramref name="beforeCommit"/>, when given, hears what the batch will do once it is known and before
    /// it changes anything the histograms that follow this one could need: they decide there whether they
    /// still can follow, and read the counts as they were if not.</summary>
    public void Add(ReadOnlySpan<float> x, bool startsBatch = true, Action<GridHistogram, BatchPreview>? beforeCommit = null)
    {
        if (x.IsEmpty) return;
        long batch = startsBatch ? BatchCount + 1 : BatchCount;
        if (TryAddOnCurrentGrid(x, batch, startsBatch, beforeCommit)) return;
        // One fused pass; NaN is ignored here and dropped by the binning. An infinity (or no number at
        // all) takes the filtering path: it would otherwise set the grid's width.
        var (min, max) = Kernels.MinMax(x);
        if (!float.IsFinite(min) || !float.IsFinite(max))
        {
            AddFiltered(x, batch, startsBatch, beforeCommit);
            return;
        }
        beforeCommit?.Invoke(this, new BatchPreview(ShapeAfter(min, max, batch).Exponent, Math.Min(Min, min), Math.Max(Max, max), Kernels.CountNonFinite(x) > 0, batch)); // min and max are finite: a NaN
        if (startsBatch) BatchCount++;
        AddFinite(x, min, max, batch);
    }

    /// <summary>Once the grid has a width, most batches fit it: count them straight into it while taking min
    /// and max in the same pass. The rare batch that does not fit (or that <paramref name="beforeCommit"/>
    /// must see uncounted: one with NaN) is counted again into scratch and taken back out; one that does
    /// not fit then takes the caller's two-pass path, which widens the grid first.</summary>
    private bool TryAddOnCurrentGrid(ReadOnlySpan<float> x, long batch, bool startsBatch, Action<GridHistogram, BatchPreview>? beforeCommit)
    {
        if (WidthExponent is not int e || e is < -120 or > 120) return false;
        int len = _counts.Length;
        long dropped = HistogramCounter.Count(x, _counts, len + 1, BinnerAt(e), out float min, out float max);
        bool finite = float.IsFinite(min) && float.IsFinite(max);
        var shape = finite ? ShapeAfter(min, max, batch) : _shape;
        bool fits = finite && shape.Exponent == e && GridShape.Extent(MaxAbs(min, max), e) <= AllocatedBinsPerSide;
        if (!fits || (dropped > 0 && beforeCommit != null))
        {
            var scratch = ArrayPool<long>.Shared.Rent(len);
            var counted = scratch.AsSpan(0, len);
            counted.Clear();
            HistogramCounter.Count(x, counted, len + 1, BinnerAt(e));
            for (int j = 0; j < len; j++) _counts[j] -= counted[j];
            if (fits)
            {
                beforeCommit!(this, new BatchPreview(e, Math.Min(Min, min), Math.Max(Max, max), true, batch));
                for (int j = 0; j < len; j++) _counts[j] += counted[j];
            }
            ArrayPool<long>.Shared.Return(scratch);
            if (!fits) return false;
        }
        // Without NaN the batch keeps the width, so a follower that could follow before still can (its own
        // width only grows); one that was all zeros and stops now is derived from Count alone (see
        // HistogramCalibrator): telling after counting is as good as before.
        else beforeCommit?.Invoke(this, new BatchPreview(e, Math.Min(Min, min), Math.Max(Max, max), false, batch));
        if (startsBatch) BatchCount++;
        _shape = shape;
        Min = Math.Min(Min, min);
        Max = Math.Max(Max, max);
        Count += x.Length - dropped;
        NonFinite += dropped;
        return true;
    }

    private void AddFiltered(ReadOnlySpan<float> x, long batch, bool startsBatch, Action<GridHistogram, BatchPreview>? beforeCommit)
    {
        var buf = ArrayPool<float>.Shared.Rent(x.Length);
        int n = 0;
        foreach (float v in x)
            if (float.IsFinite(v)) buf[n++] = v;
        var span = buf.AsSpan(0, n);
        var (min, max) = n > 0 ? Kernels.MinMax(span) : (float.PositiveInfinity, float.NegativeInfinity);
        beforeCommit?.Invoke(this, new BatchPreview(n > 0 ? ShapeAfter(min, max, batch).Exponent : WidthExponent, Math.Min(Min, min), Math.Max(Max, max), true, batch));
        if (startsBatch) BatchCount++;
        NonFinite += x.Length - n;
        if (n > 0) AddFinite(span, min, max, batch);
        ArrayPool<float>.Shared.Return(buf);
    }

    /// <summary>Adds values whose finite ones lie in [min, max]; any NaN among them is counted as non-finite.</summary>
    private void AddFinite(ReadOnlySpan<float> x, float min, float max, long batch)
    {
        Min = Math.Min(Min, min);
        Max = Math.Max(Max, max);
        long dropped;
        if (MaxAbs(min, max) == 0)
        {
            long zeros = 0;
            foreach (float v in x) if (v == 0) zeros++;
            if (WidthExponent == null) _pendingZeros += zeros;
            else _counts[Origin] += zeros;
            dropped = x.Length - zeros;
        }
        else
        {
            double maxAbs = MaxAbs(Min, Max);
            Regrid(_shape.After(maxAbs, batch, BinsPerSide, MaxBinsPerSide), maxAbs);
            dropped = Bin(x, WidthExponent!.Value);
        }
        Count += x.Length - dropped;
        NonFinite += dropped;
    }

    /// <summary>Moves the counts onto <paramref name="shape"/>'s width (never finer than today's), with room
    /// for values up to <paramref name="maxAbs"/>: a quarter more than they need once past R bins a side, so
    /// that a range creeping up batch by batch does not reallocate every time.</summary>
    private void Regrid(GridShape shape, double maxAbs)
    {
        int e = shape.Exponent!.Value;
        int needed = GridShape.Extent(maxAbs, e);
        if (needed > MaxBinsPerSide) throw new InvalidOperationException($"{needed} bins a side exceed the grid's {MaxBinsPerSide}.");
        if (WidthExponent == e && needed <= AllocatedBinsPerSide)
        {
            _shape = shape;
            return;
        }
        int bins = needed <= BinsPerSide ? BinsPerSide : Math.Min(MaxBinsPerSide, needed + needed / 4);
        var old = _counts;
        int oldOrigin = Origin;
        int? oldExponent = WidthExponent;
        _counts = new long[Absolute ? bins : 2 * bins];
        _shape = shape;
        if (oldExponent is int o) AddCounts(old, oldOrigin, e - o);
        _counts[Origin] += _pendingZeros;
        _pendingZeros = 0;
    }

    /// <summary>Adds counts of a grid 2^shift times finer (bin origin + r goes to this one's bin floor(r / 2^shift)).</summary>
    private void AddCounts(long[] counts, int origin, int shift)
    {
        if (shift < 0) throw new ArgumentOutOfRangeException(nameof(shift), "Counts cannot move to a finer grid.");
        for (int j = 0; j < counts.Length; j++)
            if (counts[j] != 0) _counts[Origin + Coarser(j - origin, shift)] += counts[j];
    }

    /// <summary>The bin that holds relative bin r of a grid 2^shift times finer (the arithmetic shift floors negatives).</summary>
    private static int Coarser(int r, int shift) => shift >= 31 ? (r < 0 ? -1 : 0) : r >> shift;

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
                else Increment((int)Math.Clamp(Math.Floor((Absolute ? Math.Abs(v) : v) * inv), int.MinValue / 2, int.MaxValue / 2));
            }
            return nan;
        }
        return HistogramCounter.Count(x, _counts, _counts.Length + 1, BinnerAt(exponent));
    }

    /// <summary>The bins of width 2^<paramref name="exponent"/>, with one slot past the counts for non-finite values.</summary>
    private GridBinner BinnerAt(int exponent) => new(MathF.ScaleB(1f, -exponent), Origin, _counts.Length - 1, Absolute);

    private void Increment(int relative) => _counts[Math.Clamp(relative + Origin, 0, _counts.Length - 1)]++;

    /// <summary>Adds another histogram of the same kind and size, on the coarser of the two grids (exact;
    /// on a common grid, the histogram of both streams, in either order).</summary>
    public void Merge(GridHistogram other)
    {
        if (other.Absolute != Absolute || other.BinsPerSide != BinsPerSide || other.MaxBinsPerSide != MaxBinsPerSide)
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
        var target = WidthExponent is int e ? _shape.Coarsened(oe - e) : other._shape;
        Regrid(target, MaxAbs(Min, Max));
        AddCounts(other._counts, other.Origin, target.Exponent!.Value - oe);
        _counts[Origin] += other._pendingZeros;
    }

    /// <summary>The same counts on a grid with fewer bins per side (this one's divided by a power of two):
    /// a finer storage of this histogram seen at the resolution its bins per side give. Shapes scale with
    /// R, so this is the histogram the plain R would have counted.</summary>
    public GridHistogram Rescaled(int binsPerSide)
    {
        if (binsPerSide == BinsPerSide) return this;
        int shift = BitOperations.Log2((uint)(BinsPerSide / binsPerSide));
        if (binsPerSide << shift != BinsPerSide) throw new ArgumentException($"{BinsPerSide} bins per side do not rescale to {binsPerSide}.", nameof(binsPerSide));
        var h = new GridHistogram(Absolute, binsPerSide, MaxBinsPerSide >> shift)
        {
            Min = Min, Max = Max, Count = Count, NonFinite = NonFinite, BatchCount = BatchCount, _pendingZeros = _pendingZeros,
        };
        if (WidthExponent != null)
        {
            // Half the bins per side at twice the width: the same shape, one bit coarser.
            h.Regrid(_shape.Coarsened(shift), MaxAbs(Min, Max));
            h.AddCounts(_counts, Origin, shift);
        }
        return h;
    }

    /// <summary>The histogram, with <paramref name="binsPerSide"/> bins per side and <paramref name="shape"/>
    /// (the follower's own, as it would have counted itself), of clamp(x, lo, hi) over the values x counted
    /// here (lo &lt;= 0 &lt;= hi; infinite bounds for a tensor that only moves values), or null when this grid
    /// is coarser than that shape. Exact: clamping moves a value to lo or hi, whose bin holds every value
    /// the clamp moves there because binning is monotone, and a finer power-of-two grid coarsens exactly.
    /// Signed histograms only; non-finite values are carried over as they are.</summary>
    internal GridHistogram? DeriveClamped(float lo, float hi, int binsPerSide, GridShape shape)
    {
        if (Absolute) throw new InvalidOperationException("Only signed histograms can be clamped.");
        var y = new GridHistogram(false, binsPerSide) { Count = Count, NonFinite = NonFinite, BatchCount = BatchCount };
        if (Count == 0) return y;
        (y.Min, y.Max) = (Math.Clamp(Min, lo, hi), Math.Clamp(Max, lo, hi));
        if (shape.Exponent is not int ey)
        {
            if (MaxAbs(y.Min, y.Max) != 0) throw new ArgumentException("A follower with values other than 0 needs a width.", nameof(shape));
            y._pendingZeros = Count; // every value clamped to 0: no width yet, as for a stream of zeros
            return y;
        }
        int e = WidthExponent!.Value; // x reaches past |y|
        if (ey < e) return null;
        int first = float.IsNegativeInfinity(lo) ? -Origin : RelativeBin(lo, e);
        int last = float.IsPositiveInfinity(hi) ? _counts.Length - 1 - Origin : RelativeBin(hi, e);
        y.Regrid(shape, MaxAbs(y.Min, y.Max));
        var c = GetCounts();
        for (int j = 0; j < c.Length; j++)
            if (c[j] != 0) y._counts[y.Origin + Coarser(Math.Clamp(j - Origin, first, last), ey - e)] += c[j];
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

    /// <summary>Rebuilds a histogram from its stored form plus the observed statistics. Batches added later
    /// widen it (its width batch is over).</summary>
    public static GridHistogram FromData(HistogramData data, float min, float max, long count, long nonFinite, long batches)
    {
        var h = new GridHistogram(data.Absolute, data.BinsPerSide)
        {
            Min = min, Max = max, Count = count, NonFinite = nonFinite, BatchCount = batches,
        };
        if (data.WidthExponent is int e)
        {
            // Bins a side the stored counts reach: past them on either side they do not fit the grid.
            long reach = Math.Max(data.FirstBin + (long)data.Counts.Length, data.Absolute ? 0 : -(long)data.FirstBin);
            if ((data.Absolute && data.FirstBin < 0) || reach > h.MaxBinsPerSide)
                throw new ArgumentException("The histogram's bins do not fit its grid.");
            int bins = (int)reach;
            h._counts = new long[data.Absolute ? Math.Max(bins, h.BinsPerSide) : 2 * Math.Max(bins, h.BinsPerSide)];
            h._shape = new GridShape(e, batches);
            data.Counts.CopyTo(h._counts, h.Origin + data.FirstBin);
        }
        else h._pendingZeros = data.Counts.Sum();
        return h;
    }
}
