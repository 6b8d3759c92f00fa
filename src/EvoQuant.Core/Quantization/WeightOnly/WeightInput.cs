using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;

namespace EvoQuant.Quantization.WeightOnly;

/// <summary>A MatMul or Gemm whose weight can be quantized weight-only, and the activation it multiplies:
/// <see cref="Tensor"/> (input A, rows of <see cref="Channels"/> = K values) times a constant 2-D float
/// weight (<see cref="Weight"/>, [K, N], or [N, K] for Gemm with transB).</summary>
public sealed record WeightInput(string Node, string OpType, string Tensor, string Weight, int Channels)
{
    /// <summary>The MatMul/Gemm nodes of the graph (not of subgraphs) with such a weight, in graph order,
    /// optionally only those whose names match <paramref name="includeNodes"/> and none of
    /// <paramref name="excludeNodes"/> (wildcards). Gemm with transA has no weight-only form and is left out.</summary>
    public static IReadOnlyList<WeightInput> Find(OnnxModel model, IEnumerable<string>? includeNodes = null, IEnumerable<string>? excludeNodes = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        var include = includeNodes?.Select(p => new WildcardPattern(p)).ToList() ?? new List<WildcardPattern>();
        var exclude = excludeNodes?.Select(p => new WildcardPattern(p)).ToList() ?? new List<WildcardPattern>();
        var g = model.Graph;
        var found = new List<WeightInput>();
        foreach (var node in g.Nodes)
        {
            if (node.OpType is not ("MatMul" or "Gemm") || !(string.IsNullOrEmpty(node.Domain) || node.Domain == "ai.onnx") || node.Input.Count < 2) continue;
            if (include.Count > 0 && !include.Any(p => p.IsMatch(node.Name))) continue;
            if (exclude.Any(p => p.IsMatch(node.Name))) continue;
            string a = node.Input[0], b = node.Input[1];
            if (a.Length == 0 || g.IsConstant(a) || g.GetConstant(b) is not { } w) continue;
            if (w.DataType != ElementTypes.Float || w.Dims.Count != 2) continue;
            int k;
            if (node.OpType == "Gemm")
            {
                if (IntAttribute(node, "transA") != 0) continue;
                k = (int)(IntAttribute(node, "transB") != 0 ? w.Dims[1] : w.Dims[0]);
            }
            else k = (int)w.Dims[0];
            found.Add(new WeightInput(node.Name, node.OpType, a, b, k));
        }
        return found;
    }

    private static long IntAttribute(NodeProto node, string name) =>
        node.Attribute.FirstOrDefault(x => x.Name == name) is { } attr ? attr.I : 0;
}
