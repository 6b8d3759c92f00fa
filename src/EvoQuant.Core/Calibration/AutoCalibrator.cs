namespace EvoQuant.Calibration;

/// <summary>Chooses each tensor's method: one pass collects what MinMax, Entropy and Percentile need (their
/// own histograms, at their own default settings, so each proposes exactly the range it would alone) plus a
/// fine signed histogram; each proposal is then scored by the error it causes on the tensor's values
/// (<see cref="RangeError"/>: rounding and clipping), and the least wins, earlier methods on ties. A method
/// that collapses a tensor (Percentile's symmetric range on a ReLU output halves its resolution; a hard
/// clip of large values) scores high there, so it is not chosen. Memory is three histograms per tensor,
/// independent of the number of samples.</summary>
/// <remarks>The score is the tensor's own error in uint8: it does not know the format's activation type nor
/// how the consumers weigh the error; <see cref="CalibrationRun"/> follows it with <see cref="AutoModelCheck"/>, which
/// scores the whole model's outputs. A table cannot be merged or continued (its rows keep one histogram).</remarks>
public sealed class AutoCalibrator : ICalibrator
{
    private readonly FullRangeCalibrator _full;
    private readonly EntropyCalibrator _entropy;
    private readonly PercentileCalibrator _percentile;

    public CalibrationSettings Settings { get; }

    public AutoCalibrator(CalibrationSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (settings.Method != CalibrationMethod.Auto) throw new ArgumentException("AutoCalibrator needs Method = Auto.", nameof(settings));
        settings.Validate();
        Settings = settings;
        _full = new FullRangeCalibrator(settings.Symmetric);
        _entropy = new EntropyCalibrator(new CalibrationSettings
        {
            Method = CalibrationMethod.Entropy, QuantizedBins = settings.QuantizedBins, Symmetric = settings.Symmetric,
        });
        // Percentile keeps a percentile of |x|: symmetric, as the method is by default.
        _percentile = new PercentileCalibrator(new CalibrationSettings
        {
            Method = CalibrationMethod.Percentile, Percentile = settings.Percentile, Symmetric = true,
        });
    }

    public CalibrationInput Input => CalibrationInput.Values;

    public bool TakesPartialBatches => true;

    public bool UpdatesConcurrently => true;

    public void Update(string tensor, ReadOnlySpan<float> values) => Update(tensor, values, startsBatch: true);

    public void Update(string tensor, ReadOnlySpan<float> values, bool startsBatch)
    {
        _full.Update(tensor, values, startsBatch);
        _entropy.Update(tensor, values, startsBatch);
        _percentile.Update(tensor, values, startsBatch);
    }

    public void Merge(ICalibrator other)
    {
        if (other is not AutoCalibrator o || o.Settings != Settings)
            throw new ArgumentException("Only an Auto calibrator with equal settings can be merged.", nameof(other));
        _full.Merge(o._full);
        _entropy.Merge(o._entropy);
        _percentile.Merge(o._percentile);
    }

    void ICalibrator.Load(TensorRange row) =>
        throw new ArgumentException($"An Auto table cannot be merged or continued: its row of '{row.Tensor}' keeps one histogram, the choice needs each method's.");

    public IReadOnlyList<TensorRange> ComputeRanges()
    {
        var entropy = _entropy.ComputeRanges().ToDictionary(r => r.Tensor, StringComparer.Ordinal);
        var percentile = _percentile.ComputeRanges().ToDictionary(r => r.Tensor, StringComparer.Ordinal);
        var list = new List<TensorRange>();
        foreach (var full in _full.ComputeRanges())
        {
            var candidates = new List<MethodCandidate> { Score(CalibrationMethod.MinMax, full, full) };
            if (entropy.TryGetValue(full.Tensor, out var e)) candidates.Add(Score(CalibrationMethod.Entropy, e, full));
            if (percentile.TryGetValue(full.Tensor, out var p)) candidates.Add(Score(CalibrationMethod.Percentile, p, full));
            var chosen = Choose(candidates);
            list.Add(new TensorRange(full.Tensor, chosen.Method, full.Min, full.Max, chosen.RangeMin, chosen.RangeMax)
            {
                ElementCount = full.ElementCount, BatchCount = full.BatchCount, NonFiniteCount = full.NonFiniteCount,
                Histogram = full.Histogram, Candidates = candidates,
            });
        }
        return list;
    }

    /// <summary>The candidate of least error; the first of equals (MinMax, then Entropy, then Percentile).</summary>
    public static MethodCandidate Choose(IReadOnlyList<MethodCandidate> candidates)
    {
        ArgumentOutOfRangeException.ThrowIfZero(candidates.Count);
        var best = candidates[0];
        foreach (var c in candidates)
            if (c.Mse < best.Mse) best = c;
        return best;
    }

    private static MethodCandidate Score(CalibrationMethod method, TensorRange proposal, TensorRange full) =>
        new(method, proposal.RangeMin, proposal.RangeMax,
            full.Histogram == null ? 0 : RangeError.Mse(full.Histogram, proposal.RangeMin, proposal.RangeMax));

    /// <summary>A fine signed histogram whose range is everything seen: MinMax's proposal and the values the
    /// proposals are scored on.</summary>
    private sealed class FullRangeCalibrator : HistogramCalibrator
    {
        public FullRangeCalibrator(bool symmetric)
            : base(new CalibrationSettings { Method = CalibrationMethod.Entropy, Bins = 2048, Symmetric = symmetric }, CalibrationMethod.Entropy) { }

        private protected override bool Absolute => false;

        private protected override int BinsPerSide => Settings.EffectiveBins;

        private protected override (double Lo, double Hi) Threshold(GridHistogram h) => (double.NegativeInfinity, double.PositiveInfinity);
    }
}
