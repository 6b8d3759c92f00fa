using EvoQuant.Onnx.Proto;

namespace EvoQuant.Quantization.Operators;

/// <summary>Gather from a constant table (a transformer's word, position and token-type embeddings): the
/// table is a weight quantized offline, the indices stay integers, and only the gathered rows are
/// dequantized at run time. The emitter checks the table is a constant and the indices are not.</summary>
public sealed class LookupTableQuantizer : IOpQuantizer
{
    public string? TryDeclare(NodeProto node, QuantizationContext ctx, QuantizationPlan plan)
    {
        if (node.Input.Count < 2 || node.Input[0].Length == 0) return "it has no data input.";
        plan.AddWeight(node.Input[0], null);
        return null;
    }
}
