using EvoQuant.Onnx.Proto;

namespace EvoQuant.Quantization.Operators;

/// <summary>Add, Mul, Concat, GlobalAveragePool, Sigmoid, ... and the fallback for op types the user
/// names but no class knows: every float input and output becomes an activation with its own range
/// (constant inputs are quantized per tensor with the activation type), as the reference tool's
/// QDQOperatorBase does.</summary>
public sealed class GenericOpQuantizer : IOpQuantizer
{
    private readonly int[]? _inputs;

    /// <param name="inputs">Indices of the inputs to quantize; null for all float inputs.</param>
    public GenericOpQuantizer(params int[]? inputs) => _inputs = inputs is { Length: > 0 } ? inputs : null;

    public string? TryDeclare(NodeProto node, QuantizationContext ctx, QuantizationPlan plan)
    {
        var indices = _inputs ?? Enumerable.Range(0, node.Input.Count).ToArray();
        var floats = indices.Where(i => i < node.Input.Count && ctx.IsFloat(node.Input[i])).Select(i => node.Input[i]).ToList();
        if (floats.Count == 0)
            return $"none of its inputs is float32 ({string.Join(", ", node.Input.Where(i => i.Length > 0).Select(i => $"'{i}' {WeightedOpQuantizer.TypeName(ctx, i)}"))}).";
        foreach (var t in floats) plan.AddActivation(t);
        foreach (var o in node.Output)
            if (o.Length > 0 && ctx.IsFloat(o)) plan.AddActivation(o);
        return null;
    }
}
