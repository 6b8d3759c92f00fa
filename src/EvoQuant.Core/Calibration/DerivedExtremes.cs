using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;

namespace EvoQuant.Calibration;

/// <summary>Tensors whose batch minimum and maximum follow exactly from another calibrated tensor's, so
/// the in-graph MinMax reduction can skip them. Each op here is a non-decreasing function of one input
/// (the others constant scalars), evaluated in float32 as ONNX Runtime evaluates it per element, so it maps
/// the input's min and max onto the output's exactly: Relu, Clip with constant bounds, Add/Sub of a
/// constant, Mul/Div by a positive constant, and ops that only move values (Reshape, Flatten, Squeeze,
/// Unsqueeze, Transpose, Identity). Chains compose: a HardSwish written as Add, Clip, Mul, Div costs one
/// reduction (the Mul) instead of four; on fashion-cnn the 11 ReLU6 outputs are a third of all values.</summary>
internal static class DerivedExtremes
{
    /// <summary>One step of a derivation: a non-decreasing function of the value.</summary>
    public readonly record struct Step(string Op, float C, float Lo = float.NegativeInfinity, float Hi = float.PositiveInfinity)
    {
        public float Apply(float v) => Op switch
        {
            "Clip" => float.IsNaN(v) ? v : Math.Clamp(v, Lo, Hi),
            "Add" => v + C,
            "Sub" => v - C,
            "Mul" => v * C,
            "Div" => v / C,
            _ => v,
        };
    }

    /// <summary>How a tensor's extremes follow from its source's: the steps, in order.</summary>
    public sealed record Derivation(string Source, IReadOnlyList<Step> Steps)
    {
        public float Apply(float v)
        {
            foreach (var s in Steps) v = s.Apply(v);
            return v;
        }
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
            if (node.Output.Count != 1 || !wanted.Contains(node.Output[0])) continue;
            if (TryStep(node, graph, model) is not var (x, step) || !wanted.Contains(x)) continue;
            var how = derived.TryGetValue(x, out var d)
                ? new Derivation(d.Source, step is Step s && !IsNoOpAfter(d.Steps, s) ? d.Steps.Append(s).ToArray() : d.Steps)
                : new Derivation(x, step is Step t ? new[] { t } : Array.Empty<Step>());
            derived[node.Output[0]] = how;
            result.Add((node.Output[0], how));
        }
        return result;
    }

    // A clamp to an interval holding the previous clamp's is exactly the identity on its values (NaN stays
    // NaN, a signed zero keeps its sign): dropping it keeps a chain of Relu (or ReLU6) one step long, so
    // a chain of n costs n steps instead of n^2 / 2 (100,000 Relu: 5e9 before).
    private static bool IsNoOpAfter(IReadOnlyList<Step> steps, Step next) =>
        steps.Count > 0 && steps[^1] is { Op: "Clip" } last && next.Op == "Clip" && next.Lo <= last.Lo && last.Hi <= next.Hi;

    /// <summary>The input the output follows and the step (null: the values only move), or null. Constants
    /// are read through <paramref name="model"/> (they may be external data).</summary>
    internal static (string Input, Step? Step)? TryStep(NodeProto node, GraphView graph, OnnxModel model)
    {
        if (node.Domain is not ("" or "ai.onnx") || node.Input.Count == 0) return null;
        string x = node.Input[0];
        if (Moves.Contains(node.OpType)) return (x, null);
        switch (node.OpType)
        {
            case "Relu":
                return (x, new Step("Clip", 0, 0f, float.PositiveInfinity));
            case "Clip":
            {
                float lo = float.NegativeInfinity, hi = float.PositiveInfinity;
                foreach (var a in node.Attribute) // opset < 11: bounds are attributes
                {
                    if (a.Name == "min") lo = a.F;
                    if (a.Name == "max") hi = a.F;
                }
                if (!TryBound(node, graph, model, 1, ref lo) || !TryBound(node, graph, model, 2, ref hi)) return null;
                if (float.IsNaN(lo) || float.IsNaN(hi) || lo > hi) return null;
                return (x, new Step("Clip", 0, lo, hi));
            }
            case "Add" or "Mul" when node.Input.Count == 2:
            {
                // Either input may be the constant (both orders compute the same float value).
                if (Scalar(graph, model, node.Input[1]) is float c1 && graph.GetConstant(x) == null) return Arithmetic(node.OpType, x, c1);
                if (Scalar(graph, model, node.Input[0]) is float c0 && graph.GetConstant(node.Input[1]) == null) return Arithmetic(node.OpType, node.Input[1], c0);
                return null;
            }
            case "Sub" or "Div" when node.Input.Count == 2:
                // Only x - c and x / c: c - x and c / x are not non-decreasing.
                return Scalar(graph, model, node.Input[1]) is float c && graph.GetConstant(x) == null ? Arithmetic(node.OpType, x, c) : null;
            default:
                return null;
        }
    }

    private static (string, Step?)? Arithmetic(string op, string x, float c)
    {
        if (!float.IsFinite(c)) return null;
        if (op is "Mul" or "Div" && !(c > 0)) return null; // a negative factor swaps min and max; 0 is no range
        return (x, new Step(op, c));
    }

    /// <summary>A constant float32 scalar (one element, any rank), or null. The element count comes from
    /// the dims, so a large constant (a bias of a big model) is never read just to be turned down.</summary>
    private static float? Scalar(GraphView graph, OnnxModel model, string name)
    {
        var t = graph.GetConstant(name);
        if (t == null || t.DataType != ElementTypes.Float) return null;
        try { if (TensorData.ElementCount(t) != 1) return null; }
        catch (Exception e) when (e is ArgumentException or OverflowException) { return null; }
        var v = model.GetFloats(t);
        return v.Length == 1 ? v[0] : null;
    }

    // Opset 11+: Clip's bounds are optional inputs, which must be constant scalars to derive anything.
    private static bool TryBound(NodeProto node, GraphView graph, OnnxModel model, int input, ref float bound)
    {
        if (node.Input.Count <= input || node.Input[input].Length == 0) return true;
        if (Scalar(graph, model, node.Input[input]) is not float v) return false;
        bound = v;
        return true;
    }
}
