using EvoQuant.Numerics;
using EvoQuant.Quantization;

namespace EvoQuant.Targets;

/// <summary>
/// What a target CPU means for quantization: the defaults a user did not set and how weights avoid
/// saturation. One place for this policy; the cmdlets and the rewriters ask it.
/// </summary>
/// <remarks>Measured on ONNX Runtime 1.31 (docs/benchmarks.md): on x86-64 the fast integer path is
/// uint8 activations x int8 weights; int8 activations ran no faster than float on a VNNI CPU and 0.2x on
/// AVX2 (QOperator). Without VNNI the u8 x s8 kernels add pairs of products into saturating 16-bit sums,
/// so full-range 8-bit weights lose accuracy there (fashion-cnn output SQNR 15-18 dB).</remarks>
public sealed record TargetProfile(QuantTarget Requested, QuantTarget Resolved, HostCpu? Host)
{
    /// <summary>Resolves <see cref="QuantTarget.Host"/> to the kind of the CPU this runs on.</summary>
    public static TargetProfile Resolve(QuantTarget target)
    {
        if (target != QuantTarget.Host) return new TargetProfile(target, target, null);
        var cpu = HostCpu.Current;
        var kind = cpu.Architecture switch
        {
            "X64" => cpu.HasInt8DotProduct ? QuantTarget.X64Vnni : QuantTarget.X64Avx2,
            "Arm64" => QuantTarget.Arm64,
            _ => QuantTarget.Portable,
        };
        return new TargetProfile(target, kind, cpu);
    }

    /// <summary>True where 8-bit products are added in pairs into 16 bits (x86 without VNNI), or where
    /// the model may meet such a CPU (Portable).</summary>
    public bool PairsCanSaturate => Resolved is QuantTarget.X64Avx2 or QuantTarget.Portable;

    /// <summary>Activation type of the fast integer path: uint8 on x86 (u8s8 kernels), int8 on Arm64.</summary>
    public QuantType ActivationType => Resolved == QuantTarget.Arm64 ? QuantType.Int8 : QuantType.UInt8;

    /// <summary>Static defaults for this target (everything a user did not set). A transformer's first
    /// feed-forward down projection stays float (<see cref="QuantizationOptions.KeepFirstDownProjectionFloat"/>):
    /// its input's outliers are in the activations, not the CPU's doing, so on every target. BatchNormalization
    /// is folded into its Conv first, as ONNX Runtime runs the float model: unfolded, a Q/DQ pair keeps each
    /// normalization in float behind an integer Conv (PaddleOCR's classifier: 0.61x float speed, 1.0x folded).
    /// Where per-channel ranges of the MatMul inputs were measured (fill <see cref="QuantizationOptions.OutlierSplit"/>'s
    /// ChannelRanges), their few outlier channels are computed in float (<see cref="Quantization.Smoothing.OutlierChannelSplit"/>),
    /// and a split first down projection is quantized: all-MiniLM-L6-v2, 2000 sentences (docs/benchmarks.md).</summary>
    public QuantizationOptions StaticDefaults() => new()
    {
        Target = Requested,
        ActivationType = ActivationType,
        WeightType = QuantType.Int8,
        KeepFirstDownProjectionFloat = true,
        OutlierSplit = new Quantization.Smoothing.OutlierSplitOptions(),
        FoldBatchNormalization = true,
    };

    /// <summary>Dynamic defaults: DynamicQuantizeLinear always gives uint8 activations; weights per channel
    /// where their values say it pays (<see cref="ChannelGranularity"/>): ONNX Runtime's integer MatMuls take
    /// per-column scales at no cost, and transformers' weights need them on every CPU. A transformer's first
    /// feed-forward down projection stays float, as in the static defaults.</summary>
    public QuantizationOptions DynamicDefaults() => QuantizationOptions.Dynamic() with
    {
        Target = Requested,
        PerChannelWhereItPays = true,
        KeepFirstDownProjectionFloat = true,
    };

    /// <summary>Why dynamic quantization of this op type would make the model slower than float on
    /// ONNX Runtime's CPU provider, or null when it pays. Naming the op type in OpTypes overrides it.</summary>
    /// <remarks>ConvInteger runs on a generic path on every CPU: fashion-cnn ran 6-13x slower than float
    /// (ORT 1.31.1, x86).</remarks>
    public static string? SlowerThanFloatWhenDynamic(string opType, QuantizationOptions options)
    {
        if (opType != "Conv" || options.OpTypes.Contains("Conv", StringComparer.OrdinalIgnoreCase)) return null;
        return "ConvInteger runs slower than float Conv on ONNX Runtime's CPU provider (6-13x on fashion-cnn); name Conv in OpTypes to quantize it anyway.";
    }

    /// <summary>The guard the weights of <paramref name="options"/> get: an explicit ReduceRange or
    /// WeightSaturation wins; else pair-safe scales where pairs can saturate and the kernels multiply
    /// 8-bit activations by int8 weights.</summary>
    public SaturationGuard GuardFor(QuantizationOptions options)
    {
        if (options.ReduceRange) return SaturationGuard.ReduceRange;
        if (options.WeightSaturation is SaturationGuard g) return g;
        bool eightBit = options.ActivationType is QuantType.UInt8 or QuantType.Int8 && options.WeightType == QuantType.Int8;
        return PairsCanSaturate && eightBit ? SaturationGuard.PairSafe : SaturationGuard.None;
    }

    /// <summary>For example "X64Avx2 (host: AMD EPYC, AVX2)".</summary>
    public override string ToString() =>
        Host != null ? $"{Resolved} (host: {Host.Model}{(Host.Int8InstructionSets.Count > 0 ? ", " + string.Join(", ", Host.Int8InstructionSets) : "")})" : Resolved.ToString();

    /// <summary>The choices this target made for <paramref name="options"/>, in words, for -Verbose,
    /// the result object and its view.</summary>
    public IReadOnlyList<string> Describe(QuantizationOptions options, int pairSafeTensors, int weightTensors)
    {
        var lines = new List<string> { $"target {this}" };
        string act = options.Mode == QuantMode.Dynamic ? "UInt8 (computed at run time)" : options.ActivationType.ToString();
        lines.Add($"activations {act}, weights {options.WeightType}");
        switch (GuardFor(options))
        {
            case SaturationGuard.PairSafe:
                lines.Add($"weights pair-safe: {pairSafeTensors} of {weightTensors} weight tensors adjusted so that no pair of 8-bit products can saturate a 16-bit sum");
                break;
            case SaturationGuard.ReduceRange:
                lines.Add("weights 7-bit (reduce range)");
                break;
            default:
                if (PairsCanSaturate && options.WeightType == QuantType.Int8)
                    lines.Add("weights full 8-bit: pairs of products may saturate on this target");
                break;
        }
        return lines;
    }
}
