using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;

namespace EvoQuant.Quantization.Dynamic;

/// <summary>Dynamic quantization: weights quantized offline, activations quantized by the runtime on
/// each run (uint8, from the tensor's own min/max), so no calibration is needed. Walks the main graph
/// and every If/Loop/Scan body (the reference tool does too), replaces each selected node in place by
/// its integer form, then drops the float weights nothing reads any more. Works on a copy.</summary>
internal sealed class DynamicRewriter
{
    public const string MicrosoftDomain = "com.microsoft";

    /// <summary>The op types dynamic quantization rewrites (ONNX Runtime's IntegerOps table, plus Gemm).</summary>
    public static IReadOnlyDictionary<string, IDynamicOpQuantizer> Quantizers { get; } = CreateQuantizers();

    private readonly ModelProto _proto;
    private readonly NodeSelector _selector;
    private readonly List<QuantizedNode> _quantized = new();
    private readonly List<SkippedNode> _skipped = new();
    private bool _usesMicrosoft;

    public DynamicRewriter(OnnxModel model, QuantizationOptions options, List<string> warnings)
    {
        Model = model;
        Options = options;
        Warnings = warnings;
        Opset = model.DefaultOpset;
        _proto = model.CloneProto();
        Names = new UniqueNames(GraphEdits.AllNames(_proto.Graph));
        _selector = new NodeSelector(options with { Format = QuantFormat.QOperator }, SelectionRegistry);
    }

    public OnnxModel Model { get; }
    public QuantizationOptions Options { get; }
    public List<string> Warnings { get; }

    /// <summary>Adds a warning once (a message repeated per node is said once).</summary>
    public void Warn(string message)
    {
        _warned ??= new HashSet<string>(Warnings, StringComparer.Ordinal);
        if (_warned.Add(message)) Warnings.Add(message);
    }
    private HashSet<string>? _warned;

    /// <summary>The resolved target and the guard its int8 weights get (activations are uint8 at run time).</summary>
    public Targets.TargetProfile Target => _target ??= Targets.TargetProfile.Resolve(Options.Target);
    private Targets.TargetProfile? _target;
    public Targets.SaturationGuard WeightGuard => Target.GuardFor(Options);
    public WeightGuardTally Tally { get; } = new();
    public long Opset { get; }
    public UniqueNames Names { get; }

    /// <summary>Float tensors that quantization replaced; dropped when nothing reads them any more.</summary>
    public HashSet<string> Replaced { get; } = new(StringComparer.Ordinal);

    public IReadOnlyList<QuantizedNode> QuantizedNodes => _quantized;
    public IReadOnlyList<SkippedNode> Skipped => _skipped;

    public ModelProto Rewrite(CancellationToken ct)
    {
        RewriteGraph(_proto.Graph, null, ct);
        RemoveUnused(_proto.Graph);
        if (_usesMicrosoft && !_proto.OpsetImport.Any(o => o.Domain == MicrosoftDomain))
            _proto.OpsetImport.Add(new OperatorSetIdProto { Domain = MicrosoftDomain, Version = 1 });
        _proto.ProducerName = "EvoQuant";
        _proto.ProducerVersion = typeof(DynamicRewriter).Assembly.GetName().Version?.ToString(3) ?? "";
        return _proto;
    }

    private void RewriteGraph(GraphProto graph, DynamicScope? parent, CancellationToken ct)
    {
        var scope = new DynamicScope(this, graph, parent);
        var result = new List<NodeProto>(graph.Node.Count);
        foreach (var node in graph.Node.ToList())
        {
            ct.ThrowIfCancellationRequested();
            // Bodies first: their weights may live in this graph, which is still intact.
            foreach (var a in node.Attribute)
            {
                if (a.G != null) RewriteGraph(a.G, scope, ct);
                foreach (var g in a.Graphs) RewriteGraph(g, scope, ct);
            }
            if (scope.Removed.Contains(node)) continue;
            result.AddRange(Quantize(node, scope) ?? new List<NodeProto> { node });
        }
        result.RemoveAll(scope.Removed.Contains);
        graph.Node.Clear();
        graph.Node.AddRange(result);
    }

    private List<NodeProto>? Quantize(NodeProto node, DynamicScope scope)
    {
        if (node.OpType == "Constant" && string.IsNullOrEmpty(node.Domain)) return null;
        if (_selector.Select(node, out string? reason) == null || !Quantizers.TryGetValue(node.OpType, out var q))
        {
            if (node.Attribute.All(a => a.G == null && a.Graphs.Count == 0))
                _skipped.Add(new SkippedNode(QuantizationPlanner.DisplayName(node), node.OpType, reason ?? "no dynamic quantizer."));
            return null;
        }
        if (Targets.TargetProfile.SlowerThanFloatWhenDynamic(node.OpType, Options) is string slow)
        {
            _skipped.Add(new SkippedNode(QuantizationPlanner.DisplayName(node), node.OpType, slow));
            return null;
        }
        var nodes = q.TryQuantize(node, scope, out reason);
        if (nodes == null)
        {
            _skipped.Add(new SkippedNode(QuantizationPlanner.DisplayName(node), node.OpType, reason!));
            return null;
        }
        _usesMicrosoft |= nodes.Any(n => n.Domain == MicrosoftDomain);
        _quantized.Add(new QuantizedNode(QuantizationPlanner.DisplayName(node), node.OpType));
        return nodes;
    }

    /// <summary>Drops replaced float weights (initializers and Constant nodes, in any graph) that no node
    /// of the model reads any more; names are unique model-wide, so one global use set is exact.</summary>
    private void RemoveUnused(GraphProto main)
    {
        var used = new HashSet<string>(StringComparer.Ordinal);
        var graphs = new List<GraphProto>();
        void Collect(GraphProto g)
        {
            graphs.Add(g);
            foreach (var n in g.Node)
            {
                foreach (var i in n.Input) used.Add(i);
                foreach (var a in n.Attribute)
                {
                    if (a.G != null) Collect(a.G);
                    foreach (var sg in a.Graphs) Collect(sg);
                }
            }
            foreach (var o in g.Output) used.Add(o.Name);
        }
        Collect(main);
        // A removed Constant may have fed only another removed node (Unsqueeze of an LSTM weight): repeat.
        bool changed = true;
        while (changed)
        {
            changed = false;
            foreach (var g in graphs)
            {
                bool Drop(string name) => !used.Contains(name) && Replaced.Contains(name);
                int before = g.Node.Count + g.Initializer.Count;
                var keepNodes = new List<NodeProto>(g.Node.Count);
                foreach (var n in g.Node)
                {
                    if (n.Output.Count == 1 && Drop(n.Output[0]) && IsPure(n))
                        foreach (var i in n.Input) Replaced.Add(i);
                    else keepNodes.Add(n);
                }
                g.Node.Clear();
                g.Node.AddRange(keepNodes);
                var inputs = g.Input.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
                var keepInit = g.Initializer.Where(t => !Drop(t.Name) || inputs.Contains(t.Name)).ToList();
                g.Initializer.Clear();
                g.Initializer.AddRange(keepInit);
                if (g.Node.Count + g.Initializer.Count != before) changed = true;
            }
            // Recount: a dropped node's inputs may now be unused.
            used.Clear();
            graphs.Clear();
            Collect(main);
        }
    }

    private static bool IsPure(NodeProto n) =>
        string.IsNullOrEmpty(n.Domain) && n.OpType is "Constant" or "Unsqueeze" or "Squeeze" or "Reshape" or "Identity" or "Slice" or "Concat" or "Transpose";

    private static Dictionary<string, IDynamicOpQuantizer> CreateQuantizers()
    {
        var matmul = new DynamicMatMulQuantizer();
        return new Dictionary<string, IDynamicOpQuantizer>(StringComparer.Ordinal)
        {
            ["MatMul"] = matmul,
            ["Gemm"] = matmul,
            ["Conv"] = new DynamicConvQuantizer(),
            ["LSTM"] = new DynamicLstmQuantizer(),
        };
    }

    /// <summary>The op types above as a registry, so that <see cref="NodeSelector"/> applies OpTypes,
    /// IncludeNodes and ExcludeNodes exactly as for static quantization.</summary>
    internal static OpQuantizerRegistry SelectionRegistry { get; } = CreateSelectionRegistry();

    private static OpQuantizerRegistry CreateSelectionRegistry()
    {
        var r = new OpQuantizerRegistry();
        foreach (var op in Quantizers.Keys) r.Register(QuantFormat.QOperator, op, SelectedOnly.Instance);
        return r;
    }

    /// <summary>Placeholder entry: selection only; the dynamic quantizers do the work.</summary>
    private sealed class SelectedOnly : IOpQuantizer
    {
        public static readonly SelectedOnly Instance = new();
        public string? TryDeclare(NodeProto node, QuantizationContext context, QuantizationPlan plan) => null;
    }
}
