namespace EvoQuant.Calibration;

/// <summary>What to do after a sample failed.</summary>
public enum SampleErrorAction
{
    Continue,
    Stop,
}

/// <summary>A sample that could not be used: unreadable (<see cref="Data.SampleFormatException"/>) or not
/// fitting the model (<see cref="SampleMismatchException"/>).</summary>
public sealed record SampleError(string Source, Exception Exception);

/// <summary>Everything <see cref="Calibrator.Run"/> needs besides the model and the samples.</summary>
public sealed record CalibrationOptions
{
    public CalibrationMethod Method { get; init; } = CalibrationMethod.MinMax;

    /// <summary>Also keep each channel's extremes of the inputs of MatMuls with a constant weight
    /// (<see cref="CalibrationTable.ChannelRanges"/>), for the static outlier split and smoothing, when the model
    /// has such MatMuls: one more float pass over the same samples, a pair of vectors per input in memory.</summary>
    public bool MeasureChannelRanges { get; init; } = true;

    /// <summary>Histogram bins (0: the method's default, Entropy 128, Percentile 2048).</summary>
    public int Bins { get; init; }

    public int QuantizedBins { get; init; } = 128;

    public double Percentile { get; init; } = 99.999;

    /// <summary>Symmetric ranges (±max |x|); null: the method's default, symmetric for Percentile (which
    /// keeps a percentile of |x|, as ONNX Runtime's tool does) and asymmetric for MinMax and Entropy.</summary>
    public bool? Symmetric { get; init; }

    public bool MovingAverage { get; init; }

    /// <summary>Rows per ONNX Runtime run when the model's batch axis is dynamic (samples are concatenated
    /// or split to this size); otherwise every sample runs alone.</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>Op types whose nodes are calibrated (wildcards); null or empty: those the quantizer quantizes
    /// by default. The tensors are the activations static quantization with the same op types and nodes
    /// quantizes (<see cref="Quantization.QuantizationPlanner.ActivationsToCalibrate"/>).</summary>
    public IReadOnlyList<string>? OpTypes { get; init; }

    /// <summary>The op quantizers whose plans decide the tensors (a registry with more ops calibrates them too).</summary>
    public Quantization.OpQuantizerRegistry Registry { get; init; } = Quantization.OpQuantizerRegistry.Default;

    /// <summary>Only nodes whose names match one of these (wildcards); null or empty: all.</summary>
    public IReadOnlyList<string>? IncludeNodes { get; init; }

    /// <summary>Nodes whose names match one of these (wildcards) are left out.</summary>
    public IReadOnlyList<string>? ExcludeNodes { get; init; }

    /// <summary>Memory budget for the activations one ONNX Runtime run returns (Entropy and Percentile fetch
    /// whole tensors; MinMax reduces in the graph and ignores it). Sizes are learned from one reduced run
    /// of the first batch; when the selected tensors of a batch exceed the budget, a batch with a dynamic
    /// batch axis is cut into sub-batches of rows that fit, each run once (same compute, same tables).
    /// When one row alone exceeds it, or the batch axis is static, the tensors are split into groups,
    /// each with its own augmented model, and every row (or batch) runs once per group: more compute,
    /// bounded memory. The process also holds the model, ONNX Runtime's working memory and allocator
    /// slack on top of it. Default 512 MiB; long.MaxValue: never split.</summary>
    public long MaxBatchOutputBytes { get; init; } = 512L << 20;

    /// <summary>Memory budget for the Entropy and Percentile histograms and their threshold searches, which
    /// grow with the bins (per tensor), not with the samples: bins that do not fit are reduced, never below
    /// the method's default (<see cref="HistogramMemoryPlan"/>). Default 512 MiB; Measure-Calibration's
    /// -MaxOutputMemory sets it too.</summary>
    public long MaxHistogramBytes { get; init; } = 512L << 20;

    /// <summary>Entropy: a tensor that only clamps or moves another calibrated tensor's values (Relu, ReLU6's
    /// Clip, Reshape, ...) takes its histogram from that tensor's, counted once for both; the tables are
    /// identical either way. Off only to measure or test the difference.</summary>
    internal bool ShareClampedHistograms { get; init; } = true;

    /// <summary>EQ and Auto: sample rows kept for the scale search or Auto's output check (null: <see cref="CalibrationSettings.DefaultSearchRows"/>).</summary>
    public int? SearchRows { get; init; }

    /// <summary>EQ: the method whose ranges the search starts from (null: MinMax).</summary>
    public CalibrationMethod? SearchBase { get; init; }

    /// <summary>EQ and Auto: the options the model will be quantized with (format, target, per channel...; their ranges
    /// are the search's): EQ's search and Auto's output check (<see cref="AutoModelCheck"/>) score the model they give. Null: the static defaults of the host target,
    /// as Invoke-Quantization quantizes by default.</summary>
    public Quantization.QuantizationOptions? SearchQuantization { get; init; }

    /// <summary>ONNX Runtime intra-op threads (0: its default).</summary>
    public int IntraOpThreads { get; init; }

    /// <summary>Called for each sample that cannot be used. Null: the first such error is thrown.</summary>
    public Func<SampleError, SampleErrorAction>? OnSampleError { get; init; }

    /// <summary>The parameters that decide the ranges (stored in the table).</summary>
    public CalibrationSettings ToSettings() => new()
    {
        Method = Method, Bins = Bins, QuantizedBins = QuantizedBins, Percentile = Percentile,
        Symmetric = Symmetric ?? Method == CalibrationMethod.Percentile, MovingAverage = MovingAverage,
        SearchRows = Method is CalibrationMethod.EQ or CalibrationMethod.Auto ? SearchRows : null,
        SearchBase = Method == CalibrationMethod.EQ ? SearchBase : null,
    };
}
