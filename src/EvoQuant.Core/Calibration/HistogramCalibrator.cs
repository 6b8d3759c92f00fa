namespace EvoQuant.Calibration;

/// <summary>Shared collection for the histogram methods: one <see cref="GridHistogram"/> per tensor
/// (signed for Entropy, of |x| for Percentile), merged exactly across calibrators.</summary>
public abstract class HistogramCalibrator : ICalibrator
{
    private readonly Dictionary<string, GridHistogram> _hists = new(StringComparer.Ordinal);

    // Tensors whose histograms follow their source's values (signed histograms only), and the reverse map.
    // A source with followers is stored at SourceShift more bits of resolution, so that a follower whose
    // range is down to 2^-SourceShift of the source's still derives exactly.
    private readonly Dictionary<string, ClampFollowers.Follower> _followers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<ClampFollowers.Follower>> _followersOf = new(StringComparer.Ordinal);
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

    /// <summary>Bins per side of 0 on the grid (the data fill between half and all of them).</summary>
    private protected abstract int BinsPerSide { get; }

    /// <summary>Lets <paramref name="f"/>'s tensor take its histogram from its source's values instead of
    /// counting its own; its Update calls are then ignored, and for each batch the source must be updated
    /// before it (a follower that can no longer be derived counts its own values from the batch on that
    /// showed it). Must come before either tensor's first update. Signed histograms only: returns false
    /// (and nothing changes) for absolute ones, or when either tensor already has values.</summary>
    internal bool Follow(ClampFollowers.Follower f)
    {
        ArgumentNullException.ThrowIfNull(f);
        if (!(f.Lo <= 0 && 0 <= f.Hi)) throw new ArgumentException($"The clamp [{f.Lo}, {f.Hi}] of '{f.Tensor}' does not hold 0.");
        lock (_hists)
        {
            if (Absolute || f.Tensor == f.Source || _hists.ContainsKey(f.Tensor) || _hists.ContainsKey(f.Source)
                || _followers.ContainsKey(f.Tensor) || _followers.ContainsKey(f.Source) || _followersOf.ContainsKey(f.Tensor)) return false;
            _followers[f.Tensor] = f;
            if (!_followersOf.TryGetValue(f.Source, out var list)) _followersOf[f.Source] = list = new();
            list.Add(f);
            return true;
        }
    }

    /// <summary>The tensor whose values this one's histogram follows, or null.</summary>
    internal string? SourceOf(string tensor)
    {
        lock (_hists) return _followers.TryGetValue(tensor, out var f) ? f.Source : null;
    }

    /// <summary>The tensors that follow <paramref name="source"/>'s values now.</summary>
    internal IReadOnlyList<string> FollowersOf(string source)
    {
        lock (_hists) return _followersOf.TryGetValue(source, out var list) ? list.Select(f => f.Tensor).ToArray() : Array.Empty<string>();
    }

    internal bool HasFollowers
    {
        get { lock (_hists) return _followers.Count > 0; }
    }

    /// <summary>Stops <paramref name="tensor"/> following its source: it gets the histogram derived so far
    /// and counts its own values from now on (e.g. when the two arrive in different runs).</summary>
    internal void Detach(string tensor)
    {
        lock (_hists)
        {
            if (!_followers.TryGetValue(tensor, out var f)) return;
            Materialize(f, _hists.GetValueOrDefault(f.Source));
        }
    }

    // Under the lock. The source's state is the one the follower has followed so far (the batch that breaks
    // the derivation is not in it yet).
    private void Materialize(ClampFollowers.Follower f, GridHistogram? source)
    {
        if (source != null)
            _hists[f.Tensor] = source.DeriveClamped(f.Lo, f.Hi, BinsPerSide)
                ?? throw new InvalidOperationException($"The histogram of '{f.Tensor}' no longer follows from '{f.Source}'.");
        _followers.Remove(f.Tensor);
        _followersOf[f.Source].Remove(f);
    }

    /// <summary>Safe to call concurrently for distinct tensors (the session updates tensors in parallel).</summary>
    public void Update(string tensor, ReadOnlySpan<float> values) => Update(tensor, values, startsBatch: true);

    /// <summary>With <paramref name="startsBatch"/> false the values continue the tensor's last batch: the
    /// session feeds a batch cut into sub-batches this way, so the tensor's BatchCount stays the caller's.</summary>
    internal void Update(string tensor, ReadOnlySpan<float> values, bool startsBatch)
    {
        GridHistogram? h;
        bool followed;
        lock (_hists)
        {
            if (_followers.ContainsKey(tensor)) return; // derived from the source's values
            followed = _followersOf.TryGetValue(tensor, out var list) && list.Count > 0;
            if (!_hists.TryGetValue(tensor, out h))
                _hists[tensor] = h = new GridHistogram(Absolute, followed ? BinsPerSide << SourceShift : BinsPerSide);
        }
        h.Add(values, startsBatch, followed ? (source, batch) => CheckFollowers(tensor, source, batch) : null);
    }

    // Before a source's batch is committed: a follower whose range the batch leaves finer than the source's
    // grid, or that would clamp NaN or infinities (whose clamping the runtime does not pin down), stops
    // following and counts its own values from this batch on.
    private void CheckFollowers(string tensor, GridHistogram source, GridHistogram.BatchPreview batch)
    {
        lock (_hists)
        {
            if (!_followersOf.TryGetValue(tensor, out var list)) return;
            foreach (var f in list.ToArray())
                if (Breaks(f, batch)) Materialize(f, source);
        }
    }

    private bool Breaks(ClampFollowers.Follower f, GridHistogram.BatchPreview batch)
    {
        if (batch.NonFinite && f.Clamps) return true;
        if (batch.Exponent is not int e || !(batch.Min <= batch.Max)) return false;
        float maxAbs = Math.Max(Math.Abs(Math.Clamp(batch.Min, f.Lo, f.Hi)), Math.Abs(Math.Clamp(batch.Max, f.Lo, f.Hi)));
        return maxAbs != 0 && GridHistogram.RequiredExponent(maxAbs, BinsPerSide) < e;
    }

    /// <summary>Every tensor's histogram as the settings define it: sources seen at BinsPerSide, followers
    /// derived. Under the lock.</summary>
    private List<(string Name, GridHistogram Histogram)> Histograms()
    {
        var all = new List<(string, GridHistogram)>();
        foreach (var (name, h) in _hists) all.Add((name, h.Rescaled(BinsPerSide)));
        foreach (var f in _followers.Values)
            if (_hists.TryGetValue(f.Source, out var src))
                all.Add((f.Tensor, src.DeriveClamped(f.Lo, f.Hi, BinsPerSide)!));
        return all;
    }

    /// <summary>Ends all following: followers get their derived histograms, sources their plain resolution.</summary>
    private void DetachAll()
    {
        lock (_hists)
        {
            foreach (var (name, h) in Histograms()) _hists[name] = h;
            _followers.Clear();
            _followersOf.Clear();
        }
    }

    public void Merge(ICalibrator other)
    {
        if (other is not HistogramCalibrator o || o.GetType() != GetType() || o.Settings != Settings)
            throw new ArgumentException($"Only a {GetType().Name} with equal settings can be merged.", nameof(other));
        DetachAll();
        o.DetachAll();
        foreach (var (name, theirs) in o._hists)
        {
            if (!_hists.TryGetValue(name, out var h)) _hists[name] = h = new GridHistogram(Absolute, BinsPerSide);
            h.Merge(theirs);
        }
    }

    internal void Load(TensorRange r)
    {
        if (r.Histogram == null) throw new ArgumentException($"The row of '{r.Tensor}' has no histogram, so it cannot be merged.");
        if (r.Histogram.Absolute != Absolute || r.Histogram.BinsPerSide != BinsPerSide)
            throw new ArgumentException($"The histogram of '{r.Tensor}' was collected with other settings.");
        DetachAll();
        _hists[r.Tensor] = GridHistogram.FromData(r.Histogram, r.Min, r.Max, r.ElementCount, r.NonFiniteCount, r.BatchCount);
    }

    internal GridHistogram? GetHistogram(string tensor)
    {
        lock (_hists) return Histograms().FirstOrDefault(h => h.Name == tensor).Histogram;
    }

    public IReadOnlyList<TensorRange> ComputeRanges()
    {
        (string Key, GridHistogram Value)[] hists;
        lock (_hists) hists = Histograms().OrderBy(kv => kv.Name, StringComparer.Ordinal).ToArray();
        var ranges = new TensorRange[hists.Length];
        // Each tensor's threshold search is independent (Entropy with 2048 bins: milliseconds each).
        Parallel.For(0, hists.Length, k => ranges[k] = ComputeRange(hists[k].Key, hists[k].Value));
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
        // The reference searches thresholds from QuantizedBins/2 to Bins/2 of its Bins bins over
        // [-max|x|, max|x|]: never below QuantizedBins/Bins of max|x| (with the default 128/128, only the full
        // range). Our grid is finer (k bins per side), so the same floor is k * QuantizedBins / Bins bins.
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
