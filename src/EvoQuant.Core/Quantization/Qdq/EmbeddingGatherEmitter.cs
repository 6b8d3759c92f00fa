using EvoQuant.Onnx.Proto;
using EvoQuant.Quantization.Provenance;
using EvoQuant.Quantization.Rewrite;

namespace EvoQuant.Quantization.Qdq;

/// <summary>The QDQ form of a Gather from a quantized constant table (<see cref="Operators.EmbeddingGatherQuantizer"/>):
/// the Gather reads the int8 table and only the gathered rows are dequantized (<see cref="GatheredRowsDequantize"/>),
/// the same values DequantizeLinear -> Gather gives. The table's DequantizeLinear goes when no other node reads it
/// (a tied output projection still does). Any other Gather keeps the shared QDQ form.</summary>
internal sealed class EmbeddingGatherEmitter : IQdqEmitter
{
    public RewriteFormat Format => RewriteFormat.QDQ;

    public void Emit(NodeProto source, NodeProto copy, QdqRewriter rewrite)
    {
        var emitted = new List<string> { GraphRewrite.NodeKey(copy) };
        if (source.Input.Count == 2 && QuantizationContext.IntAttribute(source, "axis", 0) == 0 && rewrite.Model.Graph.IsConstant(source.Input[0])
            && rewrite.Store.Get(source.Input[0]) is { } table && rewrite.AddedDequantizeOf(copy.Input[0]) is { } dq && dq.Input[0] == table.Quantized
            && RowScales(table, rewrite) is var (scale, zeroPoint, perRow))
        {
            string y = copy.Output[0], baseName = copy.Name.Length > 0 ? copy.Name : y;
            string rows = rewrite.Names.Take(y + "_quantized");
            copy.Input[0] = table.Quantized;
            copy.Output[0] = rows;
            var nodes = GatheredRowsDequantize.Nodes(rows, scale, zeroPoint, perRow, copy.Input[1], y, baseName, rewrite.Names);
            rewrite.AddNodes(nodes);
            rewrite.DropIfUnread(dq);
            emitted = new List<string> { rows };
            emitted.AddRange(nodes.Select(GraphRewrite.NodeKey));
        }
        rewrite.RecordNode(source, NodeOutcome.Quantized, emitted);
    }

    // The scale the gathered rows need: the table's own when it has one (with its zero point), a [rows, 1] copy of
    // its per-row scales (they broadcast over each gathered row); null for per-row tables with zero points, which
    // the row form does not subtract (the defaults' tables are symmetric).
    private static (string Scale, string? ZeroPoint, bool PerRow)? RowScales(StoredTensor table, QdqRewriter rewrite)
    {
        if (table.Axis == null) return (table.Scale, table.ZeroPoint, false);
        if (table.Axis != 0 || table.Params.Any(p => p.ZeroPoint != 0)) return null;
        var scales = table.Params.Select(p => p.Scale).ToArray();
        return (rewrite.Store.AddFloats(table.Scale + "_rows", new long[] { scales.Length, 1 }, scales), null, true);
    }
}
