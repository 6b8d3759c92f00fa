using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;

namespace EvoQuant.Quantization.Dynamic;

/// <summary>Gather (axis 0) from a constant 2-D float table with run-time indices: an embedding table. The
/// table is stored int8 and the gathered rows are dequantized: with one scale for the table as the reference
/// tool writes it (Gather + DequantizeLinear), or, where per-row scales cut the rounding noise (see
/// <see cref="ChannelGranularity"/>) or per channel is asked for, with one scale per row, gathered with the
/// rows (Gather of the int8 rows, Gather of their scales [rows, 1], Cast, Mul): ONNX Runtime then reads a
/// quarter of the bytes and never dequantizes rows it does not use. The table's file size falls by 4x.</summary>
internal sealed class DynamicGatherEmitter : DynamicEmitter
{
    public override List<NodeProto>? TryEmit(NodeProto node, DynamicScope scope, out string? reason)
    {
        reason = null;
        string data = node.Input[0], indices = node.Input[1];
        if (QuantizationContext.IntAttribute(node, "axis", 0) != 0) { reason = "it gathers along an axis other than 0 (not an embedding lookup)."; return null; }
        if (scope.FloatConstant(indices) != null || scope.RawConstant(indices) != null) { reason = $"its indices '{indices}' are constant (ONNX Runtime folds such a Gather)."; return null; }
        if (scope.FloatConstant(data) is not var (values, dims)) { reason = $"its data '{data}' is not a float32 constant table."; return null; }
        if (dims.Length != 2) { reason = $"its table '{data}' has rank {dims.Length}; an embedding table is 2-D."; return null; }

        var o = scope.Options;
        bool symmetric = o.WeightSymmetric && o.WeightType == Numerics.QuantType.Int8;
        bool perRow = symmetric && (o.PerChannel || (o.PerChannelWhereItPays && ChannelGranularity.PaysOff(values, dims, 0)));
        var owner = scope.OwnerOf(data);
        // No integer kernel multiplies these: no pair of products to keep from saturating.
        var w = owner.Weight(data, values, dims, perRow ? 0 : null, o.WeightType, layout: null, key: "gather");
        var qt = w.Tensor;
        string y = node.Output[0], baseName = node.Name.Length > 0 ? node.Name : y;
        var (q, s, zp) = owner.Store(data, data, qt.Raw, dims, qt.Type, qt.Params, perRow ? new[] { dims[0], 1L } : null, perRow ? 0 : null);
        scope.RecordQuantizedInside(indices);

        var nodes = new List<NodeProto>();
        string rows = scope.Names.Take(y + "_quantized");
        nodes.Add(Gather(q, indices, rows, scope.Names.Take(baseName + "_quant")));
        nodes.AddRange(Rewrite.GatheredRowsDequantize.Nodes(rows, s, zp, perRow, indices, y, baseName, scope.Names));
        return nodes;
    }

    private static NodeProto Gather(string data, string indices, string output, string name)
    {
        var g = new NodeProto { OpType = "Gather", Name = name };
        g.Input.Add(data);
        g.Input.Add(indices);
        g.Output.Add(output);
        return g;
    }
}
