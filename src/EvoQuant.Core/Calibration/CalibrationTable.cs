namespace EvoQuant.Calibration;

/// <summary>The result of calibration: one immutable <see cref="TensorRange"/> per tensor, the settings
/// that produced them, and the tensors left out. Tables measured on shards of data merge into the table
/// of all the data (<see cref="Merge(CalibrationTable, CalibrationTable)"/>), save to JSON, and export to TensorRT's calibration cache.</summary>
public sealed partial class CalibrationTable
{
    private readonly Dictionary<string, TensorRange> _byName;

    public CalibrationSettings Settings { get; }

    /// <summary>Ranges ordered by tensor name.</summary>
    public IReadOnlyList<TensorRange> Ranges { get; }

    public IReadOnlyList<SkippedTensor> Skipped { get; }

    /// <summary>Rows (along the batch axis) that went through the model.</summary>
    public long SampleCount { get; init; }

    /// <summary>Samples that could not be used.</summary>
    public int ErrorCount { get; init; }

    /// <summary>Name of the calibrated model (informational).</summary>
    public string? ModelName { get; init; }

    /// <summary>The model that was calibrated, when the table was measured in this process (not saved in
    /// files). It lets a pipeline hand the model on: Measure-Calibration | Invoke-Quantization.</summary>
    public Onnx.OnnxModel? Model { get; init; }

    public CalibrationTable(CalibrationSettings settings, IEnumerable<TensorRange> ranges, IEnumerable<SkippedTensor>? skipped = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(ranges);
        Settings = settings;
        Ranges = ranges.OrderBy(r => r.Tensor, StringComparer.Ordinal).ToList();
        _byName = new Dictionary<string, TensorRange>(StringComparer.Ordinal);
        foreach (var r in Ranges)
            if (!_byName.TryAdd(r.Tensor, r)) throw new ArgumentException($"Tensor '{r.Tensor}' appears twice in the table.");
        Skipped = (skipped ?? Array.Empty<SkippedTensor>()).ToList();
    }

    public int Count => Ranges.Count;

    /// <summary>Each channel's extremes (last axis) of the inputs of MatMuls with a constant weight, by tensor:
    /// what the static outlier split reads (<see cref="Quantization.QuantizationOptions.WithChannelRanges"/>);
    /// empty when the model has no such MatMul or they were not measured (<see cref="CalibrationOptions.MeasureChannelRanges"/>).</summary>
    public IReadOnlyDictionary<string, Quantization.Smoothing.ChannelRange> ChannelRanges { get; init; } =
        new Dictionary<string, Quantization.Smoothing.ChannelRange>(StringComparer.Ordinal);

    /// <summary>EQ: the factor each searched weight's scales are multiplied by (<see cref="ScaleSearch.Weights"/>, the
    /// ones that moved off 1); empty for the other methods. <see cref="Quantization.QuantizationOptions.WithCalibration"/>
    /// gives them to the quantizer.</summary>
    public IReadOnlyDictionary<string, float> WeightScaleFactors =>
        Ranges.Where(r => r.Search != null).SelectMany(r => r.Search!.Weights).Where(w => w.Factor != 1f)
            .GroupBy(w => w.Weight, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First().Factor, StringComparer.Ordinal);

    /// <summary>The range of a tensor, or null.</summary>
    public TensorRange? this[string tensor] => _byName.GetValueOrDefault(tensor);

    public bool TryGetRange(string tensor, out TensorRange range)
    {
        bool ok = _byName.TryGetValue(tensor, out var r);
        range = r!;
        return ok;
    }

    /// <summary>Combines tables measured on different samples of the same model with equal settings into
    /// the table of all their samples, <paramref name="a"/>'s first. Rows carry their statistics, so this
    /// is exact for MinMax; histograms add up exactly on the coarser of their two grids, which is the whole
    /// stream's table when <paramref name="b"/>'s first batch did not set a wider grid than <paramref name="a"/>'s
    /// (a grid is set by its first batch, see <see cref="HistogramData"/>). To continue a table's grid
    /// exactly whatever the data, measure the next samples with <see cref="CalibrationRun.ContinueFrom"/>.</summary>
    public static CalibrationTable Merge(CalibrationTable a, CalibrationTable b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a.Settings != b.Settings)
            throw new ArgumentException($"Tables calibrated with different settings cannot be merged: {a.Settings} vs {b.Settings}.");
        var merged = Calibrator.Create(a.Settings);
        merged.Merge(ToCalibrator(a));
        merged.Merge(ToCalibrator(b));
        var ranges = merged.ComputeRanges();
        return new CalibrationTable(a.Settings, ranges, StillSkipped(a.Skipped.Concat(b.Skipped), ranges))
        {
            SampleCount = a.SampleCount + b.SampleCount,
            ErrorCount = a.ErrorCount + b.ErrorCount,
            ModelName = a.ModelName ?? b.ModelName,
            ChannelRanges = MergeChannelRanges(a.ChannelRanges, b.ChannelRanges),
        };
    }

    /// <summary>The channel ranges of two shards' tables, for the tensors both measured: a tensor only one of them
    /// measured has no range over all the samples, so it is left out rather than understated.</summary>
    internal static IReadOnlyDictionary<string, Quantization.Smoothing.ChannelRange> MergeChannelRanges(
        IReadOnlyDictionary<string, Quantization.Smoothing.ChannelRange> a, IReadOnlyDictionary<string, Quantization.Smoothing.ChannelRange> b)
    {
        var merged = new Dictionary<string, Quantization.Smoothing.ChannelRange>(StringComparer.Ordinal);
        foreach (var (tensor, range) in a)
            if (b.TryGetValue(tensor, out var other) && other.Channels == range.Channels)
            {
                var sum = range.Clone();
                sum.Add(other);
                merged[tensor] = sum;
            }
        return merged;
    }

    /// <summary>Merges any number of tables (see <see cref="Merge(CalibrationTable, CalibrationTable)"/>).</summary>
    public static CalibrationTable Merge(IEnumerable<CalibrationTable> tables)
    {
        CalibrationTable? acc = null;
        foreach (var t in tables) acc = acc == null ? t : Merge(acc, t);
        return acc ?? throw new ArgumentException("No tables to merge.");
    }

    /// <summary>The skipped tensors that no range calibrates after all, one reason per tensor (the first).</summary>
    internal static List<SkippedTensor> StillSkipped(IEnumerable<SkippedTensor> skipped, IEnumerable<TensorRange> ranges)
    {
        var names = ranges.Select(r => r.Tensor).ToHashSet(StringComparer.Ordinal);
        return skipped.Where(s => !names.Contains(s.Tensor)).GroupBy(s => s.Tensor, StringComparer.Ordinal).Select(g => g.First()).ToList();
    }

    /// <summary>A calibrator holding the table's statistics, as if it had measured its samples.</summary>
    internal static ICalibrator ToCalibrator(CalibrationTable t)
    {
        var c = Calibrator.Create(t.Settings);
        foreach (var r in t.Ranges) c.Load(r);
        return c;
    }

    /// <summary>Rows whose chosen range keeps less than 1/<paramref name="factor"/> of the largest |x| the
    /// tensor produced, largest cut first. Entropy's KL search does this to skewed activations (ReLU outputs
    /// dominated by near-zero values): with 2048 bins it cut PaddleOCR det's ReLU outputs 9-16x and the
    /// model's output fell from 9.7 to 0.6 dB; on fashion-cnn no cut passes 2.7x.</summary>
    public IReadOnlyList<TensorRange> HardCuts(double factor = 8)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(factor, 1);
        return Ranges
            .Select(r => (Row: r, Seen: Math.Max(Math.Abs(r.Min), Math.Abs(r.Max))))
            .Where(x => float.IsFinite(x.Seen) && x.Seen > 0 && x.Row.AbsMax * factor < x.Seen)
            .OrderBy(x => x.Row.AbsMax / x.Seen)
            .Select(x => x.Row)
            .ToList();
    }

    public override string ToString() => $"{Settings.Method} calibration of {Count} tensors over {SampleCount} samples";
}
