using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;

namespace EvoQuant.Quantization.Rewrite;

/// <summary>Dequantizes rows gathered from an int8 embedding table instead of the table: ONNX Runtime keeps a
/// DequantizeLinear of a constant (it does not fold QDQ weights), so DequantizeLinear -> Gather dequantizes all
/// 30522 x 384 values of MiniLM's word table on every run (19 ms whatever the batch, a fifth of the int8 model's batch-1
/// cost) to read a few rows. With one scale for the table, a DequantizeLinear of the rows; with one per row, the
/// rows' scales gathered alongside ([rows, 1], so they broadcast over each row), a Cast and a Mul: the same values
/// DequantizeLinear gives (zero points 0), computed for the rows used only.</summary>
internal static class GatheredRowsDequantize
{
    /// <param name="rows">The int8 rows gathered from the quantized table.</param>
    /// <param name="scale">The table's scale: a scalar, or [table rows, 1] when <paramref name="perRow"/>.</param>
    /// <param name="zeroPoint">The table's zero point (per-tensor only; per-row tables are symmetric).</param>
    /// <param name="output">The float tensor the original Gather produced.</param>
    public static List<NodeProto> Nodes(string rows, string scale, string? zeroPoint, bool perRow, string indices, string output, string baseName, UniqueNames names)
    {
        var nodes = new List<NodeProto>();
        if (!perRow)
        {
            var dq = new NodeProto { OpType = "DequantizeLinear", Name = names.Take(baseName + "_DequantizeLinear") };
            dq.Input.AddRange(zeroPoint != null ? new[] { rows, scale, zeroPoint } : new[] { rows, scale });
            dq.Output.Add(output);
            nodes.Add(dq);
            return nodes;
        }
        string rowScales = names.Take(output + "_scales");
        nodes.Add(Node("Gather", names.Take(baseName + "_scales_gather"), rowScales, scale, indices));
        string cast = names.Take(rows + "_cast_output");
        var c = Node("Cast", names.Take(rows + "_cast"), cast, rows);
        c.Attribute.Add(new AttributeProto { Name = "to", Type = AttributeProto.Types.AttributeType.Int, I = ElementTypes.Float });
        nodes.Add(c);
        nodes.Add(Node("Mul", names.Take(baseName + "_scale_mul"), output, cast, rowScales));
        return nodes;
    }

    private static NodeProto Node(string opType, string name, string output, params string[] inputs)
    {
        var n = new NodeProto { OpType = opType, Name = name };
        n.Input.AddRange(inputs);
        n.Output.Add(output);
        return n;
    }
}
