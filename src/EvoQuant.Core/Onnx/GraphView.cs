using EvoQuant.Onnx.Proto;
using Google.Protobuf;

namespace EvoQuant.Onnx;

/// <summary>Read-only lookups over a graph: nodes in topological order, the producer and consumers of
/// each tensor, value infos, and constants. Constant nodes count as initializers, because exporters
/// (PaddleOCR's among them) keep weights there.</summary>
public sealed class GraphView
{
    private readonly GraphProto _graph;
    private readonly Dictionary<string, NodeProto> _producer = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<NodeProto>> _consumers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, TensorProto> _constants = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ValueInfoProto> _valueInfo = new(StringComparer.Ordinal);
    private readonly HashSet<string> _initializerNames = new(StringComparer.Ordinal);
    private IReadOnlyList<NodeProto>? _sorted;

    public GraphView(GraphProto graph)
    {
        _graph = graph ?? throw new ArgumentNullException(nameof(graph));
        foreach (var t in graph.Initializer)
        {
            _constants[t.Name] = t;
            _initializerNames.Add(t.Name);
        }
        foreach (var vi in graph.ValueInfo) _valueInfo[vi.Name] = vi;
        foreach (var vi in graph.Input) _valueInfo[vi.Name] = vi;
        foreach (var vi in graph.Output) _valueInfo[vi.Name] = vi;
        foreach (var n in graph.Node)
        {
            foreach (var o in n.Output)
                if (o.Length > 0) _producer[o] = n;
            foreach (var i in n.Input)
            {
                if (i.Length == 0) continue; // an omitted optional input
                if (!_consumers.TryGetValue(i, out var list)) _consumers[i] = list = new List<NodeProto>();
                if (list.Count == 0 || !ReferenceEquals(list[^1], n)) list.Add(n); // a node reading a tensor twice counts once
            }
            if (n.OpType == "Constant" && string.IsNullOrEmpty(n.Domain) && n.Output.Count == 1)
            {
                var value = ConstantValue(n);
                if (value != null) _constants[n.Output[0]] = value;
            }
        }
    }

    public GraphProto Proto => _graph;

    /// <summary>Nodes in a topological order (stable: the file's order where it is already valid).</summary>
    public IReadOnlyList<NodeProto> Nodes => _sorted ??= TopologicalSort();

    public NodeProto? Producer(string tensor) => _producer.GetValueOrDefault(tensor);

    public IReadOnlyList<NodeProto> Consumers(string tensor) =>
        _consumers.TryGetValue(tensor, out var list) ? list : Array.Empty<NodeProto>();

    public ValueInfoProto? ValueInfo(string tensor) => _valueInfo.GetValueOrDefault(tensor);

    /// <summary>Graph inputs that are fed at run time (initializers listed as inputs are excluded).</summary>
    public IEnumerable<ValueInfoProto> RuntimeInputs => _graph.Input.Where(i => !_initializerNames.Contains(i.Name));

    public bool IsGraphOutput(string tensor) => (_outputs ??= _graph.Output.Select(o => o.Name).ToHashSet(StringComparer.Ordinal)).Contains(tensor);
    private HashSet<string>? _outputs;

    /// <summary>True for initializers and Constant-node outputs: tensors whose value is known offline.</summary>
    public bool IsConstant(string tensor) => _constants.ContainsKey(tensor);

    public bool IsInitializer(string tensor) => _initializerNames.Contains(tensor);

    /// <summary>The value of an initializer or Constant node output, or null.</summary>
    public TensorProto? GetConstant(string tensor) => _constants.GetValueOrDefault(tensor);

    /// <summary>Initializers and Constant-node values, by tensor name.</summary>
    public IReadOnlyDictionary<string, TensorProto> Constants => _constants;

    /// <summary>Element type of a tensor if the graph declares it (value_info, inputs, outputs, constants).</summary>
    public int? ElementType(string tensor)
    {
        if (_constants.TryGetValue(tensor, out var t)) return t.DataType;
        var vi = ValueInfo(tensor);
        return vi?.Type?.TensorType != null && vi.Type.TensorType.HasElemType ? vi.Type.TensorType.ElemType : null;
    }

    /// <summary>The tensor a Constant node produces, from whichever value attribute it uses.</summary>
    public static TensorProto? ConstantValue(NodeProto node)
    {
        string name = node.Output.Count > 0 ? node.Output[0] : node.Name;
        foreach (var a in node.Attribute)
        {
            switch (a.Name)
            {
                case "value" when a.T != null:
                    var t = a.T.Clone();
                    t.Name = name;
                    return t;
                case "value_float":
                    return TensorData.Scalar(name, ElementTypes.Float, a.F);
                case "value_floats":
                    return TensorData.FromFloats(name, new long[] { a.Floats.Count }, a.Floats.ToArray());
                case "value_int":
                    return TensorData.Scalar(name, ElementTypes.Int64, a.I);
                case "value_ints":
                    return TensorData.FromArray(name, ElementTypes.Int64, new long[] { a.Ints.Count }, a.Ints.ToArray().AsSpan());
            }
        }
        return null; // sparse or string constants are not weights
    }

    /// <summary>The graph and every If/Loop/Scan body nested in it, each before its own bodies (pre-order).</summary>
    public static IEnumerable<GraphProto> WithSubgraphs(GraphProto graph)
    {
        yield return graph;
        foreach (var n in graph.Node)
            foreach (var a in n.Attribute)
            {
                if (a.G != null) foreach (var inner in WithSubgraphs(a.G)) yield return inner;
                foreach (var sg in a.Graphs) foreach (var inner in WithSubgraphs(sg)) yield return inner;
            }
    }

    /// <summary>Names a node's subgraphs read but do not define themselves (outer-scope values).</summary>
    public static IEnumerable<string> OuterScopeReads(NodeProto node)
    {
        var result = new HashSet<string>(StringComparer.Ordinal);
        foreach (var a in node.Attribute)
        {
            if (a.G != null) CollectOuterReads(a.G, result);
            foreach (var g in a.Graphs) CollectOuterReads(g, result);
        }
        return result;
    }

    private static void CollectOuterReads(GraphProto g, HashSet<string> reads)
    {
        var defined = new HashSet<string>(g.Input.Select(i => i.Name).Concat(g.Initializer.Select(t => t.Name)), StringComparer.Ordinal);
        foreach (var n in g.Node) foreach (var o in n.Output) defined.Add(o);
        foreach (var n in g.Node)
        {
            foreach (var i in n.Input) if (i.Length > 0 && !defined.Contains(i)) reads.Add(i);
            foreach (var inner in OuterScopeReads(n)) if (!defined.Contains(inner)) reads.Add(inner);
        }
    }

    private IReadOnlyList<NodeProto> TopologicalSort()
    {
        var nodes = _graph.Node;
        var declared = new HashSet<string>(StringComparer.Ordinal) { "" };
        foreach (var i in _graph.Input) declared.Add(i.Name);
        foreach (var t in _graph.Initializer) declared.Add(t.Name);
        foreach (var s in _graph.SparseInitializer) if (s.Values != null) declared.Add(s.Values.Name);

        var index = new Dictionary<NodeProto, int>(nodes.Count, ReferenceEqualityComparer.Instance);
        for (int k = 0; k < nodes.Count; k++) index[nodes[k]] = k;
        // A node waits for the producers of its inputs and of what its subgraphs (If/Loop/Scan bodies)
        // read from this graph: those bodies run inside the node. Names produced by no node are inputs,
        // outer-scope values or missing: either way they do not order nodes here.
        var waitingFor = new int[nodes.Count];
        var dependents = new List<int>?[nodes.Count];
        for (int k = 0; k < nodes.Count; k++)
        {
            var producers = new HashSet<int>();
            foreach (var i in nodes[k].Input.Concat(OuterScopeReads(nodes[k])))
                if (!declared.Contains(i) && _producer.TryGetValue(i, out var p)) producers.Add(index[p]);
            foreach (int p in producers) (dependents[p] ??= new List<int>()).Add(k);
            waitingFor[k] = producers.Count;
        }

        // The order of the earlier algorithm (repeated passes over the file order, taking every node whose
        // producers are taken), kept so outputs stay byte-identical, in O((n + e) log n): a node freed by
        // a node before it in the file joins the current pass, one freed by a later node the next pass.
        // A graph already in order is one pass in file order.
        var result = new List<NodeProto>(nodes.Count);
        var current = new PriorityQueue<int, int>();
        var next = new PriorityQueue<int, int>();
        for (int k = 0; k < nodes.Count; k++) if (waitingFor[k] == 0) current.Enqueue(k, k);
        while (current.Count > 0)
        {
            while (current.TryDequeue(out int k, out _))
            {
                result.Add(nodes[k]);
                if (dependents[k] is not { } freed) continue;
                foreach (int d in freed)
                    if (--waitingFor[d] == 0) (d > k ? current : next).Enqueue(d, d);
            }
            (current, next) = (next, current);
        }
        if (result.Count < nodes.Count)
        {
            var stuck = nodes.Where((_, k) => waitingFor[k] > 0).Take(3).Select(n => $"'{n.Name}' ({n.OpType})");
            throw new InvalidOperationException($"the graph has a cycle; nodes that can never run include {string.Join(", ", stuck)}.");
        }
        return result;
    }
}
