using EvoQuant.Onnx.Proto;

namespace EvoQuant.Quantization.Operators;

/// <summary>Gather of an embedding: a constant 2-D float table read along axis 0 by run-time indices. The
/// table is block-quantized along each row (the embedding width).</summary>
public sealed class EmbeddingQuantizer : IOpQuantizer
{
    public string? TryDeclare(NodeProto node, QuantizationContext ctx, QuantizationPlan plan)
    {
        if (node.Input.Count < 2) return "it has fewer than two inputs.";
        string data = node.Input[0];
        if (!ctx.IsFloat(data) || !ctx.IsConstant(data)) return $"its data '{data}' is not a constant float32 table.";
        int rank = ctx.Constant(data)!.Dims.Count;
        if (rank != 2) return $"its table '{data}' has rank {rank}; only 2-D embedding tables are block-quantized.";
        long axis = QuantizationContext.IntAttribute(node, "axis", 0);
        if (axis is not (0 or -2)) return $"it gathers along axis {axis}; embeddings are gathered along axis 0.";
        if (ctx.IsConstant(node.Input[1])) return "its indices are constant (a constant result, nothing to quantize at run time).";
        plan.AddWeight(data, null);
        return null;
    }
}
