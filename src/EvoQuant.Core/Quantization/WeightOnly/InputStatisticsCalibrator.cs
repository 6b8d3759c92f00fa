using EvoQuant.Calibration;
using EvoQuant.Data;

namespace EvoQuant.Quantization.WeightOnly;

/// <summary>Feeds the values the calibration session fetches into one <see cref="InputStatistics"/> per
/// tensor, so collecting them rides on the same session as calibration (augmented model, output budget,
/// sub-batches). A tensor's values arrive flattened ([rows, K], or [B, S, K] as B·S rows: the last axis is
/// K). With a <see cref="PaddingMask"/>, a tensor with one row per position ([B, S, K]) adds only the rows of
/// tokens. It yields statistics, not ranges: <see cref="ComputeRanges"/> is empty.</summary>
internal sealed class InputStatisticsCalibrator : ICalibrator
{
    private readonly IReadOnlyDictionary<string, InputStatistics> _statistics;
    private readonly PaddingMask? _mask;

    // The current part's token positions (null: all are tokens) and its number of positions; set by
    // BeginPart before the part's values arrive, read by the concurrent updates.
    private int[]? _tokens;
    private long _positions;

    public InputStatisticsCalibrator(IReadOnlyDictionary<string, InputStatistics> statistics, PaddingMask? mask = null)
    {
        _statistics = statistics;
        _mask = mask;
    }

    /// <summary>Positions left out as padding, over all parts so far.</summary>
    public long PaddedPositions { get; private set; }

    void ICalibrator.BeginPart(IReadOnlyDictionary<string, NamedTensor> inputs, bool startsBatch)
    {
        if (_mask == null) return;
        (_tokens, _positions) = _mask.TokenPositions(inputs);
        if (_tokens != null && startsBatch) PaddedPositions += _positions - _tokens.Length;
    }

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
        int rows = values.Length / s.Channels;
        var tokens = _tokens;
        // A tensor with a row per position adds only the tokens' rows, read where they are.
        s.Accumulate(values, rows, tokens != null && rows == _positions ? tokens : null);
    }

    public void Merge(ICalibrator other)
    {
        if (other is not InputStatisticsCalibrator o) throw new ArgumentException("Only input statistics merge with input statistics.", nameof(other));
        foreach (var (t, s) in o._statistics)
            if (_statistics.TryGetValue(t, out var mine)) mine.Add(s);
        PaddedPositions += o.PaddedPositions;
    }

    public IReadOnlyList<TensorRange> ComputeRanges() => Array.Empty<TensorRange>();
}
