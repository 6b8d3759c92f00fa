using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;

namespace EvoQuant.Quantization;

/// <summary>
/// Folds each BatchNormalization into the Conv that alone feeds it: W'[m] = W[m] * s[m] and
/// b'[m] = (b[m] - mean[m]) * s[m] + beta[m], with s = gamma / sqrt(var + epsilon). ONNX Runtime does the
/// same to the float model when it loads it; a Q/DQ pair between the two would stop that fusion and leave
/// the normalization in float behind an integer Conv, slower than the float model (PaddleOCR's direction
/// classifier: 35 of them).
/// </summary>
public static class BatchNormFolding
{
    /// <summary>A copy of the model with every foldable pair folded (the model itself when there is none),
    /// and how many were folded.</summary>
    /// <param name="hasRange">Static quantization folds only where the normalization's output has a
    /// calibrated range, which the Conv then writes; null folds every foldable pair.</param>
    public static (OnnxModel Model, int Folded) Fold(OnnxModel model, Func<string, bool>? hasRange = null)
    {
        var (folded, pairs) = FoldPairs(model, hasRange);
        return (folded, pairs.Count);
    }

    /// <summary>A folded pair, by first outputs in the model given: the Conv's (which no longer exists: the
    /// Conv now writes the normalization's) and the normalization's.</summary>
    public sealed record FoldedPair(string ConvOutput, string NormOutput);

    /// <summary>As <see cref="Fold"/>, with the pairs folded.</summary>
    public static (OnnxModel Model, IReadOnlyList<FoldedPair> Pairs) FoldPairs(OnnxModel model, Func<string, bool>? hasRange = null)
    {
        var view = model.Graph;
        var pairs = new List<(NodeProto Conv, NodeProto Bn)>();
        foreach (var bn in view.Proto.Node)
        {
            if (bn.OpType != "BatchNormalization" || !string.IsNullOrEmpty(bn.Domain) || bn.Input.Count < 5) continue;
            if (bn.Output.Skip(1).Any(o => o.Length > 0)) continue; // training outputs
            if (QuantizationContext.IntAttribute(bn, "training_mode", 0) != 0) continue;
            if (hasRange != null && !hasRange(bn.Output[0])) continue;
            if (view.Producer(bn.Input[0]) is not { OpType: "Conv" } conv || !string.IsNullOrEmpty(conv.Domain)) continue;
            if (view.Consumers(conv.Output[0]).Count != 1 || view.IsGraphOutput(conv.Output[0])) continue;
            if (conv.Input.Count < 2 || !IsFloatConstant(view, conv.Input[1])) continue;
            if (conv.Input.Count > 2 && conv.Input[2].Length > 0 && !IsFloatConstant(view, conv.Input[2])) continue;
            if (!bn.Input.Skip(1).Take(4).All(i => IsFloatConstant(view, i))) continue;
            pairs.Add((conv, bn));
        }
        if (pairs.Count == 0) return (model, Array.Empty<FoldedPair>());
        var done = new List<FoldedPair>();

        // The clone keeps the node order: the pairs are found again by position.
        var index = new Dictionary<NodeProto, int>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < view.Proto.Node.Count; i++) index[view.Proto.Node[i]] = i;
        var proto = model.CloneProto();
        var graph = proto.Graph;
        var names = new UniqueNames(GraphEdits.AllNames(graph));
        var removed = new HashSet<NodeProto>(ReferenceEqualityComparer.Instance);
        var replaced = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (c, b) in pairs)
        {
            var conv = graph.Node[index[c]];
            var bn = graph.Node[index[b]];
            var w = view.GetConstant(c.Input[1])!;
            float[] weights = model.GetFloats(w);
            long channels = w.Dims[0], inner = weights.Length / Math.Max(1, channels);
            float[] gamma = Floats(model, view, b.Input[1]), beta = Floats(model, view, b.Input[2]);
            float[] mean = Floats(model, view, b.Input[3]), variance = Floats(model, view, b.Input[4]);
            if (gamma.Length != channels || beta.Length != channels || mean.Length != channels || variance.Length != channels) continue;
            float[] bias = c.Input.Count > 2 && c.Input[2].Length > 0 ? Floats(model, view, c.Input[2]) : new float[channels];
            if (bias.Length != channels) continue;
            float epsilon = QuantizationContext.FloatAttribute(b, "epsilon", 1e-5f);

            var folded = new float[weights.Length];
            var newBias = new float[channels];
            for (long m = 0; m < channels; m++)
            {
                double s = gamma[m] / Math.Sqrt(variance[m] + (double)epsilon);
                for (long k = 0; k < inner; k++) folded[m * inner + k] = (float)(weights[m * inner + k] * s);
                newBias[m] = (float)((bias[m] - mean[m]) * s + beta[m]);
            }
            // Named after the normalization's output, not the weight: they are new values, not the weight's.
            string wName = names.Take(b.Output[0] + "_folded_weight"), bName = names.Take(b.Output[0] + "_folded_bias");
            graph.Initializer.Add(TensorData.FromFloats(wName, w.Dims.ToArray(), folded));
            graph.Initializer.Add(TensorData.FromFloats(bName, new[] { channels }, newBias));
            replaced.UnionWith(conv.Input.Skip(1).Concat(bn.Input.Skip(1)).Where(t => t.Length > 0));
            conv.Input[1] = wName;
            if (conv.Input.Count > 2) conv.Input[2] = bName; else conv.Input.Add(bName);
            done.Add(new FoldedPair(conv.Output[0], bn.Output[0]));
            conv.Output[0] = bn.Output[0];
            removed.Add(bn);
        }
        var kept = graph.Node.Where(n => !removed.Contains(n)).ToList();
        graph.Node.Clear();
        graph.Node.AddRange(kept);
        GraphEdits.RemoveReplacedConstants(graph, graph.Node, replaced);
        return (model.With(proto), done);
    }

    private static bool IsFloatConstant(GraphView view, string tensor) =>
        view.GetConstant(tensor) is { DataType: ElementTypes.Float };

    private static float[] Floats(OnnxModel model, GraphView view, string tensor) => model.GetFloats(view.GetConstant(tensor)!);
}
