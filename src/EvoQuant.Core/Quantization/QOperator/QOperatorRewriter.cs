using EvoQuant.Numerics;
using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;
using EvoQuant.Quantization.Provenance;
using EvoQuant.Quantization.Rewrite;

namespace EvoQuant.Quantization.QOperator;

/// <summary>Rewrites a model to the QOperator format from the same plan and activation parameters as
/// the QDQ rewrite: each planned node's emitter writes its integer operator (QLinearConv, QLinearMatMul, QGemm,
/// QLinearAdd ...) that reads and writes quantized tensors, data-movement ops run on those tensors
/// directly, a QuantizeLinear is inserted where a float tensor enters integer ops and a DequantizeLinear
/// (writing the original name) where a float op or a graph output reads an integer result. Works on a copy
/// and leaves the plan as it is given.</summary>
internal sealed class QOperatorRewriter : GraphRewrite
{
    private readonly QuantizationContext _ctx;
    private readonly QuantizationPlan _plan;
    private readonly IReadOnlyDictionary<string, QuantParams> _activationParams;
    private readonly List<NodeProto> _output = new();
    /// <summary>Integer version of each run-time tensor (a producer's output or a QuantizeLinear of the float).</summary>
    private readonly Dictionary<string, StoredTensor> _q = new(StringComparer.Ordinal);
    private readonly Dictionary<NodeProto, NodeProto> _originalOf = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<string, BiasRequest> _biases;
    private readonly List<string> _emitted = new();

    public QOperatorRewriter(QuantizationContext ctx, QuantizationPlan plan, IReadOnlyDictionary<string, QuantParams> activationParams, List<string> warnings)
        : base(ctx.Model, ctx.Options, warnings)
    {
        _ctx = ctx;
        _plan = plan;
        _activationParams = activationParams;
        _biases = plan.Biases.ToDictionary(b => b.Bias, StringComparer.Ordinal);
    }

    public QuantizationContext Context => _ctx;
    public QuantizationPlan Plan => _plan;

    /// <summary>Planned nodes (of the caller's graph) that the emitters had to leave in float (reported as warnings too).</summary>
    public HashSet<NodeProto> LeftFloat { get; } = new(ReferenceEqualityComparer.Instance);

    public ModelProto Rewrite(CancellationToken ct)
    {
        ConvertOldOpsetNodes();
        MapPlannedNodes();
        foreach (var node in new GraphView(Graph).Nodes)
        {
            ct.ThrowIfCancellationRequested();
            StreamNewInitializers(); // the previous node's weights
            var source = _originalOf.GetValueOrDefault(node);
            _emitted.Clear();
            if (source != null && _plan.Registrations.GetValueOrDefault(source)?.Emitter is IQOperatorEmitter e && e.TryEmit(node, this))
            {
                RecordNode(source, NodeOutcome.Quantized, _emitted);
                continue;
            }
            if (source != null)
            {
                LeftFloat.Add(source);
                string reason = node.OpType is "Clip"
                    ? $"Node '{QuantizationPlanner.DisplayName(node)}' ({node.OpType}) could not fold into its producer and runs in float between a DequantizeLinear and a QuantizeLinear (the QOperator format has no integer {node.OpType})."
                    : $"Node '{QuantizationPlanner.DisplayName(node)}' ({node.OpType}) stays float in the QOperator format: its inputs, weight or output are not all quantized.";
                Warnings.Add(reason);
                RecordNode(source, NodeOutcome.Float, new[] { NodeKey(node) }, reason);
            }
            _output.Add(node);
        }
        StreamNewInitializers();
        RecordPlanOutcomes(_ctx.Graph, _plan);
        AddDequantizeForFloatReaders();
        if (Options.ActivationType == QuantType.Int8 && _output.Any(n => n.OpType == "QLinearConv"))
            Warnings.Add("QLinearConv with int8 activations runs on a slow path of ONNX Runtime's x86 CPU kernel (about 7x slower than uint8 on fashion-cnn); ActivationType UInt8 is the fast choice for the QOperator format.");
        Graph.Node.Clear();
        Graph.Node.AddRange(_output);
        GraphEdits.RemoveUnreadConstants(Graph);
        GraphEdits.SortTopologically(Graph);
        RaiseOldOpset("QLinearConv and QuantizeLinear");
        return Finish();
    }

    // ---- structure ----

    /// <summary>Plan nodes belong to the caller's graph; the copy keeps the order, so map by index.
    /// Folded Relu/Clip go away and their producer writes their output.</summary>
    private void MapPlannedNodes()
    {
        var original = _ctx.Graph.Proto.Node;
        var index = new Dictionary<NodeProto, int>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < original.Count; i++) index[original[i]] = i;
        var copy = Graph.Node.ToList();
        foreach (var n in _plan.QuantizedNodes)
            if (index.TryGetValue(n, out int i)) _originalOf[copy[i]] = n;
        var removed = _plan.RemovedNodes.Where(index.ContainsKey).Select(n => copy[index[n]]).ToHashSet(ReferenceEqualityComparer.Instance);
        Graph.Node.Clear();
        Graph.Node.AddRange(copy.Where(n => !removed.Contains(n)));
        ApplyOutputRenames(_plan.OutputRenames);
    }


    // ---- what emitters use ----

    /// <summary>A run-time tensor with parameters in the plan (its own or shared).</summary>
    public bool Ready(params string[] tensors) =>
        tensors.All(t => t.Length > 0 && !_ctx.IsConstant(t) && _plan.Get(t) is { Role: TensorRole.Activation } && HasParams(t));

    private bool HasParams(string t) =>
        _activationParams.ContainsKey(t) || (_plan.Get(t)?.SharedWith is string s && s != t && HasParams(s));

    public bool IsWeight(string t) => _ctx.IsConstant(t) && _plan.Get(t) is { Role: TensorRole.Weight };

    public bool IsConstantInput(string t) => _ctx.IsConstant(t) && _plan.Get(t) != null;

    /// <summary>True when <paramref name="bias"/> is empty or planned as an int32 bias.</summary>
    public bool BiasReady(string bias) => bias.Length == 0 || _biases.ContainsKey(bias);

    private QuantParams[] ParamsOf(string t) =>
        _activationParams.TryGetValue(t, out var p) ? new[] { p } : ParamsOf(_plan.Get(t)!.SharedWith!);

    /// <summary>Scale and zero-point initializers of an activation; shared tensors reuse their source's.</summary>
    public (string Scale, string ZeroPoint) ParamNames(string t)
    {
        if (Store.Get(t) is { } s) return (s.Scale, s.ZeroPoint!);
        if (!_activationParams.ContainsKey(t) && _plan.Get(t)?.SharedWith is string source)
        {
            var (ss, sz) = ParamNames(source);
            Store.Remember(t, Store.Get(source)!);
            return (ss, sz);
        }
        var stored = Store.AddParams(t, t, _activationParams[t]);
        return (stored.Scale, stored.ZeroPoint!);
    }

    /// <summary>The integer version of a run-time tensor: the producer's output, or a new QuantizeLinear of the float.</summary>
    public StoredTensor Input(string t)
    {
        if (_q.TryGetValue(t, out var q)) return q;
        var (scale, zp) = ParamNames(t);
        string qName = Names.Take(TensorNames.QuantizeOutput(t));
        Add(NewNode("QuantizeLinear", null, Names.Take(TensorNames.QuantizeNode(t)), new[] { t, scale, zp }, new[] { qName }));
        q = _q[t] = new StoredTensor(qName, scale, zp, ParamsOf(t), null);
        RecordTensor(t, ProvenanceKind.Activation, q);
        return q;
    }

    /// <summary>A constant read by an integer op as an activation (Add's constant operand): quantized
    /// offline per tensor with the activation type.</summary>
    public StoredTensor Operand(string t) => _ctx.IsConstant(t) ? Constant(t, _ctx.TypeFor(t, isWeight: false), Options.ActivationSymmetric, false, null) : Input(t);

    /// <param name="forceSignedPerChannel">The kernel wants one zero point on every channel (QLinearConv):
    /// per-channel weights become symmetric int8.</param>
    public StoredTensor Weight(string t, bool forceSignedPerChannel)
    {
        var r = _plan.Get(t)!;
        var type = _ctx.TypeFor(t, isWeight: true);
        if (forceSignedPerChannel)
            type = SignedPerChannel(type, r.Axis, $"Per-channel weight '{t}' is stored as int8 instead of uint8: ONNX Runtime's QLinearConv needs the same zero point on every channel.");
        bool reduce = _ctx.WeightGuard == Targets.SaturationGuard.ReduceRange;
        return Constant(t, type, Options.WeightSymmetric || (r.Axis != null && forceSignedPerChannel), reduce, r.Axis, _ctx.PairSafeLayout(r), isWeight: true);
    }

    private StoredTensor Constant(string t, QuantType type, bool symmetric, bool reduceRange, int? axis, ReductionLayout? pairSafe = null, bool isWeight = false)
    {
        if (Store.Get(t) is { } cached) return cached;
        var c = _ctx.Constant(t)!;
        Options.TensorOverrides.TryGetValue(t, out var ov);
        var qt = WeightQuantizer.Quantize(_ctx.Model.GetFloats(c), c.Dims.ToArray(), type, symmetric, reduceRange, axis, ov, pairSafe, c.Name,
            isWeight ? Options.WeightNumerics : null);
        if (isWeight) _ctx.Tally.Count(qt);
        var stored = Store.AddQuantized(t, t, qt);
        RecordTensor(t, isWeight ? ProvenanceKind.Weight : ProvenanceKind.Activation, stored, decision: DecisionFor(qt));
        return stored;
    }

    /// <summary>An int32 bias with scale input * weight (* beta) per output channel, zero point 0. When it
    /// overflows int32, the weight's scale grows as in the QDQ format (<see cref="BiasFit"/>), if the weight is
    /// read by this node alone and not yet emitted elsewhere.</summary>
    public string Bias(string bias, StoredTensor input, string weight)
    {
        var b = _biases[bias];
        var t = _ctx.Constant(bias)!;
        var data = _ctx.Model.GetFloats(t);
        var w = Store.Get(weight)!;
        var values = BiasQuantizer.Quantize(data, input.Params[0].Scale, w.Params.Select(p => p.Scale).ToArray(), b.Beta, out bool clipped);
        if (clipped && BiasFit.WidenWeightScales(this, _ctx, b, data, input.Params[0].Scale, _ => _ctx.Graph.Consumers(weight).Count == 1))
        {
            w = Store.Get(weight)!;
            values = BiasQuantizer.Quantize(data, input.Params[0].Scale, w.Params.Select(p => p.Scale).ToArray(), b.Beta, out clipped);
        }
        if (clipped)
            Warnings.Add($"Bias '{bias}' of node '{b.NodeName}' exceeds int32 at scale input*weight and was clipped; the input or weight scale is too small for it.");
        var scales = BiasQuantizer.Scales(input.Params[0].Scale, w.Params.Select(p => p.Scale).ToArray(), b.Beta);
        var stored = Store.AddBias(bias, bias, values, t.Dims.ToArray(), null, Qdq.QdqRewriter.BiasParams(scales));
        RecordTensor(bias, ProvenanceKind.Bias, stored with { Axis = scales.Length > 1 ? 0 : null });
        return stored.Quantized;
    }

    /// <summary>Writes the integer op that replaces <paramref name="node"/>: its output is the integer form of the
    /// node's first output, with that tensor's parameters.</summary>
    public void Emit(NodeProto node, string op, string domain, List<string> inputs, IEnumerable<AttributeProto> attributes)
    {
        string y = node.Output[0];
        var (scale, zp) = ParamNames(y);
        string qy = Names.Take(TensorNames.Quantized(y));
        var n = NewNode(op, domain, QuantNodeName(node), inputs, new[] { qy });
        n.Attribute.AddRange(attributes.Select(a => a.Clone()));
        Add(n);
        _q[y] = new StoredTensor(qy, scale, zp, ParamsOf(y), null);
        RecordTensor(y, ProvenanceKind.Activation, _q[y]);
    }

    /// <summary>Runs <paramref name="node"/> itself on the integer form of its input (data movement): its output
    /// shares the input's parameters.</summary>
    public void EmitOnIntegers(NodeProto node)
    {
        string x = node.Input[0], y = node.Output[0];
        var qx = Input(x);
        var copy = node.Clone();
        copy.Input[0] = qx.Quantized;
        string qy = Names.Take(TensorNames.Quantized(y));
        copy.Output[0] = qy;
        copy.Name = QuantNodeName(node);
        Add(copy);
        _q[y] = qx with { Quantized = qy };
        RecordTensor(y, ProvenanceKind.Activation, _q[y], sharedWith: x);
    }

    private void Add(NodeProto n)
    {
        _output.Add(n);
        if (n.OpType != "QuantizeLinear" && n.Output.Count > 0) _emitted.Add(n.Output[0]);
    }

    // ---- borders, cleanup ----

    /// <summary>Float readers of a tensor now produced only in integer form (float ops, graph outputs,
    /// subgraphs) get a DequantizeLinear that writes the original name.</summary>
    private void AddDequantizeForFloatReaders()
    {
        var produced = new HashSet<string>(_output.SelectMany(n => n.Output), StringComparer.Ordinal);
        foreach (var i in Graph.Input) produced.Add(i.Name);
        foreach (var t in Graph.Initializer) produced.Add(t.Name);
        var needed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var n in _output)
        {
            foreach (var i in n.Input) needed.Add(i);
            foreach (var a in n.Attribute)
            {
                if (a.G != null) foreach (var s in GraphEdits.AllNames(a.G)) needed.Add(s);
                foreach (var sg in a.Graphs) foreach (var s in GraphEdits.AllNames(sg)) needed.Add(s);
            }
        }
        foreach (var o in Graph.Output) needed.Add(o.Name);
        foreach (var (t, q) in _q.ToList())
        {
            if (produced.Contains(t) || !needed.Contains(t) || _ctx.IsConstant(t)) continue;
            var n = NewNode("DequantizeLinear", null, Names.Take(TensorNames.DequantizeNode(t)), new[] { q.Quantized, q.Scale, q.ZeroPoint! }, new[] { t });
            // Right after the integer producer: an If/Loop body may read the float from the outer scope,
            // which a sort over explicit inputs alone would not see.
            int at = _output.FindIndex(p => p.Output.Contains(q.Quantized));
            _output.Insert(at + 1, n);
        }
    }
}
