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
}
