using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;
using EvoQuant.Quantization;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace EvoQuant.Tests.Quantization.Helpers;

/// <summary>Test-only MinMax calibration: every float tensor a node computes becomes an extra graph
/// output of a copy of the model; running ORT on the samples gives each tensor's min and max.</summary>
internal static class MinMaxRanges
{
    public static Dictionary<string, ActivationRange> Measure(OnnxModel model, IEnumerable<IReadOnlyDictionary<string, DenseTensor<float>>> batches)
    {
        var proto = model.CloneProto();
        var types = ElementTypeInference.Infer(model.Graph);
        var existing = new HashSet<string>(proto.Graph.Output.Select(o => o.Name));
        var tensors = new List<string>(existing);
        foreach (var i in model.Graph.RuntimeInputs) if (types.GetValueOrDefault(i.Name) == ElementTypes.Float) tensors.Add(i.Name);
        foreach (var n in proto.Graph.Node)
        {
            if (n.OpType == "Constant") continue;
            foreach (var o in n.Output)
            {
                if (o.Length == 0 || existing.Contains(o) || types.GetValueOrDefault(o) != ElementTypes.Float) continue;
                proto.Graph.Output.Add(new ValueInfoProto { Name = o, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = ElementTypes.Float } } });
                tensors.Add(o);
            }
        }
        var ranges = new Dictionary<string, ActivationRange>();
        using var session = new InferenceSession(model.With(proto).ToBytes());
        foreach (var batch in batches)
        {
            foreach (var (name, t) in batch) Update(ranges, name, t.Buffer.Span);
            using var results = session.Run(batch.Select(kv => NamedOnnxValue.CreateFromTensor(kv.Key, kv.Value)).ToList());
            foreach (var r in results)
                if (r.Value is DenseTensor<float> d) Update(ranges, r.Name, d.Buffer.Span);
        }
        return ranges;
    }

    private static void Update(Dictionary<string, ActivationRange> ranges, string name, ReadOnlySpan<float> data)
    {
        float lo = float.PositiveInfinity, hi = float.NegativeInfinity;
        foreach (float v in data) { if (v < lo) lo = v; if (v > hi) hi = v; }
        if (data.Length == 0) return;
        ranges[name] = ranges.TryGetValue(name, out var r) ? new ActivationRange(Math.Min(r.Min, lo), Math.Max(r.Max, hi)) : new ActivationRange(lo, hi);
    }
}
