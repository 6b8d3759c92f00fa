using EvoQuant.Numerics;
using EvoQuant.Onnx;

namespace EvoQuant.Quantization;

/// <summary>A node that was quantized.</summary>
public sealed record QuantizedNode(string Name, string OpType)
{
    public override string ToString() => $"{Name} ({OpType})";
}

/// <summary>A node left in float, and why.</summary>
public sealed record SkippedNode(string Name, string OpType, string Reason)
{
    public override string ToString() => $"{Name} ({OpType}): {Reason}";
}

/// <summary>The quantized model and what happened to each node.</summary>
public sealed class QuantizationResult
{
    /// <summary>The quantized model; once saved, the model as loaded from its file (so it has a path).</summary>
    public required OnnxModel Model { get; set; }

    /// <summary>The float model this result was quantized from: the reference a comparison needs.</summary>
    public OnnxModel? SourceModel { get; init; }
    public required QuantFormat Format { get; init; }
    public required QuantMode Mode { get; init; }
    public required QuantType ActivationType { get; init; }
    public required QuantType WeightType { get; init; }
    public required bool PerChannel { get; init; }
    public required IReadOnlyList<QuantizedNode> QuantizedNodes { get; init; }
    public required IReadOnlyList<SkippedNode> Skipped { get; init; }
    /// <summary>What the user should know; a check of the written file (<see cref="QuantizationResultFile.Save"/>) may add to it.</summary>
    public required IReadOnlyList<string> Warnings { get; set; }
    /// <summary>The CPU the model was made for, resolved (Host becomes the kind of this machine's CPU).</summary>
    public Targets.TargetProfile? Target { get; init; }

    /// <summary>What the target decided, in words: types, how weights avoid saturation, the nodes kept float
    /// because they run slower quantized on it (<see cref="QuantizationOptions.KeepSlowNodesFloat"/> adds its summary).</summary>
    public IReadOnlyList<string> TargetDecisions { get; set; } = Array.Empty<string>();

    /// <summary>What the rewrite did, node by node and tensor by tensor: what the evaluation reads.</summary>
    public Provenance.QuantizationProvenance? Provenance { get; init; }

    /// <summary>Weight-only results: the ONNX form written, and each quantized weight with its error and sizes.</summary>
    public WeightOnly.WeightOnlyForm? WeightOnlyForm { get; init; }
    public IReadOnlyList<WeightOnly.WeightOnlyLayer> WeightOnlyLayers { get; init; } = Array.Empty<WeightOnly.WeightOnlyLayer>();

    /// <summary>Bytes of the weights weight-only quantization replaced (float) and of what replaced them (codes,
    /// scales, zero points); 0 for the other modes.</summary>
    public long QuantizedWeightBytesBefore => WeightOnlyLayers.Sum(l => l.BytesBefore);
    public long QuantizedWeightBytesAfter => WeightOnlyLayers.Sum(l => l.BytesAfter);

    public required long WeightBytesBefore { get; init; }
    public required long WeightBytesAfter { get; init; }

    public IReadOnlyDictionary<string, int> QuantizedByOpType =>
        QuantizedNodes.GroupBy(n => n.OpType, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);

    public double WeightRatio => WeightBytesAfter == 0 ? 0 : (double)WeightBytesBefore / WeightBytesAfter;

    // Filled by the caller once the model is saved.
    public string? Path { get; set; }
    public long FileSizeBefore { get; set; }
    public long FileSizeAfter { get; set; }
    public double SizeRatio => FileSizeAfter == 0 ? 0 : (double)FileSizeBefore / FileSizeAfter;
}
