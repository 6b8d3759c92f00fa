using EvoQuant.Onnx.Proto;

namespace EvoQuant.Quantization.WeightOnly;

/// <summary>Raising a model to opset 21 (IR 10), where DequantizeLinear takes block_size and int4/uint4 exist.
/// From opset 13 on, the ops whose meaning changed up to 21 are the reductions that took their axes as an
/// input in 18 (ReduceSum already did in 13): their axes attribute becomes an int64 initializer. Older models,
/// and ops whose 21 form differs in ways not converted here, are refused by <see cref="Blocker"/>.</summary>
internal static class Opset21Upgrade
{
    public const long Opset = 21;
    public const long IrVersion = 10;

    private static readonly HashSet<string> AxesToInput = new(StringComparer.Ordinal)
    {
        "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare",
    };

    // Ops whose opset-21 form means something else than their form before 20 (mode names, scale shapes, axis inputs).
    private static readonly HashSet<string> Changed = new(StringComparer.Ordinal) { "GridSample", "GroupNormalization", "DFT" };

    /// <summary>Null when the model can be raised to opset 21, else why not.</summary>
    public static string? Blocker(ModelProto model)
    {
        long opset = DefaultOpset(model);
        if (opset >= Opset) return null;
        if (opset < 13) return $"the model uses opset {opset}; the DequantizeLinear form raises it to 21, which is converted from opset 13 on (Softmax, Split, Squeeze and others changed meaning in 13). Convert it to opset 13 or later first, or use the MatMulNBits form.";
        foreach (var g in Onnx.GraphView.WithSubgraphs(model.Graph))
            foreach (var n in g.Node)
                if (string.IsNullOrEmpty(n.Domain) && Changed.Contains(n.OpType))
                    return $"its {n.OpType} node '{n.Name}' changed meaning between opset {opset} and 21; use the MatMulNBits form.";
        return null;
    }

    public static void Raise(ModelProto model, UniqueNames names, List<string> warnings)
    {
        long opset = DefaultOpset(model);
        if (model.IrVersion < IrVersion) model.IrVersion = IrVersion;
        if (opset >= Opset) return;
        if (Blocker(model) is string blocker) throw new QuantizationException($"The model cannot be raised to opset 21: {blocker}");
        if (opset < 18)
            foreach (var g in Onnx.GraphView.WithSubgraphs(model.Graph))
                foreach (var n in g.Node.Where(n => string.IsNullOrEmpty(n.Domain) && AxesToInput.Contains(n.OpType)))
                {
                    var axes = n.Attribute.FirstOrDefault(a => a.Name == "axes");
                    if (axes == null) continue;
                    string name = names.Take((n.Name.Length > 0 ? n.Name : n.Output[0]) + "_axes");
                    // Initializers of the main graph are visible in every subgraph.
                    model.Graph.Initializer.Add(Onnx.TensorData.FromArray<long>(name, Onnx.ElementTypes.Int64, new long[] { axes.Ints.Count }, axes.Ints.ToArray()));
                    while (n.Input.Count < 1) n.Input.Add("");
                    n.Input.Add(name);
                    n.Attribute.Remove(axes);
                }
        foreach (var o in model.OpsetImport.Where(o => o.Domain is "" or "ai.onnx")) o.Version = Opset;
        warnings.Add($"The model's opset was raised from {opset} to {Opset} (IR {model.IrVersion}), where DequantizeLinear takes block_size and int4 exists{(opset < 18 ? "; reductions now take their axes as an input" : "")}.");
    }

    private static long DefaultOpset(ModelProto model) => model.OpsetImport.FirstOrDefault(o => o.Domain is "" or "ai.onnx")?.Version ?? 1;
}
