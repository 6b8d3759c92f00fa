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
        foreach (string t in tensors.Distinct())
        {
            if (inputs.Contains(t)) continue;
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
        return model.With(proto);
    }
}
