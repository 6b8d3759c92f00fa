using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;

namespace EvoQuant.Evaluation;

/// <summary>The branch model being built: copies of candidate nodes and constants under prefixed names
/// (each constant once), so copies of many nodes can live in one graph.</summary>
internal sealed class BranchGraph(GraphView candidate, GraphProto target)
{
    private readonly Dictionary<string, string> _copied = new(StringComparer.Ordinal);

    public GraphProto Proto => target;

    /// <summary>Adds a copy of a Q or DQ node reading <paramref name="firstInput"/> (or its own first input,
    /// copied as a constant), with its constant inputs copied; returns the copy's output.</summary>
    public string CopyNode(NodeProto n, string output, List<NodeProto> nodes, string? constantInput, string? firstInput = null)
    {
        var copy = n.Clone();
        copy.Name = output;
        copy.Input.Clear();
        for (int i = 0; i < n.Input.Count; i++)
        {
            string x = n.Input[i];
            if (i == 0) copy.Input.Add(firstInput ?? CopyConstant(constantInput ?? x));
            else copy.Input.Add(x.Length == 0 ? "" : CopyConstant(x));
        }
        copy.Output.Clear();
        copy.Output.Add(output);
        nodes.Add(copy);
        return output;
    }

    /// <summary>Adds a QuantizeLinear or DequantizeLinear of <paramref name="input"/> with the candidate's
    /// constant scale and zero point; returns its output.</summary>
    public string AddQdq(string op, string name, string input, string scale, string? zeroPoint, int? axis, List<NodeProto> nodes)
    {
        var n = new NodeProto { OpType = op, Name = name };
        n.Input.Add(input);
        n.Input.Add(CopyConstant(scale));
        if (zeroPoint != null) n.Input.Add(CopyConstant(zeroPoint));
        if (axis is int a) n.Attribute.Add(new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = a });
        n.Output.Add(name);
        nodes.Add(n);
        return name;
    }

    /// <summary>Copies a candidate constant (initializer or Constant node) into the branch model under a
    /// prefixed name, once.</summary>
    public string CopyConstant(string name)
    {
        if (_copied.TryGetValue(name, out var done)) return done;
        var t = candidate.GetConstant(name) ?? throw new InvalidOperationException($"Candidate tensor '{name}' is not a constant.");
        var clone = t.Clone();
        clone.Name = PerTensorPlan.Prefix + "c/" + name;
        target.Initializer.Add(clone);
        _copied[name] = clone.Name;
        return clone.Name;
    }
}

/// <summary>Adds graph outputs (untyped: ONNX Runtime infers their types), once per tensor; graph
/// inputs are exposed through an Identity, as an input cannot also be an output name of a node.</summary>
internal sealed class OutputAdder
{
    private readonly GraphProto _g;
    private readonly string _tag;
    private readonly Dictionary<string, string> _done = new(StringComparer.Ordinal);
    private readonly HashSet<string> _inputs;

    public OutputAdder(GraphProto g, string tag)
    {
        _g = g;
        _tag = tag;
        _inputs = g.Input.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var o in g.Output) _done[o.Name] = o.Name;
    }

    public string Expose(string tensor)
    {
        if (_done.TryGetValue(tensor, out var name)) return name;
        name = tensor;
        if (_inputs.Contains(tensor))
        {
            name = $"{PerTensorPlan.Prefix}{_tag}/{tensor}";
            var id = new NodeProto { OpType = "Identity", Name = name };
            id.Input.Add(tensor);
            id.Output.Add(name);
            _g.Node.Add(id);
        }
        _g.Output.Add(new ValueInfoProto { Name = name });
        _done[tensor] = name;
        return name;
    }
}
