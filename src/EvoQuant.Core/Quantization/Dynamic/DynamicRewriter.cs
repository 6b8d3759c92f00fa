using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;
using EvoQuant.Quantization.Provenance;

namespace EvoQuant.Quantization.Dynamic;

/// <summary>Dynamic quantization: weights quantized offline, activations quantized by the runtime on
/// each run (uint8, from the tensor's own min/max), so no calibration is needed. Walks the main graph
/// and every If/Loop/Scan body (the reference tool does too), replaces each selected node in place by
/// its integer form, then drops the float weights nothing reads any more. Works on a copy.</summary>
internal sealed class DynamicRewriter : Rewrite.GraphRewrite
{
    private readonly NodeSelector _selector;
    private readonly QuantizationPlan _plan = new();
    private readonly List<QuantizedNode> _quantized = new();
    private readonly List<SkippedNode> _skipped = new();

    public DynamicRewriter(OnnxModel model, QuantizationOptions options, OpQuantizerRegistry registry, List<string> warnings)
        : base(model, options, warnings)
    {
        Context = new QuantizationContext(model, options);
        _selector = new NodeSelector(options, registry, Context.Graph);
    }

    /// <summary>The line of TargetDecisions naming the node a structural rule kept float, if any.</summary>
    public string? KeptFloatDecision => _selector.KeptFloatDecision;

    /// <summary>What declarers may ask about the model (the main graph); also the target and its weight guard.</summary>
    public QuantizationContext Context { get; }

    /// <summary>The resolved target and the guard its int8 weights get (activations are uint8 at run time).</summary>
    public Targets.TargetProfile Target => Context.Target;
    public Targets.SaturationGuard WeightGuard => Context.WeightGuard;

    /// <summary>Weights given per-channel scales because their values asked for it (<see cref="QuantizationOptions.PerChannelWhereItPays"/>).</summary>
    public int PerChannelByValues { get; set; }

    public IReadOnlyList<QuantizedNode> QuantizedNodes => _quantized;
    public IReadOnlyList<SkippedNode> Skipped => _skipped;

    public ModelProto Rewrite(CancellationToken ct)
    {
        RewriteGraph(Graph, null, ct);
        GraphEdits.RemoveReplacedModelWide(Graph, Replaced);
        return Finish();
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
            StreamNewInitializers();
        }
        result.RemoveAll(scope.Removed.Contains);
        graph.Node.Clear();
        graph.Node.AddRange(result);
    }

    private List<NodeProto>? Quantize(NodeProto node, DynamicScope scope)
    {
        if (node.OpType == "Constant" && string.IsNullOrEmpty(node.Domain)) return null;
        var registration = _selector.SelectRegistration(node, out string? reason);
        if (registration?.Emitter is not IDynamicEmitter emitter)
        {
            if (node.Attribute.All(a => a.G == null && a.Graphs.Count == 0)) Skip(node, reason ?? "no dynamic quantizer.");
            return null;
        }
        if (Targets.TargetProfile.SlowerThanFloatWhenDynamic(node.OpType, Options) is string slow)
        {
            Skip(node, slow);
            return null;
        }
        // Declarers see the main graph; weights of If/Loop/Scan bodies are checked by the emitter in their scope.
        reason = registration.Declarer.TryDeclare(node, Context, _plan);
        var nodes = reason == null ? emitter.TryEmit(node, scope, out reason) : null;
        if (nodes == null)
        {
            Skip(node, reason!);
            return null;
        }
        foreach (var n in nodes) UseDomain(n.Domain);
        _quantized.Add(new QuantizedNode(QuantizationPlanner.DisplayName(node), node.OpType));
        RecordNode(node, NodeOutcome.Quantized, nodes.Select(NodeKey));
        return nodes;
    }

    private void Skip(NodeProto node, string reason)
    {
        _skipped.Add(new SkippedNode(QuantizationPlanner.DisplayName(node), node.OpType, reason));
        RecordNode(node, NodeOutcome.Float, new[] { NodeKey(node) }, reason);
    }
}
