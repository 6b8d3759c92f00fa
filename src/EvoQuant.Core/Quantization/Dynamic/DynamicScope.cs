using EvoQuant.Numerics;
using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;

namespace EvoQuant.Quantization.Dynamic;

/// <summary>One graph being rewritten by dynamic quantization (the main graph or an If/Loop/Scan
/// body), with the scope around it: subgraphs read weights from enclosing graphs, so constant
/// lookups walk outwards. New tensors go into this graph; names are unique over the whole model.</summary>
internal sealed class DynamicScope
{
    private readonly DynamicRewriter _rewriter;
    private readonly GraphView _view;
    private readonly Dictionary<string, int> _uses;
    private readonly Dictionary<string, (string Q, string Scale, string ZeroPoint)> _dynamicInputs = new(StringComparer.Ordinal);
    private readonly Dictionary<string, QuantizedWeight> _weights = new(StringComparer.Ordinal);
    private readonly Rewrite.InitializerStore _store;
    /// <summary>What the target changed in each weight quantized here (pair-safe scales), for the provenance.</summary>
    private readonly Dictionary<string, string?> _decisions = new(StringComparer.Ordinal);

    public DynamicScope(DynamicRewriter rewriter, GraphProto graph, DynamicScope? parent)
    {
        _rewriter = rewriter;
        Graph = graph;
        Parent = parent;
        _view = new GraphView(graph);
        _uses = CountUses(graph);
        _store = parent == null ? rewriter.Store : new Rewrite.InitializerStore(graph, rewriter.Names);
    }

    public GraphProto Graph { get; }
    public DynamicScope? Parent { get; }
    public QuantizationOptions Options => _rewriter.Options;
    public long Opset => _rewriter.Opset;
    public UniqueNames Names => _rewriter.Names;

    /// <summary>Nodes to drop from this graph once the pass is over (an Add folded into a bias).</summary>
    public HashSet<NodeProto> Removed { get; } = new(ReferenceEqualityComparer.Instance);

    public NodeProto? Producer(string tensor) => _view.Producer(tensor);

    /// <summary>How often a tensor is read in this graph, nested subgraphs included, plus graph outputs.</summary>
    public int Uses(string tensor) => _uses.GetValueOrDefault(tensor);

    public IReadOnlyList<NodeProto> Consumers(string tensor) => _view.Consumers(tensor);

    /// <summary>The float32 value of a tensor known offline, here or in an enclosing graph. Exporters
    /// often reshape or reorder weights with small constant subgraphs (PyTorch's LSTM gate order is
    /// Slice + Concat + Unsqueeze of the parameter): those are folded here.</summary>
    public (float[] Data, long[] Dims)? FloatConstant(string tensor) => ConstantFolder.Fold(this, tensor);

    /// <summary>The constant tensor of this name in this graph or an enclosing one (no folding).</summary>
    public TensorProto? RawConstant(string tensor)
    {
        for (var s = this; s != null; s = s.Parent)
            if (s._view.GetConstant(tensor) is { } t) return t;
        return null;
    }

    /// <summary>The node that computes a tensor, in this graph or the nearest enclosing one that does.</summary>
    public NodeProto? ScopedProducer(string tensor)
    {
        for (var s = this; s != null; s = s.Parent)
        {
            if (s._view.GetConstant(tensor) != null) return null;
            if (s._view.Producer(tensor) is { } p) return p;
        }
        return null;
    }

    public long[]? IntConstant(string tensor) =>
        RawConstant(tensor) is { } t && t.DataType is ElementTypes.Int64 or ElementTypes.Int32
            ? (t.DataType == ElementTypes.Int64
                ? System.Runtime.InteropServices.MemoryMarshal.Cast<byte, long>(_rewriter.Model.GetRawBytes(t)).ToArray()
                : System.Runtime.InteropServices.MemoryMarshal.Cast<byte, int>(_rewriter.Model.GetRawBytes(t)).ToArray().Select(v => (long)v).ToArray())
            : null;

    /// <summary>The graph that holds a tensor's value (this one or an enclosing one): quantized weights go
    /// there, so that the branches of an If that share a weight share its integer copy too.</summary>
    public DynamicScope OwnerOf(string tensor)
    {
        for (var s = this; s != null; s = s.Parent)
            if (s._view.GetConstant(tensor) != null || s._view.Producer(tensor) != null) return s;
        return this;
    }

    public float[] Floats(TensorProto t) => _rewriter.Model.GetFloats(t);

    internal Dictionary<string, (float[], long[])?> FoldCache { get; } = new(StringComparer.Ordinal);

    public void AddInitializer(TensorProto t) => Graph.Initializer.Add(t);

    public void Warn(string message) => _rewriter.WarnOnce(message);

    /// <summary>Notes that an emitted node uses <paramref name="domain"/>, so that the model imports it.</summary>
    public void UseDomain(string domain) => _rewriter.UseDomain(domain);

    /// <summary>A node this graph no longer needs because <paramref name="into"/>'s quantized form computes it
    /// too (an Add of a constant folded into DynamicQuantizeMatMul's bias).</summary>
    public void Fold(NodeProto node, NodeProto into)
    {
        Removed.Add(node);
        _rewriter.RecordNode(node, Provenance.NodeOutcome.Folded, Array.Empty<string>(), "its constant became the bias of the quantized MatMul.", Rewrite.GraphRewrite.NodeKey(into));
    }

    /// <summary>Records a run-time input the quantized op quantizes inside itself (no tensor holds the integers).</summary>
    public void RecordQuantizedInside(string tensor)
    {
        if (!_rewriter.Provenance.Tensors.ContainsKey(tensor))
            _rewriter.Provenance.AddTensor(new Provenance.TensorProvenance(tensor, Provenance.ProvenanceKind.Activation, null, null, null));
    }

    public void MarkReplaced(string tensor) => _rewriter.Replaced.Add(tensor);

    /// <summary>A weight quantized once per graph (several nodes may share it), stored with its
    /// scale and zero point (one per channel along <paramref name="axis"/> when given).</summary>
    /// <param name="layout">How the integer kernel walks the weight, for the pair-safe guard.</param>
    public QuantizedWeight Weight(string tensor, float[] data, long[] dims, int? axis, QuantType type, ReductionLayout? layout, string key = "")
    {
        string cacheKey = $"{tensor}|{axis}|{type}|{key}";
        if (_weights.TryGetValue(cacheKey, out var w)) return w;
        Options.TensorOverrides.TryGetValue(tensor, out var ov);
        var guard = _rewriter.WeightGuard;
        var qt = WeightQuantizer.Quantize(data, dims, type, Options.WeightSymmetric, guard == Targets.SaturationGuard.ReduceRange, axis, ov,
            guard == Targets.SaturationGuard.PairSafe ? layout : null, tensor, Options.WeightNumerics);
        _rewriter.Context.Tally.Count(qt);
        if (axis != null && !Options.PerChannel) _rewriter.PerChannelByValues++;
        _decisions[tensor] = Rewrite.GraphRewrite.DecisionFor(qt);
        w = new QuantizedWeight(tensor, qt);
        // Kept only for a weight read more than once: a cached copy would keep every streamed weight alive.
        if (Uses(tensor) > 1) _weights[cacheKey] = w;
        MarkReplaced(tensor);
        return w;
    }

    /// <summary>Stores a quantized weight (data reshaped or transposed by the caller) with its parameters,
    /// named after <paramref name="name"/> (the source, or a name for its new layout), and records it as the
    /// quantized form of <paramref name="source"/>; <paramref name="axis"/> is the axis of the stored layout that the
    /// parameters run along, for the provenance.</summary>
    public (string Data, string Scale, string ZeroPoint) Store(string source, string name, byte[] raw, long[] dims, QuantType type, QuantParams[] ps, long[]? paramDims, int? axis,
        IReadOnlyList<int>? permutation = null)
    {
        // A weight read by several nodes of this graph in the same layout is stored once.
        string key = $"{name}|{string.Join(",", dims)}|{type}|{ps.Length}";
        var stored = _store.Get(key) ?? _store.AddQuantized(key, name, raw, dims, type, ps, axis,
            paramDims ?? (ps.Length == 1 ? Array.Empty<long>() : new long[] { ps.Length }));
        _rewriter.RecordTensor(source, Provenance.ProvenanceKind.Weight, stored, decision: _decisions.GetValueOrDefault(source), permutation: permutation);
        return (stored.Quantized, stored.Scale, stored.ZeroPoint!);
    }

    /// <summary>DynamicQuantizeLinear of a run-time tensor, shared by every consumer in this graph.</summary>
    public (string Q, string Scale, string ZeroPoint) DynamicInput(string tensor, List<NodeProto> nodes)
    {
        if (_dynamicInputs.TryGetValue(tensor, out var r)) return r;
        r = (Names.Take(TensorNames.Quantized(tensor)), Names.Take(TensorNames.Scale(tensor)), Names.Take(TensorNames.ZeroPoint(tensor)));
        var n = new NodeProto { OpType = "DynamicQuantizeLinear", Name = Names.Take(tensor + "_DynamicQuantizeLinear") };
        n.Input.Add(tensor);
        n.Output.Add(r.Q);
        n.Output.Add(r.Scale);
        n.Output.Add(r.ZeroPoint);
        nodes.Add(n);
        _dynamicInputs[tensor] = r;
        _rewriter.RecordTensor(tensor, Provenance.ProvenanceKind.Activation, new Rewrite.StoredTensor(r.Q, r.Scale, r.ZeroPoint, Array.Empty<QuantParams>(), null));
        return r;
    }

    private static Dictionary<string, int> CountUses(GraphProto g)
    {
        var uses = new Dictionary<string, int>(StringComparer.Ordinal);
        void Count(GraphProto graph)
        {
            foreach (var n in graph.Node)
            {
                foreach (var i in n.Input) if (i.Length > 0) uses[i] = uses.GetValueOrDefault(i) + 1;
                foreach (var a in n.Attribute)
                {
                    if (a.G != null) Count(a.G);
                    foreach (var sg in a.Graphs) Count(sg);
                }
            }
            foreach (var o in graph.Output) uses[o.Name] = uses.GetValueOrDefault(o.Name) + 1;
        }
        Count(g);
        return uses;
    }
}

/// <summary>A weight quantized offline, before it is laid out for its consumer.</summary>
internal sealed record QuantizedWeight(string Name, QuantizedTensor Tensor);
