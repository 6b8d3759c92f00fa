using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;

namespace EvoQuant.Quantization.Conversion;

/// <summary>Turns a float16 model back into float32 so it can be quantized: float16 initializers,
/// Constant values and tensor attributes become float32, declared float16 types become float32, and
/// Casts between float16 and float32 (which the fp16 export put at the borders) are dropped since they
/// would now be identities. Subgraphs included. Returns a new model; the input is not changed.</summary>
public static class Float16ToFloat32
{
    private const int F16 = ElementTypes.Float16, F32 = ElementTypes.Float;

    public static OnnxModel Convert(OnnxModel model, out int convertedTensors, out int removedCasts)
    {
        ArgumentNullException.ThrowIfNull(model);
        var proto = model.CloneProto();
        int tensors = 0, casts = 0;
        ConvertGraph(proto.Graph, model, ref tensors, ref casts);
        convertedTensors = tensors;
        removedCasts = casts;
        return model.With(proto);
    }

    private static void ConvertGraph(GraphProto g, OnnxModel model, ref int tensors, ref int casts)
    {
        for (int i = 0; i < g.Initializer.Count; i++)
            if (g.Initializer[i].DataType == F16) { g.Initializer[i] = ToFloat32(g.Initializer[i], model); tensors++; }
        foreach (var vi in g.Input.Concat(g.Output).Concat(g.ValueInfo))
            if (vi.Type?.TensorType is { ElemType: F16 } tt) tt.ElemType = F32;

        foreach (var n in g.Node)
            foreach (var a in n.Attribute)
            {
                if (a.T is { DataType: F16 }) { a.T = ToFloat32(a.T, model); tensors++; }
                if (a.G != null) ConvertGraph(a.G, model, ref tensors, ref casts);
                foreach (var sg in a.Graphs) ConvertGraph(sg, model, ref tensors, ref casts);
                if (n.OpType == "Cast" && a.Name == "to" && a.I == F16) a.I = F32;
            }
        casts += RemoveIdentityCasts(g);
    }

    /// <summary>Casts to float32 whose input is now float32 too: readers take the input directly.
    /// One that writes a graph output stays (as a harmless identity) to keep the output's name.</summary>
    private static int RemoveIdentityCasts(GraphProto g)
    {
        var types = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var t in g.Initializer) types[t.Name] = t.DataType;
        foreach (var vi in g.Input.Concat(g.ValueInfo).Concat(g.Output))
            if (vi.Type?.TensorType is { } tt) types[vi.Name] = tt.ElemType;
        var outputs = g.Output.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);
        var rename = new Dictionary<string, string>(StringComparer.Ordinal);
        var keep = new List<NodeProto>();
        int removed = 0;
        foreach (var n in new GraphView(g).Nodes)
        {
            if (n.OpType == "Constant" && n.Attribute.FirstOrDefault(a => a.Name == "value")?.T is { } ct) types[n.Output[0]] = ct.DataType;
            bool toFloat = n.OpType == "Cast" && string.IsNullOrEmpty(n.Domain) && n.Attribute.Any(a => a.Name == "to" && a.I == F32);
            // The input is float32 when declared so, or when it is produced by an op that keeps its input type
            // from a float32 source; exporters of fp16 models cast float32 graph inputs, so the declared type is known.
            bool fromFloat = toFloat && (types.GetValueOrDefault(n.Input[0]) == F32 || IsFloatProducer(g, n.Input[0], types));
            if (toFloat && fromFloat && !outputs.Contains(n.Output[0]))
            {
                rename[n.Output[0]] = rename.GetValueOrDefault(n.Input[0], n.Input[0]);
                removed++;
                continue;
            }
            if (toFloat) types[n.Output[0]] = F32;
            keep.Add(n);
        }
        // Readers anywhere (subgraphs too, which may read this scope) take the cast's input.
        g.Node.Clear();
        g.Node.AddRange(keep);
        RenameInputs(g, rename);
        return removed;
    }

    /// <summary>True when every float input of the producer is float32 (after conversion all float math is).</summary>
    private static bool IsFloatProducer(GraphProto g, string tensor, Dictionary<string, int> types)
    {
        var p = g.Node.FirstOrDefault(n => n.Output.Contains(tensor));
        if (p == null) return false;
        if (p.OpType == "Cast") return p.Attribute.Any(a => a.Name == "to" && a.I == F32);
        if (p.OpType is "Shape" or "Size" or "NonZero" or "ArgMax" or "ArgMin") return false;
        return p.Input.Any(i => types.GetValueOrDefault(i) == F32) && p.Input.All(i => i.Length == 0 || !types.TryGetValue(i, out int t) || t == F32 || t == ElementTypes.Int64);
    }

    private static void RenameInputs(GraphProto g, Dictionary<string, string> rename)
    {
        foreach (var n in g.Node)
        {
            for (int k = 0; k < n.Input.Count; k++)
                if (rename.TryGetValue(n.Input[k], out var r)) n.Input[k] = r;
            foreach (var a in n.Attribute)
            {
                if (a.G != null) RenameInputs(a.G, rename);
                foreach (var sg in a.Graphs) RenameInputs(sg, rename);
            }
        }
    }

    private static TensorProto ToFloat32(TensorProto t, OnnxModel model)
    {
        float[] values;
        if (t.RawData.Length > 0 || TensorData.IsExternal(t))
        {
            var raw = model.GetRawBytes(t);
            var halves = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, Half>(raw);
            values = new float[halves.Length];
            for (int i = 0; i < halves.Length; i++) values[i] = (float)halves[i];
        }
        else
        {
            // int32_data holds the raw 16-bit patterns of float16 values.
            values = t.Int32Data.Select(bits => (float)BitConverter.UInt16BitsToHalf((ushort)bits)).ToArray();
        }
        return TensorData.FromFloats(t.Name, t.Dims.ToArray(), values);
    }
}
