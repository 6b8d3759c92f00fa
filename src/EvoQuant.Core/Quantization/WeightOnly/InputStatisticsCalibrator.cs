using EvoQuant.Calibration;

namespace EvoQuant.Quantization.WeightOnly;

/// <summary>Feeds the values the calibration session fetches into one <see cref="InputStatistics"/> per
/// tensor, so collecting them rides on the same session as calibration (augmented model, output budget,
/// sub-batches). A tensor's values arrive flattened ([rows, K], or [B, S, K] as B·S rows: the last axis is
/// K). It yields statistics, not ranges: <see cref="ComputeRanges"/> is empty.</summary>
internal sealed class InputStatisticsCalibrator : ICalibrator
{
    private readonly IReadOnlyDictionary<string, InputStatistics> _statistics;

    public InputStatisticsCalibrator(IReadOnlyDictionary<string, InputStatistics> statistics) => _statistics = statistics;

    public CalibrationSettings Settings { get; } = new();

    // The Gram is a sum over rows: cutting a batch anywhere gives the same sums.
    public bool TakesPartialBatches => true;

    // Each tensor has its own statistics, and the dictionary is never written.
    public bool UpdatesConcurrently => true;

    public void Update(string tensor, ReadOnlySpan<float> values) => Update(tensor, values, startsBatch: true);

    public void Update(string tensor, ReadOnlySpan<float> values, bool startsBatch)
    {
        if (!_statistics.TryGetValue(tensor, out var s) || values.IsEmpty) return;
        if (values.Length % s.Channels != 0)
            throw new InvalidOperationException($"'{tensor}' has {values.Length} values, not rows of {s.Channels} channels: its last axis is not the MatMul's K.");
        s.Accumulate(values, values.Length / s.Channels);
    }

    public void Merge(ICalibrator other)
    {
        if (other is not InputStatisticsCalibrator o) throw new ArgumentException("Only input statistics merge with input statistics.", nameof(other));
        foreach (var (t, s) in o._statistics)
            if (_statistics.TryGetValue(t, out var mine)) mine.Add(s);
    }

    public IReadOnlyList<TensorRange> ComputeRanges() => Array.Empty<TensorRange>();
}
