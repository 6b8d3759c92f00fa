using EvoQuant.Onnx.Proto;

namespace EvoQuant.Onnx;

/// <summary>Element types of every tensor, from value_info where the graph declares them and otherwise
/// propagated through the nodes in topological order. Exporters often omit value_info for intermediates;
/// the reference tool runs ONNX shape inference for this, and calibration and quantization only need
/// the element type ("is this tensor float?"). Unknown stays unknown (absent).</summary>
internal static class ElementTypeInference
{
    public static Dictionary<string, int> Infer(GraphView graph)
    {
        var types = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (name, t) in graph.Constants) types[name] = t.DataType;
        foreach (var vi in graph.Proto.Input.Concat(graph.Proto.ValueInfo).Concat(graph.Proto.Output))
            if (vi.Type?.TensorType is { HasElemType: true } tt && tt.ElemType != 0) types[vi.Name] = tt.ElemType;

        foreach (var node in graph.Nodes)
        {
            for (int k = 0; k < node.Output.Count; k++)
            {
                string o = node.Output[k];
                if (o.Length == 0 || types.ContainsKey(o)) continue;
                int? t = OutputType(node, k, types);
                if (t is int v && v != 0) types[o] = v;
            }
        }
        return types;
    }

    private static int? OutputType(NodeProto n, int index, Dictionary<string, int> types)
    {
        int? In(int i) => i < n.Input.Count && types.TryGetValue(n.Input[i], out int t) ? t : null;
        long? Attr(string name) => n.Attribute.FirstOrDefault(a => a.Name == name) is { } a ? a.I : null;

        if (!string.IsNullOrEmpty(n.Domain) && n.Domain != "ai.onnx")
            return n.OpType is "QuantizeLinear" ? In(2) ?? ElementTypes.UInt8 : n.OpType is "DequantizeLinear" ? ElementTypes.Float : null;

        return n.OpType switch
        {
            "Constant" => GraphView.ConstantValue(n)?.DataType,
            "Shape" or "Size" or "NonZero" or "ArgMax" or "ArgMin" => ElementTypes.Int64,
            "TopK" => index == 1 ? ElementTypes.Int64 : In(0),
            "MaxPool" => index == 1 ? ElementTypes.Int64 : In(0),   // optional Indices output
            "Dropout" => index == 1 ? ElementTypes.Bool : In(0),    // optional mask output
            "Unique" => index == 0 ? In(0) : ElementTypes.Int64,
            "Cast" => (int?)Attr("to"),
            "CastLike" => In(1),
            "Equal" or "Less" or "Greater" or "LessOrEqual" or "GreaterOrEqual" or "Not" or "And" or "Or" or "Xor" or "IsNaN" or "IsInf" => ElementTypes.Bool,
            "ConstantOfShape" => n.Attribute.FirstOrDefault(a => a.Name == "value")?.T?.DataType ?? ElementTypes.Float,
            "QuantizeLinear" => In(2) ?? ElementTypes.UInt8,
            "DequantizeLinear" => In(1) ?? ElementTypes.Float,
            "DynamicQuantizeLinear" => index == 0 ? ElementTypes.UInt8 : index == 1 ? ElementTypes.Float : ElementTypes.UInt8,
            "Where" => In(1) ?? In(2),
            "RandomNormal" or "RandomUniform" or "EyeLike" => (int?)Attr("dtype") is int d2 && d2 != 0 ? d2 : ElementTypes.Float,
            "RandomNormalLike" or "RandomUniformLike" => (int?)Attr("dtype") is int d3 && d3 != 0 ? d3 : In(0),
            "MatMulInteger" or "ConvInteger" => ElementTypes.Int32,
            "Range" => In(0),
            "If" or "Loop" or "Scan" => null, // subgraph outputs: leave to value_info
            // Everything else keeps the element type of its first typed input (Add, Conv, Reshape, Gather ...).
            _ => n.Input.Select((_, i) => In(i)).FirstOrDefault(t => t != null),
        };
    }
}
