using EvoQuant.Numerics;
using EvoQuant.Targets;

namespace EvoQuant.Quantization;

/// <summary>What to quantize and how. Defaults follow ONNX Runtime's quantization tool: static QDQ with
/// int8 activations (asymmetric) and int8 weights (symmetric), per-tensor; see <see cref="Dynamic"/>
/// for the dynamic defaults.</summary>
public sealed record QuantizationOptions
{
    public QuantMode Mode { get; init; } = QuantMode.Static;

    /// <summary>Output format of static quantization. Dynamic quantization always writes integer operators.</summary>
    public QuantFormat Format { get; init; } = QuantFormat.QDQ;

    public QuantType ActivationType { get; init; } = QuantType.Int8;
    public QuantType WeightType { get; init; } = QuantType.Int8;

    /// <summary>One scale (and zero point) per output channel of each weight instead of one per tensor.</summary>
    public bool PerChannel { get; init; }

    /// <summary>Dynamic mode, with <see cref="PerChannel"/> off: still give a weight (MatMul and Gemm B, an
    /// embedding table) one scale per output channel (row of a table) where that cuts its rounding noise by
    /// <see cref="ChannelGranularity.MinimumGainDb"/> or more. The target's dynamic defaults turn it on; an
    /// explicit -PerChannel decides alone.</summary>
    public bool PerChannelWhereItPays { get; init; }

    /// <summary>Static and dynamic: keep the first feed-forward down projection of a transformer stack in
    /// float (<see cref="FeedForwardProjections.FirstOfStack"/>), whose input one 8-bit scale per
    /// tensor serves worst. The target's defaults turn it on; naming nodes in <see cref="IncludeNodes"/>
    /// quantizes the ones named.</summary>
    public bool KeepFirstDownProjectionFloat { get; init; }

    /// <summary>7-bit weights, for CPUs without VNNI where 8-bit products can overflow.</summary>
    public bool ReduceRange { get; init; }

    /// <summary>The CPU the model is for. It decides <see cref="WeightSaturation"/> when that is not set;
    /// <see cref="TargetProfile.StaticDefaults"/> gives its other defaults.</summary>
    public QuantTarget Target { get; init; } = QuantTarget.Host;

    /// <summary>How 8-bit weights avoid saturating 16-bit pair sums; null lets the target decide
    /// (<see cref="TargetProfile.GuardFor"/>). <see cref="ReduceRange"/> wins over it.</summary>
    public SaturationGuard? WeightSaturation { get; init; }

    public bool ActivationSymmetric { get; init; }
    public bool WeightSymmetric { get; init; } = true;

    /// <summary>How weight scales are searched and weights rounded (ADMM scales, stochastic rounding), in every mode.</summary>
    public WeightNumerics WeightNumerics { get; init; } = WeightNumerics.Default;

    /// <summary>Op types to quantize (case-insensitive); empty means every type the format supports.</summary>
    public IReadOnlyCollection<string> OpTypes { get; init; } = Array.Empty<string>();

    /// <summary>Node-name wildcard patterns (<c>*</c>, <c>?</c>, case-insensitive); when given, only matching nodes are quantized.</summary>
    public IReadOnlyCollection<string> IncludeNodes { get; init; } = Array.Empty<string>();

    /// <summary>Node-name wildcard patterns of nodes to keep in float; wins over <see cref="IncludeNodes"/>.</summary>
    public IReadOnlyCollection<string> ExcludeNodes { get; init; } = Array.Empty<string>();

    /// <summary>One Q/DQ pair per consumer instead of one shared pair per tensor (TensorRT wants this).</summary>
    public bool DedicatedQdqPair { get; init; }

    /// <summary>Tensor name to settings that replace the computed ones.</summary>
    public IReadOnlyDictionary<string, TensorOverride> TensorOverrides { get; init; } = new Dictionary<string, TensorOverride>();

    /// <summary>SmoothQuant-style migration of activation outliers into the MatMul weights before quantizing
    /// (static and dynamic); null: none. Static ranges of the tensors it rescales are derived from its channel ranges.</summary>
    public Smoothing.SmoothingOptions? Smoothing { get; init; }

    /// <summary>LLM.int8()-style outlier split before static QDQ quantizing: the few input channels of a
    /// MatMul whose calibrated |max| stands far above the others' are computed in float; null: none.</summary>
    public Smoothing.OutlierSplitOptions? OutlierSplit { get; init; }

    /// <summary>Outputs of nodes that stay float whatever else says (the outlier split's float part).</summary>
    internal IReadOnlySet<string> FloatOutputs { get; init; } = new HashSet<string>();

    /// <summary>Tensors only some readers see quantized, with those readers' outputs (the outlier split's inputs:
    /// their outlier channels clip in 8 bits); the others read the float tensor.</summary>
    internal IReadOnlyDictionary<string, IReadOnlySet<string>> QuantizedReaders { get; init; } = new Dictionary<string, IReadOnlySet<string>>();

    /// <summary>Calibrated ranges of activation tensors (static mode needs one per quantized activation).</summary>
    public IReadOnlyDictionary<string, ActivationRange> ActivationRanges { get; init; } = new Dictionary<string, ActivationRange>();

    /// <summary>Write QuantizeLinear/DequantizeLinear in ONNX Runtime's com.microsoft domain, which has
    /// axes and all integer types at any opset. Lets models older than opset 10 (13 for per channel) be
    /// quantized without converting them, at the price of running on ONNX Runtime only. 16- and 4-bit types
    /// before opset 21 use that domain anyway, as in the reference tool.</summary>
    public bool UseContribOps { get; init; }

    /// <summary>Static: fold each BatchNormalization into the Conv before it first, as ONNX Runtime does to
    /// the float model (a Q/DQ pair between them keeps the normalization in float, and slow). The target's
    /// static defaults turn it on: the PaddleOCR classifier went from 0.61x to 1.0x float speed on an AVX2 CPU,
    /// and the PaddleOCR detector's output SQNR rose by 3 dB and its text mask IoU from 88.5% to 93.2%
    /// (docs/benchmarks.md, "Folding Relu/Clip and BatchNormalization").</summary>
    public bool FoldBatchNormalization { get; init; }

    /// <summary>Static, on the host: profile the float and the quantized model node by node with ONNX Runtime on this
    /// machine (<see cref="SpeedAware"/>: batch sizes, runs, samples) and keep in float every node whose quantized form,
    /// the QuantizeLinear/DequantizeLinear it costs included, is slower than its float form at one batch size and no
    /// faster at the others; then quantize again (<see cref="Evaluation.SpeedAwareQuantizer"/>). The profile is of
    /// this CPU, so only for <see cref="QuantTarget.Host"/>.</summary>
    public bool KeepSlowNodesFloat { get; init; }

    /// <summary>How <see cref="KeepSlowNodesFloat"/> profiles and decides.</summary>
    public Evaluation.SpeedAwareOptions SpeedAware { get; init; } = new();

    /// <summary>Nodes of the float model kept in float by a measured decision, by their first output, each with the
    /// reason the result lists (what <see cref="KeepSlowNodesFloat"/> decided, or a previous run's decisions).</summary>
    public IReadOnlyDictionary<string, string> KeepFloat { get; init; } = new Dictionary<string, string>();

    /// <summary>Bits, blocks, method and form of <see cref="QuantMode.WeightOnly"/>; ignored by the other modes.</summary>
    public WeightOnly.WeightOnlyOptions WeightOnly { get; init; } = new();

    /// <summary>Load and run the produced model once in ONNX Runtime before returning it.</summary>
    public bool VerifyWithRuntime { get; init; } = true;

    /// <summary>With <see cref="VerifyWithRuntime"/>: the check runs on the written output instead, when
    /// <see cref="QuantizationResultFile.Save"/> is asked to verify (before the files are committed; a
    /// model ONNX Runtime rejects leaves nothing behind). The quantized weights in memory are let go first,
    /// so the check's session (mapping the written data) does not come on top of them.</summary>
    public bool VerifyWhenSaved { get; init; }

    /// <summary>Where the rewrite writes the output's large tensors as it makes them (see
    /// <see cref="Onnx.StreamedOutputData.For"/>, for the path the result will be saved to): memory then holds
    /// one tensor at a time instead of all the quantized weights, and the saved output is the same. Null:
    /// the weights stay in memory until the save. The caller disposes it after saving.</summary>
    public Onnx.StreamedOutputData? StreamedData { get; init; }

    /// <summary>Static-mode defaults with the given calibrated ranges.</summary>
    public static QuantizationOptions Static(IReadOnlyDictionary<string, ActivationRange> ranges) => new() { ActivationRanges = ranges };

    /// <summary>Static-mode defaults with the chosen ranges (RangeMin/RangeMax) of a calibration table, and its
    /// weight-scale factors (EQ's).</summary>
    public static QuantizationOptions Static(EvoQuant.Calibration.CalibrationTable table) => new QuantizationOptions().WithCalibration(table);

    /// <summary>These options with a calibration table's chosen ranges and, from an EQ table, its searched
    /// weight-scale factors (<see cref="WithWeightScaleFactors"/>).</summary>
    public QuantizationOptions WithCalibration(EvoQuant.Calibration.CalibrationTable table) =>
        (this with { ActivationRanges = RangesOf(table) }).WithWeightScaleFactors(table.WeightScaleFactors).WithChannelRanges(table.ChannelRanges);

    /// <summary>These options with the MatMul inputs' per-channel ranges handed to the outlier split when it is
    /// on; unchanged when it is off or <paramref name="ranges"/> is empty.</summary>
    public QuantizationOptions WithChannelRanges(IReadOnlyDictionary<string, Smoothing.ChannelRange> ranges) =>
        OutlierSplit is { } split && ranges.Count > 0 ? this with { OutlierSplit = split with { ChannelRanges = ranges } } : this;

    /// <summary>These options with each weight's scales multiplied by its factor (<see cref="TensorOverride.ScaleFactor"/>);
    /// a weight that already has an override keeps it as it is (the user's settings win over a search's).</summary>
    public QuantizationOptions WithWeightScaleFactors(IReadOnlyDictionary<string, float> factors)
    {
        if (factors.Count == 0) return this;
        var overrides = new Dictionary<string, TensorOverride>(TensorOverrides, StringComparer.Ordinal);
        foreach (var (weight, factor) in factors) overrides.TryAdd(weight, new TensorOverride { ScaleFactor = factor });
        return this with { TensorOverrides = overrides };
    }

    /// <summary>The chosen range of every tensor of a calibration table.</summary>
    public static IReadOnlyDictionary<string, ActivationRange> RangesOf(EvoQuant.Calibration.CalibrationTable table) =>
        table.Ranges.ToDictionary(r => r.Tensor, r => new ActivationRange(r.RangeMin, r.RangeMax), StringComparer.Ordinal);

    /// <summary>Weight-only quantization with <paramref name="weightOnly"/> (4-bit blocks of 32, symmetric, round-to-nearest by default).</summary>
    public static QuantizationOptions ForWeightOnly(WeightOnly.WeightOnlyOptions? weightOnly = null) => new()
    {
        Mode = QuantMode.WeightOnly,
        WeightOnly = weightOnly ?? new(),
    };

    /// <summary>Dynamic-mode defaults of the reference tool: uint8 activations, int8 weights, integer operators.</summary>
    public static QuantizationOptions Dynamic() => new()
    {
        Mode = QuantMode.Dynamic,
        Format = QuantFormat.QOperator,
        ActivationType = QuantType.UInt8,
        WeightType = QuantType.Int8,
    };
}
