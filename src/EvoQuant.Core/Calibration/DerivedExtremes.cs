using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;

namespace EvoQuant.Calibration;

/// <summary>Tensors whose batch minimum and maximum follow exactly from another calibrated tensor's, so
/// the in-graph MinMax reduction can skip them: the output of Relu or of Clip with constant bounds (a
/// monotone clamp: min' = clamp(min), max' = clamp(max)) and of ops that only move values (Reshape,
/// Flatten, Squeeze, Unsqueeze, Transpose, Identity). Chains compose (Conv -> Clip -> Reshape: one reduction).
/// On fashion-cnn the 11 ReLU6 outputs are a third of all activation values.</summary>
internal static class DerivedExtremes
{
    /// <summary>How a tensor's extremes follow from its source's: v -> clamp(v, Lo, Hi).</summary>
    public readonly record struct Derivation(string Source, float Lo, float Hi)
    {
        public float Apply(float v) => float.IsNaN(v) ? v : Math.Clamp(v, Lo, Hi);
    }

    private static readonly HashSet<string> Moves = new(StringComparer.Ordinal)
        { "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose", "Identity" };

    /// <summary>The derivable tensors among <paramref name="tensors"/>, each from one that is not derived,
    /// in graph order (a source always comes before what derives from it).</summary>
    public static IReadOnlyList<(string Tensor, Derivation How)> Plan(OnnxModel model, IReadOnlyCollection<string> tensors)
    {
        var wanted = tensors.ToHashSet(StringComparer.Ordinal);
        var graph = model.Graph;
        var derived = new Dictionary<string, Derivation>(StringComparer.Ordinal);
        var result = new List<(string, Derivation)>();
        foreach (var node in graph.Nodes)
        {
            if (node.Output.Count == 0 || node.Input.Count == 0 || !wanted.Contains(node.Output[0])) continue;
            string x = node.Input[0], y = node.Output[0];
            if (!wanted.Contains(x) || !TryClamp(node, graph, out float lo, out float hi)) continue;
            // Compose with x's own derivation: clamp(clamp(v, a, b), lo, hi) = clamp(v, clamp(a, lo, hi), clamp(b, lo, hi)).
            var how = derived.TryGetValue(x, out var d)
                ? new Derivation(d.Source, Math.Clamp(d.Lo, lo, hi), Math.Clamp(d.Hi, lo, hi))
                : new Derivation(x, lo, hi);
            derived[y] = how;
            result.Add((y, how));
        }
        return result;
    }

    private static bool TryClamp(NodeProto node, GraphView graph, out float lo, out float hi)
    {
        (lo, hi) = (float.NegativeInfinity, float.PositiveInfinity);
        if (node.Domain is not ("" or "ai.onnx")) return false;
        if (Moves.Contains(node.OpType)) return node.Output.Count == 1;
        if (node.OpType == "Relu") { lo = 0; return true; }
        if (node.OpType != "Clip") return false;
        foreach (var a in node.Attribute) // opset < 11: bounds are attributes
        {
            if (a.Name == "min") lo = a.F;
            if (a.Name == "max") hi = a.F;
        }
        if (!TryBound(node, graph, 1, ref lo) || !TryBound(node, graph, 2, ref hi)) return false;
        return !(lo > hi) && !float.IsNaN(lo) && !float.IsNaN(hi);
    }

    // Opset 11+: bounds are optional inputs, which must be constants to derive anything.
    private static bool TryBound(NodeProto node, GraphView graph, int input, ref float bound)
    {
        if (node.Input.Count <= input || node.Input[input].Length == 0) return true;
        var c = graph.GetConstant(node.Input[input]);
        if (c == null) return false;
        var v = TensorData.ToFloatArray(c);
        if (v.Length != 1) return false;
        bound = v[0];
        return true;
    }
}
