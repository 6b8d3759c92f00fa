using EvoQuant.Calibration;
using EvoQuant.Onnx;

namespace EvoQuant.Quantization.Smoothing;

/// <summary>Streams calibration samples through the float model and keeps, per activation tensor that
/// smoothing may rescale (<see cref="ActivationSmoothing.Candidates"/>), each channel's minimum and maximum:
/// one pair of vectors per tensor whatever the number of samples, fed through the same
/// <see cref="SampleFeed"/> and <see cref="CalibrationSession"/> calibration uses.</summary>
public sealed class ChannelRangeCollector : IDisposable
{
    private readonly Dictionary<string, ChannelRange> _ranges = new(StringComparer.Ordinal);
    private readonly TensorStatisticsRun _run;

    /// <param name="tensors">Activation tensor name to its channel count (the last axis).</param>
    public ChannelRangeCollector(OnnxModel model, IReadOnlyDictionary<string, int> tensors, CalibrationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(tensors);
        if (tensors.Count == 0) throw new InvalidOperationException($"'{model.Name}' has no MatMul with a constant 2-D float weight whose input smoothing could rescale.");
        foreach (var (name, channels) in tensors) _ranges[name] = new ChannelRange(channels);
        _run = new TensorStatisticsRun(model, _ranges.Keys, new ChannelRangeCalibrator(_ranges), options ?? new CalibrationOptions(), "to measure channel ranges", cancellationToken);
    }

    public long SamplesDone => _run.SamplesDone;

    /// <summary>The tensors whose channels are measured.</summary>
    public int Tensors => _ranges.Count;
    public int Errors => _run.Errors;

    /// <summary>Reads one item and runs every full batch it completes; false once a sample error asked to stop.</summary>
    public bool Add(object item) => _run.Add(item);

    /// <summary>Runs the last partial batch; the ranges of tensors that saw rows, by name.</summary>
    public IReadOnlyDictionary<string, ChannelRange> Complete()
    {
        _run.Complete();
        return _ranges.Where(kv => kv.Value.Rows > 0).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
    }

    /// <summary>The channel ranges of every tensor smoothing may rescale in <paramref name="model"/>, over all items.</summary>
    public static IReadOnlyDictionary<string, ChannelRange> Collect(OnnxModel model, IEnumerable<object> items, CalibrationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(items);
        using var collector = new ChannelRangeCollector(model, ActivationSmoothing.Candidates(model), options, cancellationToken);
        foreach (var item in items)
            if (!collector.Add(item)) break;
        return collector.Complete();
    }

    public void Dispose() => _run.Dispose();

    // Per-channel extremes: cutting a batch anywhere gives the same extremes; tensors are independent.
    private sealed class ChannelRangeCalibrator(IReadOnlyDictionary<string, ChannelRange> ranges) : ICalibrator
    {
        public CalibrationSettings Settings { get; } = new();
        public bool TakesPartialBatches => true;
        public bool UpdatesConcurrently => true;

        public void Update(string tensor, ReadOnlySpan<float> values) => Update(tensor, values, startsBatch: true);

        public void Update(string tensor, ReadOnlySpan<float> values, bool startsBatch)
        {
            if (ranges.TryGetValue(tensor, out var r) && !values.IsEmpty) r.Accumulate(values);
        }

        public void Merge(ICalibrator other)
        {
            if (other is not ChannelRangeCalibrator o) throw new ArgumentException("Only channel ranges merge with channel ranges.", nameof(other));
            foreach (var (t, r) in o.Ranges)
                if (ranges.TryGetValue(t, out var mine)) mine.Add(r);
        }

        private IReadOnlyDictionary<string, ChannelRange> Ranges => ranges;

        public IReadOnlyList<TensorRange> ComputeRanges() => Array.Empty<TensorRange>();
    }
}
