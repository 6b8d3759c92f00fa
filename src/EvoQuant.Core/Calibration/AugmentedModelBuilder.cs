using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;

namespace EvoQuant.Calibration;

/// <summary>Makes a copy of a model whose graph also outputs the tensors to calibrate, so one run of
/// ONNX Runtime yields them all. The caller's model is never modified.</summary>
public static class AugmentedModelBuilder
{
    /// <summary>A new model with <paramref name="tensors"/> added as graph outputs (those that already are
    /// graph outputs or graph inputs are left as they are). Known element types are declared; unknown
    /// ones are left for ONNX Runtime to infer.</summary>
    public static OnnxModel Build(OnnxModel model, IEnumerable<string> tensors, IReadOnlyDictionary<string, int>? knownTypes = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        var proto = model.CloneProto();
        var graph = proto.Graph;
        var existing = new HashSet<string>(graph.Output.Select(o => o.Name).Concat(graph.Input.Select(i => i.Name)), StringComparer.Ordinal);
        foreach (string t in tensors)
        {
            if (!existing.Add(t)) continue;
            var vi = new ValueInfoProto { Name = t };
            if (knownTypes != null && knownTypes.TryGetValue(t, out int type))
                vi.Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = type } };
            graph.Output.Add(vi);
        }
        return model.With(proto);
    }

    /// <summary>Suffixes of the outputs <see cref="BuildWithReductions"/> adds for a tensor.</summary>
    public const string MinSuffix = "__evoquant_min", MaxSuffix = "__evoquant_max", SizeSuffix = "__evoquant_size";

    /// <summary>A new model that outputs, for each tensor, its minimum, maximum and element count
    /// (ReduceMin / ReduceMax over all axes, Size) instead of the tensor itself: ONNX Runtime then frees
    /// every activation as it goes, so MinMax calibration needs no more memory than inference.</summary>
    public static OnnxModel BuildWithReductions(OnnxModel model, IEnumerable<string> tensors)
    {
        ArgumentNullException.ThrowIfNull(model);
        var proto = model.CloneProto();
        var graph = proto.Graph;
        var inputs = new HashSet<string>(graph.Input.Select(i => i.Name), StringComparer.Ordinal);
        var wanted = tensors.Where(t => !inputs.Contains(t)).ToHashSet(StringComparer.Ordinal);
        // ONNX Runtime orders nodes by a depth-first walk up from the leaves, taking the last leaf in
        // file order first. Appending the reductions in reverse production order makes the walk run
        // each one right after its producer, so activations are freed as they go instead of all living
        // until the end of the graph (PaddleOCR recognizer, batch 10: 4 GiB before).
        var order = new List<string>();
        foreach (var producer in graph.Node)
            foreach (string t in producer.Output)
                if (wanted.Remove(t)) order.Add(t);
        order.AddRange(wanted); // not produced by a node (e.g. an initializer)
        for (int k = order.Count - 1; k >= 0; k--) AddReductions(graph, order[k]);
        return model.With(proto);
    }

    private static void AddReductions(GraphProto graph, string t)
    {
        foreach (var (op, suffix) in new[] { ("ReduceMin", MinSuffix), ("ReduceMax", MaxSuffix), ("Size", SizeSuffix) })
        {
            var node = new NodeProto { OpType = op, Name = t + suffix };
            node.Input.Add(t);
            node.Output.Add(t + suffix);
            if (op != "Size") node.Attribute.Add(new AttributeProto { Name = "keepdims", Type = AttributeProto.Types.AttributeType.Int, I = 0 });
            graph.Node.Add(node);
            graph.Output.Add(new ValueInfoProto { Name = t + suffix });
        }
    }
}
