using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

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
        var (min, max) = HistogramMath.MinMax(x);
        if (!float.IsFinite(min) || !float.IsFinite(max))
        {
            AddFiltered(x);
            return;
        }
        AddFinite(x, min, max);
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
            var (min, max) = HistogramMath.MinMax(span);
            AddFinite(span, min, max);
        }
        ArrayPool<float>.Shared.Return(buf);
    }

    private void AddFinite(ReadOnlySpan<float> x, float min, float max)
    {
        Min = Math.Min(Min, min);
        Max = Math.Max(Max, max);
        Count += x.Length;
        float maxAbs = Math.Max(Math.Abs(min), Math.Abs(max));
        if (maxAbs == 0)
        {
            if (WidthExponent == null) _pendingZeros += x.Length;
            else _counts[Origin] += x.Length;
            return;
        }
        int needed = RequiredExponent(maxAbs, BinsPerSide);
        if (WidthExponent is not int e || needed > e) CoarsenTo(needed);
        Bin(x, WidthExponent!.Value);
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

    private void Bin(ReadOnlySpan<float> x, int exponent)
    {
        // x * 2^-e is exact in float (a power-of-two scale), so each value lands in the same bin at any
        // later width: merges stay exact. Out of float range (tiny or huge widths) fall back to double.
        if (exponent is < -120 or > 120)
        {
            double inv = Math.ScaleB(1.0, -exponent);
            foreach (float v in x) Increment((int)Math.Floor((Absolute ? Math.Abs(v) : v) * inv));
            return;
        }
        float invW = MathF.ScaleB(1f, -exponent);
        const int Chunk = 4096;
        int len = _counts.Length;
        var index = ArrayPool<int>.Shared.Rent(Math.Min(Chunk, x.Length));
        // Four interleaved counter sets: runs of equal values (the zeros after a ReLU) would otherwise
        // serialise on one memory location. Clearing and folding them costs ~len/2 vector ops per batch.
        int[]? lanes = x.Length >= len ? ArrayPool<int>.Shared.Rent(4 * len) : null;
        if (lanes != null) Array.Clear(lanes, 0, 4 * len);
        try
        {
            for (int at = 0; at < x.Length; at += Chunk)
            {
                var src = x.Slice(at, Math.Min(Chunk, x.Length - at));
                var idx = index.AsSpan(0, src.Length);
                BinIndices(src, idx, invW, Origin, len - 1, Absolute);
                if (lanes != null) Count4(idx, lanes.AsSpan(0, 4 * len), len);
                else foreach (int j in idx) _counts[j]++;
            }
            if (lanes != null)
                for (int j = 0; j < len; j++) _counts[j] += (long)lanes[j] + lanes[len + j] + lanes[2 * len + j] + lanes[3 * len + j];
        }
        finally
        {
            ArrayPool<int>.Shared.Return(index);
            if (lanes != null) ArrayPool<int>.Shared.Return(lanes);
        }
    }

    /// <summary>Bin of each value: clamp(floor(v * invW) + origin, 0, last), with v = |x| when absolute.
    /// The vector path does the same float operations (a power-of-two scale is exact, floor and the
    /// saturating conversion agree), so it gives the scalar path's bins bit for bit.</summary>
    internal static void BinIndices(ReadOnlySpan<float> x, Span<int> dst, float invW, int origin, int last, bool absolute)
    {
        if (dst.Length < x.Length) throw new ArgumentException("The index buffer is shorter than the values.", nameof(dst));
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var scale = Vector256.Create(invW);
            var o = Vector256.Create(origin);
            var hi = Vector256.Create(last);
            ref float xs = ref MemoryMarshal.GetReference(x);
            ref int ds = ref MemoryMarshal.GetReference(dst);
            for (; i + 8 <= x.Length; i += 8)
            {
                var v = Vector256.LoadUnsafe(ref xs, (nuint)i);
                if (absolute) v = Vector256.Abs(v);
                var k = Vector256.ConvertToInt32(Vector256.Floor(v * scale)) + o;
                Vector256.Min(Vector256.Max(k, Vector256<int>.Zero), hi).StoreUnsafe(ref ds, (nuint)i);
            }
        }
        for (; i < x.Length; i++)
        {
            float v = absolute ? MathF.Abs(x[i]) : x[i];
            dst[i] = Math.Clamp((int)MathF.Floor(v * invW) + origin, 0, last);
        }
    }

    private static void Count4(ReadOnlySpan<int> idx, Span<int> l, int len)
    {
        // Indices are clamped to [0, len): the four sets are l[0..len), l[len..2len), ...
        ref int l0 = ref MemoryMarshal.GetReference(l);
        ref int l1 = ref Unsafe.Add(ref l0, len);
        ref int l2 = ref Unsafe.Add(ref l0, 2 * len);
        ref int l3 = ref Unsafe.Add(ref l0, 3 * len);
        int i = 0;
        for (; i + 4 <= idx.Length; i += 4)
        {
            Unsafe.Add(ref l0, idx[i])++;
            Unsafe.Add(ref l1, idx[i + 1])++;
            Unsafe.Add(ref l2, idx[i + 2])++;
            Unsafe.Add(ref l3, idx[i + 3])++;
        }
        for (; i < idx.Length; i++) Unsafe.Add(ref l0, idx[i])++;
    }

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
