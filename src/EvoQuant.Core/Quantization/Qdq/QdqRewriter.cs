using EvoQuant.Numerics;
using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;
using EvoQuant.Quantization.Provenance;
using EvoQuant.Quantization.Rewrite;

namespace EvoQuant.Quantization.Qdq;

/// <summary>Rewrites a model to the QDQ format from a plan: QuantizeLinear/DequantizeLinear pairs on
/// activations (shared, or one per consumer), integer weights with a DequantizeLinear (per axis when per
/// channel), int32 biases, removal of folded activations and of float weights no longer used, opset imports
/// and a topological node order; then each planned node's emitter finishes it. Works on a copy.</summary>
internal sealed class QdqRewriter : GraphRewrite
{
    private readonly QuantizationContext _ctx;
    private readonly QuantizationPlan _plan;
    private readonly IReadOnlyDictionary<string, QuantParams> _activationParams;
    private readonly string _qdqDomain;
    private readonly List<NodeProto> _newNodes = new();
    /// <summary>Consumers of each tensor in the copy, as (node, input index); built once, before any Q/DQ exists.</summary>
    private readonly Dictionary<string, List<(NodeProto Node, int Index)>> _consumers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, NodeProto> _producers = new(StringComparer.Ordinal);
    /// <summary>Planned nodes of the caller's graph and their copies.</summary>
    private readonly Dictionary<NodeProto, NodeProto> _copyOf = new(ReferenceEqualityComparer.Instance);
    private bool _usesAxis;

    public QdqRewriter(QuantizationContext ctx, QuantizationPlan plan, IReadOnlyDictionary<string, QuantParams> activationParams, List<string> warnings)
        : base(ctx.Model, ctx.Options, warnings)
    {
        _ctx = ctx;
        _plan = plan;
        _activationParams = activationParams;
        _qdqDomain = ctx.Options.UseContribOps || (NeedsOpset21Types() && ctx.Opset < 21) ? MicrosoftDomain : "";
    }

    /// <summary>The ONNX domain the Q/DQ nodes use: com.microsoft carries 16- and 4-bit types before opset 21, as in the reference tool.</summary>
    public string QdqDomain => _qdqDomain;

    public ModelProto Rewrite(CancellationToken ct)
    {
        ConvertOldOpsetNodes();
        RemoveFoldedNodes();
        IndexGraph();
        foreach (var r in _plan.Tensors.Where(r => r.SharedWith == null))
        {
            ct.ThrowIfCancellationRequested();
            if (_ctx.IsConstant(r.Name)) QuantizeConstant(r);
            else QuantizeActivation(r.Name);
            StreamNewInitializers();
        }
        // Shared tensors follow their source, which may itself be shared: resolve in waves.
        var pending = _plan.Tensors.Where(r => r.SharedWith != null).ToList();
        while (pending.Count > 0)
        {
            ct.ThrowIfCancellationRequested();
            var ready = pending.Where(r => Store.Contains(r.SharedWith!)).ToList();
            if (ready.Count == 0)
            {
                foreach (var r in pending) Warnings.Add($"Tensor '{r.Name}' was to share the parameters of '{r.SharedWith}', which is not quantized; it stays float.");
                break;
            }
            foreach (var r in ready)
            {
                var src = Store.Get(r.SharedWith!)!;
                AddQdqPair(r.Name, src, r.SharedWith);
                pending.Remove(r);
            }
        }
        foreach (var b in _plan.Biases)
        {
            ct.ThrowIfCancellationRequested();
            QuantizeBias(b);
            StreamNewInitializers();
        }
        foreach (var n in _plan.QuantizedNodes)
            if (_copyOf.TryGetValue(n, out var copy) && _plan.Registrations.GetValueOrDefault(n)?.Emitter is IQdqEmitter e) e.Emit(n, copy, this);
        RecordPlanOutcomes(_ctx.Graph, _plan);
        GraphEdits.RemoveReplacedConstants(Graph, Graph.Node.Concat(_newNodes), Replaced);
        Graph.Node.AddRange(_newNodes);
        FixOpsets();
        GraphEdits.SortTopologically(Graph);
        return Finish();
    }

    // ---- for emitters ----

    /// <summary>The DequantizeLinear this rewrite added that produces <paramref name="tensor"/>, or null.</summary>
    internal NodeProto? AddedDequantizeOf(string tensor) =>
        _newNodes.FirstOrDefault(n => n.OpType == "DequantizeLinear" && n.Output.Count == 1 && n.Output[0] == tensor);

    /// <summary>Adds nodes an emitter made.</summary>
    internal void AddNodes(IEnumerable<NodeProto> nodes) => _newNodes.AddRange(nodes);

    /// <summary>Drops a DequantizeLinear this rewrite added once nothing reads its output (an emitter read the
    /// integer tensor instead); its scale and zero point go too when nothing else reads them.</summary>
    internal void DropIfUnread(NodeProto dequantize)
    {
        string output = dequantize.Output[0];
        if (Graph.Output.Any(o => o.Name == output) || Graph.Node.Concat(_newNodes).Any(n => n.Input.Contains(output))) return;
        _newNodes.Remove(dequantize);
        foreach (var operand in dequantize.Input.Skip(1)) if (operand.Length > 0) Replaced.Add(operand);
    }

    // ---- structure ----

    private void RemoveFoldedNodes()
    {
        // Nodes of the plan belong to the caller's graph; the copy keeps the same order, so map by index.
        var original = _ctx.Graph.Proto.Node;
        var index = new Dictionary<NodeProto, int>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < original.Count; i++) index[original[i]] = i;
        foreach (var n in _plan.QuantizedNodes)
            if (index.TryGetValue(n, out int i)) _copyOf[n] = Graph.Node[i];
        if (_plan.RemovedNodes.Count == 0) return;
        var remove = new HashSet<int>(_plan.RemovedNodes.Where(index.ContainsKey).Select(n => index[n]));
        // Their constant operands (Clip's min and max) go too once nothing else reads them.
        foreach (int i in remove)
            foreach (var input in Graph.Node[i].Input.Skip(1))
                if (input.Length > 0 && _ctx.IsConstant(input)) Replaced.Add(input);
        var kept = Graph.Node.Where((_, i) => !remove.Contains(i)).ToList();
        Graph.Node.Clear();
        Graph.Node.AddRange(kept);
        ApplyOutputRenames(_plan.OutputRenames);
    }


    private void IndexGraph()
    {
        foreach (var n in Graph.Node)
        {
            for (int k = 0; k < n.Input.Count; k++)
            {
                if (n.Input[k].Length == 0) continue;
                // A tensor only some readers see quantized (an outlier split's input): the others read it in float.
                if (Options.QuantizedReaders.TryGetValue(n.Input[k], out var readers) && !n.Output.Any(readers.Contains)) continue;
                if (!_consumers.TryGetValue(n.Input[k], out var list)) _consumers[n.Input[k]] = list = new();
                list.Add((n, k));
            }
            foreach (var o in n.Output) if (o.Length > 0) _producers[o] = n;
        }
    }

    private void ReplaceInputs(string tensor, string replacement)
    {
        if (!_consumers.TryGetValue(tensor, out var list)) return;
        foreach (var (node, index) in list) node.Input[index] = replacement;
        _consumers.Remove(tensor);
    }

    private bool IsGraphOutput(string tensor) => Graph.Output.Any(o => o.Name == tensor);

    // ---- activations ----

    private void QuantizeActivation(string tensor)
    {
        if (!_activationParams.TryGetValue(tensor, out var p))
            throw new QuantizationException($"No quantization parameters were resolved for activation '{tensor}'.");
        AddQdqPair(tensor, Store.AddParams(tensor, tensor, p), null);
    }

    private void AddQdqPair(string tensor, StoredTensor parameters, string? sharedWith)
    {
        string scale = parameters.Scale, zp = parameters.ZeroPoint!;
        var stored = Store.Remember(tensor, parameters with { Quantized = "", Axis = null });
        bool graphOutput = IsGraphOutput(tensor);
        if (graphOutput && !_producers.ContainsKey(tensor)) return; // a graph input passed straight out: nothing to wrap

        var consumers = _consumers.GetValueOrDefault(tensor) ?? new();
        if (Options.DedicatedQdqPair && consumers.Count > 1 && !graphOutput)
        {
            for (int i = 0; i < consumers.Count; i++)
            {
                string suffix = $"_{i + 1}";
                string qOut = Names.Take(TensorNames.QuantizeOutput(tensor) + suffix);
                string dqOut = Names.Take(TensorNames.DequantizeOutput(tensor) + suffix);
                _newNodes.Add(QNode(tensor, scale, zp, qOut, Names.Take(TensorNames.QuantizeNode(tensor) + suffix)));
                _newNodes.Add(DqNode(qOut, scale, zp, dqOut, Names.Take(TensorNames.DequantizeNode(tensor) + suffix), null));
                var (node, index) = consumers[i];
                node.Input[index] = dqOut;
                // The first pair stands for all: each consumer's pair holds the same values.
                if (i == 0) RecordTensor(tensor, ProvenanceKind.Activation, stored with { Quantized = qOut }, dqOut, sharedWith);
            }
            _consumers.Remove(tensor);
            return;
        }

        string qInput = tensor, dqOutput;
        if (graphOutput)
        {
            // Keep the graph output's name: the producer writes a new name and the DQ writes the output.
            qInput = Names.Take(TensorNames.QuantizeInput(tensor));
            var producer = _producers[tensor];
            for (int k = 0; k < producer.Output.Count; k++)
                if (producer.Output[k] == tensor) producer.Output[k] = qInput;
            _producers.Remove(tensor);
            _producers[qInput] = producer;
            dqOutput = tensor;
        }
        else
        {
            dqOutput = Names.Take(TensorNames.DequantizeOutput(tensor));
            ReplaceInputs(tensor, dqOutput);
        }
        string q = Names.Take(TensorNames.QuantizeOutput(tensor));
        _newNodes.Add(QNode(qInput, scale, zp, q, Names.Take(TensorNames.QuantizeNode(tensor))));
        _newNodes.Add(DqNode(q, scale, zp, dqOutput, Names.Take(TensorNames.DequantizeNode(tensor)), null));
        RecordTensor(tensor, ProvenanceKind.Activation, stored with { Quantized = q }, dqOutput, sharedWith);
    }

    // ---- weights and constant inputs ----

    private void QuantizeConstant(TensorRequest r)
    {
        var t = _ctx.Constant(r.Name)!;
        bool weight = r.Role == TensorRole.Weight;
        // As in the reference tool: per-channel QDQ weights are int8 (kernels want one zero point, 0, on every channel).
        var type = SignedPerChannel(_ctx.TypeFor(r.Name, weight), r.Axis,
            "Per-channel weights are stored as int8 instead of uint8: ONNX Runtime's kernels need the same zero point on every channel.");
        bool symmetric = weight ? Options.WeightSymmetric : Options.ActivationSymmetric;
        Options.TensorOverrides.TryGetValue(r.Name, out var ov);
        bool reduce = weight && _ctx.WeightGuard == Targets.SaturationGuard.ReduceRange;
        var qt = WeightQuantizer.Quantize(_ctx.Model.GetFloats(t), t.Dims.ToArray(), type, symmetric, reduce, r.Axis, ov, _ctx.PairSafeLayout(r), t.Name,
            weight ? Options.WeightNumerics : null);
        if (weight) _ctx.Tally.Count(qt);
        if (qt.Axis != null) _usesAxis = true;

        // Signed Conv weights with zero points all 0 (symmetric) need no zero-point input: it defaults
        // to 0 and the type comes from the data. Saves a byte per channel and ORT still fuses QLinearConv;
        // its QGemm/QLinearMatMul fusions want the input, so other consumers keep it.
        bool implicitZero = weight && qt.Type.IsSigned() && qt.Params.All(p => p.ZeroPoint == 0)
            && _consumers.GetValueOrDefault(r.Name)?.All(c => c.Node.OpType == "Conv") == true;
        var stored = Store.AddQuantized(r.Name, r.Name, qt, writeZeroPoint: !implicitZero);
        string dqOut = Names.Take(TensorNames.DequantizeOutput(r.Name));
        _newNodes.Add(DqNode(stored.Quantized, stored.Scale, stored.ZeroPoint, dqOut, Names.Take(TensorNames.DequantizeNode(r.Name)), qt.Axis));
        ReplaceInputs(r.Name, dqOut);
        Replaced.Add(r.Name);
        RecordTensor(r.Name, weight ? ProvenanceKind.Weight : ProvenanceKind.Activation, stored, dqOut, decision: DecisionFor(qt));
    }

    private void QuantizeBias(BiasRequest b)
    {
        if (Store.Get(b.Input) is not { } input || Store.Get(b.Weight) is not { } weight)
        {
            Warnings.Add($"Bias '{b.Bias}' of node '{b.NodeName}' stays float: its input or weight is not quantized.");
            return;
        }
        if (!_consumers.ContainsKey(b.Bias)) return; // already replaced by an earlier request
        var t = _ctx.Constant(b.Bias)!;
        var data = _ctx.Model.GetFloats(t);
        var weightScales = weight.Params.Select(p => p.Scale).ToArray();
        if (weightScales.Length > 1 && (t.Dims.Count != 1 || data.Length != weightScales.Length))
        {
            Warnings.Add($"Bias '{b.Bias}' of node '{b.NodeName}' stays float: its shape [{string.Join(",", t.Dims)}] does not match the {weightScales.Length} weight channels.");
            return;
        }
        var values = BiasQuantizer.Quantize(data, input.Params[0].Scale, weightScales, b.Beta, out bool clipped);
        if (clipped && BiasFit.WidenWeightScales(this, _ctx, b, data, input.Params[0].Scale, IsReadOnceByDequantize))
        {
            weightScales = Store.Get(b.Weight)!.Params.Select(p => p.Scale).ToArray();
            values = BiasQuantizer.Quantize(data, input.Params[0].Scale, weightScales, b.Beta, out clipped);
        }
        if (clipped)
            Warnings.Add($"Bias '{b.Bias}' of node '{b.NodeName}' exceeds int32 at scale input*weight and was clipped; the input or weight scale is too small for it.");
        var scales = BiasQuantizer.Scales(input.Params[0].Scale, weightScales, b.Beta);

        bool perAxis = scales.Length > 1;
        // No zero-point input: DequantizeLinear defaults it to 0, and an int32 zero vector per channel
        // costs 4 bytes a channel (the reference tool stores one).
        var stored = Store.AddBias(b.Bias, b.Bias, values, t.Dims.ToArray(), scales, BiasParams(scales));
        if (perAxis) _usesAxis = true;
        string dqOut = Names.Take(TensorNames.DequantizeOutput(b.Bias));
        _newNodes.Add(DqNode(stored.Quantized, stored.Scale, null, dqOut, Names.Take(TensorNames.DequantizeNode(b.Bias)), perAxis ? 0 : null));
        ReplaceInputs(b.Bias, dqOut);
        Replaced.Add(b.Bias);
        RecordTensor(b.Bias, ProvenanceKind.Bias, stored, dqOut);
    }

    internal static QuantParams[] BiasParams(float[] scales) => scales.Select(s => new QuantParams(s, 0, QuantType.Int32)).ToArray();

    /// <summary>A weight's scale may only grow when its one DequantizeLinear feeds one node: the bias's.</summary>
    private bool IsReadOnceByDequantize(StoredTensor w)
    {
        var dq = _newNodes.FirstOrDefault(n => n.OpType == "DequantizeLinear" && n.Input.Count >= 2 && n.Input[1] == w.Scale);
        return dq != null && Graph.Node.Concat(_newNodes).Count(n => n.Input.Contains(dq.Output[0])) == 1;
    }

    // ---- bookkeeping ----

    private void FixOpsets()
    {
        RaiseOldOpset("quantized operators");
        if (_qdqDomain.Length > 0)
        {
            UseDomain(_qdqDomain);
            return;
        }
        long need = _usesAxis ? 13 : 10;
        if (Math.Max(_ctx.Opset, OpsetUpgrade.QdqOpset) < need)
            throw new QuantizationException($"The model uses opset {_ctx.Opset}; QuantizeLinear/DequantizeLinear{(_usesAxis ? " with an axis" : "")} need opset {need}.");
    }

    private bool NeedsOpset21Types()
    {
        var o = _ctx.Options;
        static bool Wide(QuantType t) => t is QuantType.Int16 or QuantType.UInt16 or QuantType.Int4 or QuantType.UInt4;
        return Wide(o.ActivationType) || Wide(o.WeightType) || o.TensorOverrides.Values.Any(v => v.Type is QuantType t && Wide(t));
    }

    private NodeProto QNode(string input, string scale, string zp, string output, string name) =>
        new() { OpType = "QuantizeLinear", Domain = _qdqDomain, Name = name, Input = { input, scale, zp }, Output = { output } };

    private NodeProto DqNode(string input, string scale, string? zp, string output, string name, int? axis)
    {
        var n = new NodeProto { OpType = "DequantizeLinear", Domain = _qdqDomain, Name = name, Input = { input, scale }, Output = { output } };
        if (zp != null) n.Input.Add(zp);
        if (axis is int a) n.Attribute.Add(new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = a });
        return n;
    }
}
