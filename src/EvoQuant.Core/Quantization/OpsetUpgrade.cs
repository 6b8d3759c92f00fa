using EvoQuant.Onnx.Proto;

namespace EvoQuant.Quantization;

/// <summary>Raising a model from opset 9 to 10, where QuantizeLinear, DequantizeLinear and QLinearConv
/// appear. Slice and TopK took their attributes as inputs in opset 10: they are converted exactly. A
/// model with Upsample (deprecated in 10) or a used Dropout mask (bool in 10) is left alone. Needed even
/// with the com.microsoft Q/DQ ops: ONNX Runtime fuses DQ-Conv-Q into an opset-9 QLinearConv that does
/// not exist.</summary>
internal static class OpsetUpgrade
{
    public const long QdqOpset = 10;

    /// <summary>Null when the graph can be raised to opset 10 as is, else the first op that prevents it.</summary>
    public static string? BlockerForOpset10(GraphProto graph)
    {
        foreach (var n in AllNodes(graph))
        {
            if (!string.IsNullOrEmpty(n.Domain) && n.Domain != "ai.onnx") continue;
            if (IsConverted(n) && !graph.Node.Contains(n)) return $"{n.OpType} in a subgraph ('{n.Name}')";
            switch (n.OpType)
            {
                case "Upsample":
                    return $"{n.OpType} ('{n.Name}')";
                case "Dropout" when n.Output.Count > 1 && n.Output[1].Length > 0:
                    return $"Dropout with a mask output ('{n.Name}')";
            }
        }
        return null;
    }

    /// <summary>Rewrites the opset-9 Slice and TopK of the main graph to their opset-10 form (attributes
    /// become int64 initializer inputs). Returns false when a subgraph holds one (left to the user).</summary>
    public static bool ConvertNodesTo10(GraphProto graph, UniqueNames names)
    {
        if (graph.Node.SelectMany(n => n.Attribute).Any(a => (a.G != null && AllNodes(a.G).Any(IsConverted)) || a.Graphs.Any(g => AllNodes(g).Any(IsConverted))))
            return false;
        foreach (var n in graph.Node.Where(IsConverted))
        {
            string Add(string suffix, long[] values)
            {
                string name = names.Take($"{n.Name}_{suffix}");
                graph.Initializer.Add(Onnx.TensorData.FromArray<long>(name, Onnx.ElementTypes.Int64, new long[] { values.Length }, values));
                return name;
            }
            long[] Ints(string attr) => n.Attribute.FirstOrDefault(a => a.Name == attr)?.Ints.ToArray() ?? Array.Empty<long>();
            if (n.OpType == "Slice")
            {
                var starts = Ints("starts");
                var axes = n.Attribute.Any(a => a.Name == "axes") ? Ints("axes") : Enumerable.Range(0, starts.Length).Select(i => (long)i).ToArray();
                n.Input.Add(Add("starts", starts));
                n.Input.Add(Add("ends", Ints("ends")));
                n.Input.Add(Add("axes", axes));
            }
            else // TopK
            {
                long k = n.Attribute.First(a => a.Name == "k").I;
                n.Input.Add(Add("k", new[] { k }));
            }
            var keep = n.Attribute.Where(a => a.Name is not ("starts" or "ends" or "axes" or "k")).ToList();
            n.Attribute.Clear();
            n.Attribute.AddRange(keep);
        }
        return true;
    }

    private static bool IsConverted(NodeProto n) =>
        (string.IsNullOrEmpty(n.Domain) || n.Domain == "ai.onnx") && n.OpType is "Slice" or "TopK";

    private static IEnumerable<NodeProto> AllNodes(GraphProto g)
    {
        foreach (var n in g.Node)
        {
            yield return n;
            foreach (var a in n.Attribute)
            {
                if (a.G != null) foreach (var s in AllNodes(a.G)) yield return s;
                foreach (var sg in a.Graphs) foreach (var s in AllNodes(sg)) yield return s;
            }
        }
    }
}
