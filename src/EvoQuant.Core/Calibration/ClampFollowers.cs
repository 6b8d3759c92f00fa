using EvoQuant.Onnx;

namespace EvoQuant.Calibration;

/// <summary>Calibrated tensors whose values are a clamp of another calibrated tensor's: Relu, Clip with
/// constant bounds around 0, and ops that only move values (Reshape, Flatten, Transpose, ...), chains
/// composed. Their signed histograms follow exactly from the source's values (see
/// <see cref="GridHistogram.DeriveClamped"/>), so Entropy calibration counts the source once instead of
/// counting both: on fashion-cnn the 11 ReLU6 outputs, full of zeros and sixes, were half the counting time.</summary>
internal static class ClampFollowers
{
    /// <summary>A tensor whose values are clamp(Source, Lo, Hi) (Lo &lt;= 0 &lt;= Hi), or the source's values
    /// moved (<see cref="Clamps"/> false: NaN and infinities carry over unchanged).</summary>
    public sealed record Follower(string Tensor, string Source, float Lo, float Hi, bool Clamps);

    /// <summary>The followers among <paramref name="tensors"/>, each with a source that follows nothing, in graph
    /// order. Model inputs are never sources: calibration counts them from the batch, apart from the run.</summary>
    public static IReadOnlyList<Follower> Plan(OnnxModel model, IReadOnlyCollection<string> tensors)
    {
        var wanted = tensors.ToHashSet(StringComparer.Ordinal);
        wanted.ExceptWith(model.Graph.RuntimeInputs.Select(i => i.Name));
        var graph = model.Graph;
        var found = new Dictionary<string, Follower>(StringComparer.Ordinal);
        var result = new List<Follower>();
        foreach (var node in graph.Nodes)
        {
            if (node.Output.Count != 1 || !wanted.Contains(node.Output[0])) continue;
            if (DerivedExtremes.TryStep(node, graph, model) is not var (x, step) || !wanted.Contains(x)) continue;
            float lo = float.NegativeInfinity, hi = float.PositiveInfinity;
            if (step is DerivedExtremes.Step s)
            {
                // Only a clamp around 0 maps bins onto bins (the other steps shift or scale values).
                if (s.Op != "Clip" || !(s.Lo <= 0 && 0 <= s.Hi)) continue;
                (lo, hi) = (s.Lo, s.Hi);
            }
            // Clamps around 0 compose into one: clamp(clamp(x, a, b), c, d) = clamp(x, max(a, c), min(b, d)).
            var f = found.TryGetValue(x, out var up)
                ? new Follower(node.Output[0], up.Source, Math.Max(up.Lo, lo), Math.Min(up.Hi, hi), up.Clamps || step != null)
                : new Follower(node.Output[0], x, lo, hi, step != null);
            found[f.Tensor] = f;
            result.Add(f);
        }
        return result;
    }
}
