using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;

namespace EvoQuant.Quantization.WeightOnly;

/// <summary>Which nodes weight-only quantization rewrites: those the selector passes whose declarer accepts them.
/// Shared by the rewrite and by <see cref="WeightOnlyPlanner"/>, so the statistics a method needs are asked for
/// exactly the nodes that will be quantized.</summary>
internal static class WeightOnlySelection
{
    public static List<(NodeProto Node, IWeightOnlyEmitter Emitter)> Select(IEnumerable<NodeProto> nodes, QuantizationContext context, NodeSelector selector,
        Action<NodeProto, string>? skip, CancellationToken ct = default)
    {
        var plan = new QuantizationPlan();
        var chosen = new List<(NodeProto, IWeightOnlyEmitter)>();
        foreach (var node in nodes)
        {
            ct.ThrowIfCancellationRequested();
            if (node.OpType == "Constant" && string.IsNullOrEmpty(node.Domain)) continue;
            var registration = selector.SelectRegistration(node, out string? reason);
            if (registration?.Emitter is not IWeightOnlyEmitter emitter)
            {
                skip?.Invoke(node, reason ?? "it has no weight-only form.");
                continue;
            }
            if (node.OpType == "Gather" && !context.Options.WeightOnly.QuantizeEmbeddings)
            {
                skip?.Invoke(node, "embeddings are not quantized (QuantizeEmbeddings is off).");
                continue;
            }
            reason = registration.Declarer.TryDeclare(node, context, plan);
            if (reason != null) skip?.Invoke(node, reason);
            else chosen.Add((node, emitter));
        }
        return chosen;
    }
}

/// <summary>One MatMul or Gemm input whose statistics a calibration-aware method needs: the activation tensor
/// (the key of <see cref="WeightOnlyOptions.InputStatistics"/>) and its width K.</summary>
public sealed record WeightOnlyInput(string Node, string OpType, string Activation, string Weight, int Channels);

/// <summary>What weight-only quantization will ask of calibration, before it runs.</summary>
public static class WeightOnlyPlanner
{
    /// <summary>The activation inputs of the MatMul and Gemm nodes the options quantize, once per tensor (nodes
    /// that read the same input share its statistics): what a statistics collector must accumulate.</summary>
    public static IReadOnlyList<WeightOnlyInput> InputsNeedingStatistics(OnnxModel model, QuantizationOptions options, OpQuantizerRegistry? registry = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        var context = new QuantizationContext(model, options);
        var chosen = WeightOnlySelection.Select(model.Proto.Graph.Node, context, new NodeSelector(options, registry ?? OpQuantizerRegistry.Default), null);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var result = new List<WeightOnlyInput>();
        foreach (var (node, _) in chosen)
        {
            if (node.OpType == "Gather" || !seen.Add(node.Input[0])) continue;
            var dims = context.Constant(node.Input[1])!.Dims;
            bool transB = node.OpType == "Gemm" && QuantizationContext.IntAttribute(node, "transB", 0) != 0;
            result.Add(new WeightOnlyInput(QuantizationPlanner.DisplayName(node), node.OpType, node.Input[0], node.Input[1], (int)(transB ? dims[1] : dims[0])));
        }
        return result;
    }
}
