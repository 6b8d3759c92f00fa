using System.Buffers;
using System.Collections.Concurrent;
using System.Numerics.Tensors;

namespace EvoQuant.Calibration;

/// <summary>Shared collection for the histogram methods: one <see cref="GridHistogram"/> per tensor
/// (signed for Entropy, of |x| for Percentile), merged exactly across calibrators.</summary>
public abstract class HistogramCalibrator : ICalibrator
{
    private readonly Dictionary<string, GridHistogram> _hists = new(StringComparer.Ordinal);

    // Tensors whose values are a clamp or a move of another's (signed histograms only), by name and by source.
    // While in _derived a follower's histogram is derived from its source's counts; a source with such
    // followers is stored at SourceShift more bits of resolution, so that a follower whose range is down to
    // 2^-SourceShift of the source's still derives exactly. A follower that cannot be derived any more counts
    // its own histogram, of values computed from its source's. Its own Update calls are ignored either way
    // (the session does not even fetch it).
    private readonly Dictionary<string, ClampFollowers.Follower> _followers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<ClampFollowers.Follower>> _followersOf = new(StringComparer.Ordinal);
    private readonly HashSet<string> _derived = new(StringComparer.Ordinal);
    // A derived follower's grid as it would be had it counted its own values (its width batch is the first
    // that clamps to something other than 0, so it can differ from its source's).
    private readonly Dictionary<string, GridShape> _shapes = new(StringComparer.Ordinal);
    private const int SourceShift = 1;

    public CalibrationSettings Settings { get; }

    private protected HistogramCalibrator(CalibrationSettings settings, CalibrationMethod expected)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (settings.Method != expected) throw new ArgumentException($"{GetType().Name} needs Method = {expected}.", nameof(settings));
        settings.Validate();
        Settings = settings;
    }

    private protected abstract bool Absolute { get; }

    public CalibrationInput Input => CalibrationInput.Values;

    /// <summary>True: a histogram does not depend on where a batch is cut.</summary>
    public bool TakesPartialBatches => true;

    public bool UpdatesConcurrently => true;

    bool ICalibrator.FollowsClamps => !Absolute;

    bool ICalibrator.Follow(ClampFollowers.Follower f) => Follow(f);

    /// <summary>Bins per side of 0 on the grid (the data fill between half and all of them).</summary>
    private protected abstract int BinsPerSide { get; }

    /// <summary>Makes <paramref name="f"/>'s tensor take its histogram from its source's values: derived from
    /// the source's counts while it can be, else counted from values computed from the source's. Its own
    /// Update calls are ignored from then on. Must come before either tensor's first update. Signed histograms
    /// only: returns false (and nothing changes) for absolute ones, or when either tensor already has values.</summary>
    internal bool Follow(ClampFollowers.Follower f)
    {
        ArgumentNullException.ThrowIfNull(f);
        if (!(f.Lo <= 0 && 0 <= f.Hi)) throw new ArgumentException($"The clamp [{f.Lo}, {f.Hi}] of '{f.Tensor}' does not hold 0.");
        lock (_hists)
        {
            if (Absolute || f.Tensor == f.Source || _hists.ContainsKey(f.Tensor) || _hists.ContainsKey(f.Source)
                || _followers.ContainsKey(f.Tensor) || _followers.ContainsKey(f.Source) || _followersOf.ContainsKey(f.Tensor)) return false;
            _followers[f.Tensor] = f;
            _derived.Add(f.Tensor);
            _shapes[f.Tensor] = GridShape.Empty;
            if (!_followersOf.TryGetValue(f.Source, out var list)) _followersOf[f.Source] = list = new();
            list.Add(f);
            return true;
        }
    }

    /// <summary>Whether <paramref name="tensor"/>'s histogram is still derived from its source's counts.</summary>
    internal bool IsDerived(string tensor)
    {
        lock (_hists) return _derived.Contains(tensor);
    }

    // Under the lock. The source's state is the one the follower has followed so far (the batch that breaks
    // the derivation is not in it yet).
    private void StopDeriving(ClampFollowers.Follower f, GridHistogram? source)
    {
        if (source != null)
            _hists[f.Tensor] = source.DeriveClamped(f.Lo, f.Hi, BinsPerSide, _shapes[f.Tensor])
                ?? throw new InvalidOperationException($"The histogram of '{f.Tensor}' no longer follows from '{f.Source}'.");
        _derived.Remove(f.Tensor);
    }

    /// <summary>Safe to call concurrently for distinct tensors (the session updates tensors in parallel).</summary>
    public void Update(string tensor, ReadOnlySpan<float> values) => Update(tensor, values, startsBatch: true);

    /// <summary>With <paramref name="startsBatch"/> false the values continue the tensor's last batch: the
    /// session feeds a batch cut into sub-batches this way, so the tensor's BatchCount stays the caller's.</summary>
    public void Update(string tensor, ReadOnlySpan<float> values, bool startsBatch)
    {
        GridHistogram? h;
        ClampFollowers.Follower[]? followers = null;
        bool anyDerived = false;
        lock (_hists)
        {
            if (_followers.ContainsKey(tensor)) return; // its values come from its source's
            if (_followersOf.TryGetValue(tensor, out var list) && list.Count > 0)
            {
                followers = list.ToArray();
                anyDerived = followers.Any(f => _derived.Contains(f.Tensor));
            }
            if (!_hists.TryGetValue(tensor, out h))
                _hists[tensor] = h = anyDerived
                    ? new GridHistogram(Absolute, BinsPerSide << SourceShift, GridHistogram.MaxBinsFor(BinsPerSide) << SourceShift)
                    : new GridHistogram(Absolute, BinsPerSide);
        }
        h.Add(values, startsBatch, anyDerived ? (source, batch) => CheckFollowers(tensor, source, batch) : null);
        if (followers == null) return;
        foreach (var f in followers)
        {
            GridHistogram? own;
            lock (_hists)
            {
                if (_derived.Contains(f.Tensor)) continue;
                if (!_hists.TryGetValue(f.Tensor, out own)) _hists[f.Tensor] = own = new GridHistogram(Absolute, BinsPerSide);
            }
            CountFollower(own, f, values, startsBatch);
        }
    }

    // The follower's values, as the runtime computes them from the source's: moved unchanged, or clamped with
    // NaN kept NaN (IEEE maximum and minimum, the runtime's Relu and Clip: tested against it). Clamped a
    // chunk at a time, continuing the batch: a buffer the size of the tensor would stay in the shared pool,
    // one per size and thread (the OCR recognizer's peak grew by 100 MiB over 1000 samples).
    private const int Chunk = 1 << 16;

    private static void CountFollower(GridHistogram own, ClampFollowers.Follower f, ReadOnlySpan<float> values, bool startsBatch)
    {
        if (!f.Clamps)
        {
            own.Add(values, startsBatch);
            return;
        }
        var buf = ArrayPool<float>.Shared.Rent(Math.Min(Chunk, values.Length));
        try
        {
            for (int at = 0; at < values.Length; at += Chunk)
            {
                var x = values.Slice(at, Math.Min(Chunk, values.Length - at));
                var y = buf.AsSpan(0, x.Length);
                TensorPrimitives.Max(x, f.Lo, y);
                TensorPrimitives.Min(y, f.Hi, y);
                own.Add(y, startsBatch && at == 0);
            }
        }
        finally { ArrayPool<float>.Shared.Return(buf); }
    }

    // Before a source's batch is committed: a derived follower whose grid the batch leaves finer than the
    // source's, or that clamps NaN or infinities (which its derived counts cannot follow), stops being
    // derived; it counts this batch's values and the later ones itself. The others' grids move on.
    private void CheckFollowers(string tensor, GridHistogram source, GridHistogram.BatchPreview batch)
    {
        lock (_hists)
        {
            if (!_followersOf.TryGetValue(tensor, out var list)) return;
            foreach (var f in list)
            {
                if (!_derived.Contains(f.Tensor)) continue;
                var shape = ShapeAfter(f, _shapes[f.Tensor], batch);
                if ((batch.NonFinite && f.Clamps) || shape.Exponent < batch.Exponent) StopDeriving(f, source);
                else _shapes[f.Tensor] = shape;
            }
        }
    }

    // The follower's extremes are its source's clamped (clamping is monotone), so its grid follows from them.
    private GridShape ShapeAfter(ClampFollowers.Follower f, GridShape shape, GridHistogram.BatchPreview batch)
    {
        if (!(batch.Min <= batch.Max)) return shape;
        double maxAbs = Math.Max(Math.Abs(Math.Clamp(batch.Min, f.Lo, f.Hi)), Math.Abs(Math.Clamp(batch.Max, f.Lo, f.Hi)));
        return shape.After(maxAbs, batch.Batch, BinsPerSide, GridHistogram.MaxBinsFor(BinsPerSide));
    }

    /// <summary>Every tensor's histogram as the settings define it: sources seen at BinsPerSide, derived
    /// followers derived. Under the lock.</summary>
    private List<(string Name, GridHistogram Histogram)> Histograms()
    {
        var all = new List<(string, GridHistogram)>();
        foreach (var (name, h) in _hists) all.Add((name, h.Rescaled(BinsPerSide)));
        foreach (string t in _derived)
            if (_hists.TryGetValue(_followers[t].Source, out var src))
                all.Add((t, src.DeriveClamped(_followers[t].Lo, _followers[t].Hi, BinsPerSide, _shapes[t])!));
        return all;
    }

    /// <summary>Ends all deriving: followers get their derived histograms (and count from then on), sources
    /// their plain resolution.</summary>
    private void StopDerivingAll()
    {
        lock (_hists)
        {
            foreach (var (name, h) in Histograms()) _hists[name] = h;
            _derived.Clear();
        }
    }

    public void Merge(ICalibrator other)
    {
        if (other is not HistogramCalibrator o || o.GetType() != GetType() || o.Settings != Settings)
            throw new ArgumentException($"Only a {GetType().Name} with equal settings can be merged.", nameof(other));
        StopDerivingAll();
        o.StopDerivingAll();
        foreach (var (name, theirs) in o._hists)
        {
            if (!_hists.TryGetValue(name, out var h)) _hists[name] = h = new GridHistogram(Absolute, BinsPerSide);
            h.Merge(theirs);
        }
    }

    void ICalibrator.Load(TensorRange r) => Load(r);

    internal void Load(TensorRange r)
    {
        if (r.Histogram == null) throw new ArgumentException($"The row of '{r.Tensor}' has no histogram, so it cannot be merged.");
        if (r.Histogram.Absolute != Absolute || r.Histogram.BinsPerSide != BinsPerSide)
            throw new ArgumentException($"The histogram of '{r.Tensor}' was collected with other settings.");
        StopDerivingAll();
        _hists[r.Tensor] = GridHistogram.FromData(r.Histogram, r.Min, r.Max, r.ElementCount, r.NonFiniteCount, r.BatchCount);
    }

    public IReadOnlyList<TensorRange> ComputeRanges()
    {
        (string Key, GridHistogram Value)[] hists;
        lock (_hists) hists = Histograms().OrderBy(kv => kv.Name, StringComparer.Ordinal).ToArray();
        var ranges = new TensorRange[hists.Length];
        // Each tensor's threshold search is independent (Entropy with 2048 bins: milliseconds each, about in
        // proportion to the bins the data span): the longest first, one at a time, keeps both cores busy to the end.
        static double Span(GridHistogram h) => h.Count > 0 && h.BinWidth > 0 ? ((double)h.Max - h.Min) / h.BinWidth : 0;
        var longestFirst = Enumerable.Range(0, hists.Length).OrderByDescending(k => Span(hists[k].Value)).ToArray();
        // One search per core: the thread pool would add threads to long searches, each holding its own
        // working memory (HistogramMemoryPlan counts Workers of them).
        Parallel.ForEach(Partitioner.Create(longestFirst, EnumerablePartitionerOptions.NoBuffering),
            new ParallelOptions { MaxDegreeOfParallelism = HistogramMemoryPlan.Workers },
            k => ranges[k] = ComputeRange(hists[k].Key, hists[k].Value));
        return ranges;
    }

    private TensorRange ComputeRange(string name, GridHistogram h)
    {
        float min = h.Count > 0 ? h.Min : 0, max = h.Count > 0 ? h.Max : 0;
        float lo, hi;
        if (h.Count == 0 || h.WidthExponent == null) (lo, hi) = (min, max);
        else
        {
            var (tlo, thi) = Threshold(h);
            lo = (float)Math.Max(tlo, min); // never wider than what was seen, as the reference clips
            hi = (float)Math.Min(thi, max);
        }
        (lo, hi) = RangeRules.Finish(lo, hi, Settings.Symmetric);
        return new TensorRange(name, Settings.Method, min, max, lo, hi)
        {
            ElementCount = h.Count, BatchCount = h.BatchCount, NonFiniteCount = h.NonFinite, Histogram = h.ToData(),
        };
    }

    /// <summary>The threshold range before clipping to the observed min/max.</summary>
    private protected abstract (double Lo, double Hi) Threshold(GridHistogram h);
}

/// <summary>Entropy (KL-divergence) calibration, see <see cref="EntropyThreshold"/>. The histogram is
/// centred on 0 and symmetric: the search runs over the smallest window [-k*w, k*w) holding every value.</summary>
public sealed class EntropyCalibrator : HistogramCalibrator
{
    public EntropyCalibrator(CalibrationSettings settings) : base(settings, CalibrationMethod.Entropy) { }

    private protected override bool Absolute => false;

    private protected override int BinsPerSide => Settings.EffectiveBins;

    private protected override (double Lo, double Hi) Threshold(GridHistogram h)
    {
        var c = h.GetCounts();
        int origin = h.Origin;
        int first = Array.FindIndex(c, v => v != 0), last = Array.FindLastIndex(c, v => v != 0);
        int k = Math.Max(origin - first, last + 1 - origin);
        double w = h.BinWidth;
        // TensorRT searches thresholds from QuantizedBins/Bins of max|x| up (with the default 128/128, only
        // the full range). ONNX Runtime's tool starts from QuantizedBins/Bins of its first batch's max|x|, an
        // accident of how its histogram widens that makes the table depend on the order of the samples (tried:
        // the OCR detector's Entropy table then missed its accuracy bar). We take the whole range's: on our
        // finer grid, k * QuantizedBins / Bins bins.
        int minHalf = (int)Math.Ceiling((double)k * Settings.QuantizedBins / Settings.EffectiveBins);
        return EntropyThreshold.Find(c.AsSpan(origin - k, 2 * k), -k * w, w, Settings.QuantizedBins, minHalf);
    }
}

/// <summary>Percentile calibration: the smallest bin edge e of the |x| histogram below which at least
/// Percentile % of the values lie gives the range [-e, e], clipped to what was seen. (The reference
/// tool takes the lower edge of that bin; the upper edge keeps the percentile's values inside.)</summary>
public sealed class PercentileCalibrator : HistogramCalibrator
{
    public PercentileCalibrator(CalibrationSettings settings) : base(settings, CalibrationMethod.Percentile) { }

    private protected override bool Absolute => true;

    // Twice the bins, so the data always span at least Bins of them.
    private protected override int BinsPerSide => 2 * Settings.EffectiveBins;

    private protected override (double Lo, double Hi) Threshold(GridHistogram h)
    {
        var c = h.GetCounts();
        long total = 0;
        foreach (long v in c) total += v;
        double target = Settings.Percentile / 100.0 * total;
        long cum = 0;
        int idx = c.Length - 1;
        for (int j = 0; j < c.Length; j++)
        {
            cum += c[j];
            if (cum >= target) { idx = j; break; }
        }
        double e = (idx + 1) * h.BinWidth;
        return (-e, e);
    }
}
