using EvoQuant.Onnx.Proto;

namespace EvoQuant.Quantization.Operators;

/// <summary>Gather from a constant table (a transformer's word, position and token-type embeddings): the
/// table becomes an int8 weight with one scale per gathered slice (per token, along the Gather's axis) and
/// the output stays float, DequantizeLinear -> Gather as weight-only. The table is most of the file
/// (all-MiniLM-L6-v2: 30522 x 384 of 22.7M parameters), so this is what makes the model small. One scale
/// for the whole table, as an activation, gave its rows 20.7 dB and quantized the embedding sums before
/// LayerNorm; rows of their own keep each token's vector to 8 bits of its own range. A Gather whose data is
/// already quantized at run time is a pass-through as before.</summary>
public sealed class EmbeddingGatherQuantizer : IOpQuantizer
{
    private static readonly PassThroughQuantizer PassThrough = new();

    public string? TryDeclare(NodeProto node, QuantizationContext ctx, QuantizationPlan plan)
    {
        if (node.Input.Count == 0 || !ctx.IsConstant(node.Input[0]) || !ctx.IsFloat(node.Input[0]))
            return PassThrough.TryDeclare(node, ctx, plan);
        string table = node.Input[0];
        int rank = ctx.Constant(table)!.Dims.Count;
        int axis = (int)QuantizationContext.IntAttribute(node, "axis", 0);
        if (axis < 0) axis += rank;
        // Per-slice scales need DequantizeLinear's axis (opset 13); before it, one scale for the table.
        plan.AddWeight(table, rank >= 2 && axis >= 0 && axis < rank && ctx.Opset >= 13 ? axis : null);
        return null;
    }
}
