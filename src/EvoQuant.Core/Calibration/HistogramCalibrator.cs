namespace EvoQuant.Calibration;

/// <summary>Shared collection for the histogram methods: one <see cref="GridHistogram"/> per tensor
/// (signed for Entropy, of |x| for Percentile), merged exactly across calibrators.</summary>
public abstract class HistogramCalibrator : ICalibrator
{
    private readonly Dictionary<string, GridHistogram> _hists = new(StringComparer.Ordinal);

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

    /// <summary>Safe to call concurrently for distinct tensors (the session updates tensors in parallel).</summary>
    public void Update(string tensor, ReadOnlySpan<float> values) => Update(tensor, values, startsBatch: true);

    /// <summary>With <paramref name="startsBatch"/> false the values continue the tensor's last batch: the
    /// session feeds a batch cut into sub-batches this way, so the tensor's BatchCount stays the caller's.</summary>
    internal void Update(string tensor, ReadOnlySpan<float> values, bool startsBatch)
    {
        GridHistogram? h;
        lock (_hists)
            if (!_hists.TryGetValue(tensor, out h)) _hists[tensor] = h = new GridHistogram(Absolute, BinsPerSide);
        h.Add(values, startsBatch);
    }

    public void Merge(ICalibrator other)
    {
        if (other is not HistogramCalibrator o || o.GetType() != GetType() || o.Settings != Settings)
            throw new ArgumentException($"Only a {GetType().Name} with equal settings can be merged.", nameof(other));
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
        _hists[r.Tensor] = GridHistogram.FromData(r.Histogram, r.Min, r.Max, r.ElementCount, r.NonFiniteCount, r.BatchCount);
    }

    internal GridHistogram? GetHistogram(string tensor) => _hists.GetValueOrDefault(tensor);

    public IReadOnlyList<TensorRange> ComputeRanges()
    {
        var hists = _hists.OrderBy(kv => kv.Key, StringComparer.Ordinal).ToArray();
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
