using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;

namespace EvoQuant.Calibration;

/// <summary>A light element-type propagation over a graph, for models without value_info: declared types
/// (inputs, outputs, value_info, constants) first, then per-op rules in topological order. It answers
/// "is this tensor float?" without ONNX shape inference; unknown stays unknown (null), and the session
/// checks the real type when ONNX Runtime loads the augmented model.</summary>
internal static class ElementTypeInference
{
    public static Dictionary<string, int> Infer(GraphView graph)
    {
        var types = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var vi in graph.Proto.Input.Concat(graph.Proto.ValueInfo).Concat(graph.Proto.Output))
            if (vi.Type?.TensorType is { HasElemType: true } tt && tt.ElemType != 0) types[vi.Name] = tt.ElemType;
        foreach (var (name, t) in graph.Constants) types[name] = t.DataType;

        foreach (var n in graph.Nodes)
        {
            int? outType = OutputType(n, types);
            if (outType is not int ot) continue;
            for (int k = 0; k < n.Output.Count; k++)
            {
                string o = n.Output[k];
                if (o.Length == 0 || types.ContainsKey(o)) continue;
                // Ops with a second, integer output: only output 0 follows the rule.
                if (k > 0 && n.OpType is "MaxPool" or "TopK" or "Unique" or "Dropout") continue;
                types[o] = ot;
            }
        }
        return types;
    }

    private static int? InputType(NodeProto n, int k, Dictionary<string, int> types) =>
        k < n.Input.Count && types.TryGetValue(n.Input[k], out int t) ? t : null;

    private static int? OutputType(NodeProto n, Dictionary<string, int> types)
    {
        if (!(string.IsNullOrEmpty(n.Domain) || n.Domain == "ai.onnx")) return null;
        switch (n.OpType)
        {
            case "Shape" or "Size" or "NonZero" or "ArgMax" or "ArgMin":
                return ElementTypes.Int64;
            case "Equal" or "Less" or "Greater" or "LessOrEqual" or "GreaterOrEqual" or "Not" or "And" or "Or" or "Xor" or "IsNaN" or "IsInf":
                return ElementTypes.Bool;
            case "Cast":
                return (int?)n.Attribute.FirstOrDefault(a => a.Name == "to")?.I;
            case "DequantizeLinear":
                return InputType(n, 1, types) ?? ElementTypes.Float;
            case "QuantizeLinear":
                return InputType(n, 2, types) ?? ElementTypes.UInt8;
            case "DynamicQuantizeLinear":
                return ElementTypes.UInt8;
            case "ConstantOfShape":
                var v = n.Attribute.FirstOrDefault(a => a.Name == "value")?.T;
                return v?.DataType ?? ElementTypes.Float;
            case "Where":
                return InputType(n, 1, types) ?? InputType(n, 2, types);
            case "Constant":
                return GraphView.ConstantValue(n)?.DataType;
            case "RandomNormal" or "RandomUniform":
                return (int?)n.Attribute.FirstOrDefault(a => a.Name == "dtype")?.I ?? ElementTypes.Float;
            case "Loop" or "If" or "Scan" or "SequenceAt" or "SplitToSequence" or "ConcatFromSequence":
                return null;
            default:
                // Most ops return the type of their first (data) input: arithmetic, activations, pooling,
                // Conv/MatMul/Gemm, and the shape ops (Reshape, Transpose, Gather, Slice, Concat ...).
                for (int k = 0; k < n.Input.Count; k++)
                    if (n.Input[k].Length > 0) return InputType(n, k, types);
                return null;
        }
    }
}
