using EvoQuant.Numerics;
using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;

namespace EvoQuant.Quantization;

/// <summary>Rewrites a model to the QDQ format from a plan, in one place: QuantizeLinear/DequantizeLinear
/// pairs on activations (shared, or one per consumer), integer weights with a DequantizeLinear (per axis
/// when per channel), int32 biases, removal of folded activations and of float weights no longer used,
/// opset imports and a topological node order. Works on a copy; the caller's model is never touched.</summary>
internal sealed class QdqRewriter
{
    public const string MicrosoftDomain = "com.microsoft";

    private readonly QuantizationContext _ctx;
    private readonly QuantizationPlan _plan;
    private readonly IReadOnlyDictionary<string, QuantParams> _activationParams;
    private readonly List<string> _warnings;
    private readonly ModelProto _proto;
    private readonly GraphProto _g;
    private readonly UniqueNames _names;
    private readonly string _qdqDomain;
    private readonly List<NodeProto> _newNodes = new();
    /// <summary>Consumers of each tensor in the copy, as (node, input index); built once, before any Q/DQ exists.</summary>
    private readonly Dictionary<string, List<(NodeProto Node, int Index)>> _consumers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, NodeProto> _producers = new(StringComparer.Ordinal);
    /// <summary>Scale/zero-point initializer names and values of each quantized tensor, for sharing and biases.</summary>
    private readonly Dictionary<string, (string Scale, string ZeroPoint, QuantParams[] Params, int? Axis)> _quantized = new(StringComparer.Ordinal);
    private readonly HashSet<string> _replacedConstants = new(StringComparer.Ordinal);
    private bool _usesAxis;
    private bool _warnedUInt8PerChannel;

    public QdqRewriter(QuantizationContext ctx, QuantizationPlan plan, IReadOnlyDictionary<string, QuantParams> activationParams, List<string> warnings)
    {
        _ctx = ctx;
        _plan = plan;
        _activationParams = activationParams;
        _warnings = warnings;
        _proto = ctx.Model.CloneProto();
        _g = _proto.Graph;
        _names = new UniqueNames(GraphEdits.AllNames(_g));
        _qdqDomain = ctx.Options.UseContribOps || (NeedsOpset21Types() && ctx.Opset < 21) ? MicrosoftDomain : "";
    }

    /// <summary>The ONNX domain the Q/DQ nodes use: com.microsoft carries 16- and 4-bit types before opset 21, as in the reference tool.</summary>
    public string QdqDomain => _qdqDomain;

    public ModelProto Rewrite(CancellationToken ct)
    {
        if (_ctx.Opset < OpsetUpgrade.QdqOpset && !OpsetUpgrade.ConvertNodesTo10(_g, _names))
            throw new QuantizationException("The model's opset-9 Slice/TopK nodes in subgraphs cannot be converted to opset 10.");
        RemoveFoldedNodes();
        IndexGraph();
        foreach (var r in _plan.Tensors.Where(r => r.SharedWith == null))
        {
            ct.ThrowIfCancellationRequested();
            if (_ctx.IsConstant(r.Name)) QuantizeConstant(r);
            else QuantizeActivation(r.Name);
        }
        // Shared tensors follow their source, which may itself be shared: resolve in waves.
        var pending = _plan.Tensors.Where(r => r.SharedWith != null).ToList();
        while (pending.Count > 0)
        {
            ct.ThrowIfCancellationRequested();
            var ready = pending.Where(r => _quantized.ContainsKey(r.SharedWith!)).ToList();
            if (ready.Count == 0)
            {
                foreach (var r in pending) _warnings.Add($"Tensor '{r.Name}' was to share the parameters of '{r.SharedWith}', which is not quantized; it stays float.");
                break;
            }
            foreach (var r in ready)
            {
                var src = _quantized[r.SharedWith!];
                AddQdqPair(r.Name, src.Scale, src.ZeroPoint, src.Params);
                pending.Remove(r);
            }
        }
        foreach (var b in _plan.Biases)
        {
            ct.ThrowIfCancellationRequested();
            QuantizeBias(b);
        }
        RemoveUnusedConstants();
        _g.Node.AddRange(_newNodes);
        FixOpsets();
        GraphEdits.SortTopologically(_g);
        _proto.ProducerName = "EvoQuant";
        _proto.ProducerVersion = typeof(QdqRewriter).Assembly.GetName().Version?.ToString(3) ?? "";
        return _proto;
    }

    // ---- structure ----

    private void RemoveFoldedNodes()
    {
        if (_plan.RemovedNodes.Count == 0) return;
        // Nodes of the plan belong to the caller's graph; the copy keeps the same order, so map by index.
        var original = _ctx.Graph.Proto.Node;
        var remove = new HashSet<int>();
        foreach (var n in _plan.RemovedNodes)
            for (int i = 0; i < original.Count; i++)
                if (ReferenceEquals(original[i], n)) { remove.Add(i); break; }
        // Their constant operands (Clip's min and max) go too once nothing else reads them.
        foreach (int i in remove)
            foreach (var input in _g.Node[i].Input.Skip(1))
                if (input.Length > 0 && _ctx.IsConstant(input)) _replacedConstants.Add(input);
        var kept = _g.Node.Where((_, i) => !remove.Contains(i)).ToList();
        _g.Node.Clear();
        _g.Node.AddRange(kept);
        foreach (var (oldName, newName) in _plan.OutputRenames)
            foreach (var n in _g.Node)
                for (int k = 0; k < n.Output.Count; k++)
                    if (n.Output[k] == oldName) n.Output[k] = newName;
    }

    private void IndexGraph()
    {
        foreach (var n in _g.Node)
        {
            for (int k = 0; k < n.Input.Count; k++)
            {
                if (n.Input[k].Length == 0) continue;
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

    private bool IsGraphOutput(string tensor) => _g.Output.Any(o => o.Name == tensor);

    // ---- activations ----

    private void QuantizeActivation(string tensor)
    {
        if (!_activationParams.TryGetValue(tensor, out var p))
            throw new QuantizationException($"No quantization parameters were resolved for activation '{tensor}'.");
        string scale = _names.Take(TensorNames.Scale(tensor));
        string zp = _names.Take(TensorNames.ZeroPoint(tensor));
        _g.Initializer.Add(ScaleTensor(scale, new[] { p }, perAxis: false));
        _g.Initializer.Add(ZeroPointTensor(zp, new[] { p }, perAxis: false));
        AddQdqPair(tensor, scale, zp, new[] { p });
    }

    private void AddQdqPair(string tensor, string scale, string zp, QuantParams[] ps)
    {
        _quantized[tensor] = (scale, zp, ps, null);
        bool graphOutput = IsGraphOutput(tensor);
        if (graphOutput && !_producers.ContainsKey(tensor)) return; // a graph input passed straight out: nothing to wrap

        var consumers = _consumers.GetValueOrDefault(tensor) ?? new();
        if (_ctx.Options.DedicatedQdqPair && consumers.Count > 1 && !graphOutput)
        {
            for (int i = 0; i < consumers.Count; i++)
            {
                string suffix = $"_{i + 1}";
                string qOut = _names.Take(TensorNames.QuantizeOutput(tensor) + suffix);
                string dqOut = _names.Take(TensorNames.DequantizeOutput(tensor) + suffix);
                _newNodes.Add(QNode(tensor, scale, zp, qOut, _names.Take(TensorNames.QuantizeNode(tensor) + suffix)));
                _newNodes.Add(DqNode(qOut, scale, zp, dqOut, _names.Take(TensorNames.DequantizeNode(tensor) + suffix), null));
                var (node, index) = consumers[i];
                node.Input[index] = dqOut;
            }
            _consumers.Remove(tensor);
            return;
        }

        string qInput = tensor, dqOutput;
        if (graphOutput)
        {
            // Keep the graph output's name: the producer writes a new name and the DQ writes the output.
            qInput = _names.Take(TensorNames.QuantizeInput(tensor));
            var producer = _producers[tensor];
            for (int k = 0; k < producer.Output.Count; k++)
                if (producer.Output[k] == tensor) producer.Output[k] = qInput;
            _producers.Remove(tensor);
            _producers[qInput] = producer;
            dqOutput = tensor;
        }
        else
        {
            dqOutput = _names.Take(TensorNames.DequantizeOutput(tensor));
            ReplaceInputs(tensor, dqOutput);
        }
        string q = _names.Take(TensorNames.QuantizeOutput(tensor));
        _newNodes.Add(QNode(qInput, scale, zp, q, _names.Take(TensorNames.QuantizeNode(tensor))));
        _newNodes.Add(DqNode(q, scale, zp, dqOutput, _names.Take(TensorNames.DequantizeNode(tensor)), null));
    }

    // ---- weights and constant inputs ----

    private void QuantizeConstant(TensorRequest r)
    {
        var t = _ctx.Constant(r.Name)!;
        bool weight = r.Role == TensorRole.Weight;
        var type = _ctx.TypeFor(r.Name, weight);
        int? axis = r.Axis;
        if (axis != null && type == QuantType.UInt8)
        {
            // As in the reference tool: per-channel QDQ weights are int8 (kernels want one zero point, 0, on every channel).
            type = QuantType.Int8;
            if (!_warnedUInt8PerChannel) _warnings.Add("Per-channel weights are stored as int8 instead of uint8: ONNX Runtime's kernels need the same zero point on every channel.");
            _warnedUInt8PerChannel = true;
        }
        bool symmetric = weight ? _ctx.Options.WeightSymmetric : _ctx.Options.ActivationSymmetric;
        _ctx.Options.TensorOverrides.TryGetValue(r.Name, out var ov);
        bool reduce = weight && _ctx.WeightGuard == Targets.SaturationGuard.ReduceRange;
        var qt = WeightQuantizer.Quantize(_ctx.Model.GetFloats(t), t.Dims.ToArray(), type, symmetric, reduce, axis, ov, _ctx.PairSafeLayout(r), t.Name);
        if (weight) _ctx.Tally.Count(qt);
        if (qt.Axis != null) _usesAxis = true;

        string qName = _names.Take(TensorNames.Quantized(r.Name));
        string scale = _names.Take(TensorNames.Scale(r.Name));
        string zp = _names.Take(TensorNames.ZeroPoint(r.Name));
        _g.Initializer.Add(TensorData.FromRaw(qName, qt.Type.OnnxDataType(), qt.Dims, qt.Raw));
        _g.Initializer.Add(ScaleTensor(scale, qt.Params, qt.Axis != null));
        // Signed Conv weights with zero points all 0 (symmetric) need no zero-point input: it defaults
        // to 0 and the type comes from the data. Saves a byte per channel and ORT still fuses QLinearConv;
        // its QGemm/QLinearMatMul fusions want the input, so other consumers keep it.
        bool implicitZero = weight && qt.Type.IsSigned() && qt.Params.All(p => p.ZeroPoint == 0)
            && _consumers.GetValueOrDefault(r.Name)?.All(c => c.Node.OpType == "Conv") == true;
        if (!implicitZero) _g.Initializer.Add(ZeroPointTensor(zp, qt.Params, qt.Axis != null));
        string dqOut = _names.Take(TensorNames.DequantizeOutput(r.Name));
        _newNodes.Add(DqNode(qName, scale, implicitZero ? null : zp, dqOut, _names.Take(TensorNames.DequantizeNode(r.Name)), qt.Axis));
        ReplaceInputs(r.Name, dqOut);
        _replacedConstants.Add(r.Name);
        _quantized[r.Name] = (scale, zp, qt.Params, qt.Axis);
    }

    private void QuantizeBias(BiasRequest b)
    {
        if (!_quantized.TryGetValue(b.Input, out var input) || !_quantized.TryGetValue(b.Weight, out var weight))
        {
            _warnings.Add($"Bias '{b.Bias}' of node '{b.NodeName}' stays float: its input or weight is not quantized.");
            return;
        }
        if (!_consumers.ContainsKey(b.Bias)) return; // already replaced by an earlier request
        var t = _ctx.Constant(b.Bias)!;
        var data = _ctx.Model.GetFloats(t);
        var weightScales = weight.Params.Select(p => p.Scale).ToArray();
        if (weightScales.Length > 1 && (t.Dims.Count != 1 || data.Length != weightScales.Length))
        {
            _warnings.Add($"Bias '{b.Bias}' of node '{b.NodeName}' stays float: its shape [{string.Join(",", t.Dims)}] does not match the {weightScales.Length} weight channels.");
            return;
        }
        var values = BiasQuantizer.Quantize(data, input.Params[0].Scale, weightScales, b.Beta, out bool clipped);
        if (clipped && WidenWeightScalesForBias(b, data, input.Params[0].Scale))
        {
            weightScales = _quantized[b.Weight].Params.Select(p => p.Scale).ToArray();
            values = BiasQuantizer.Quantize(data, input.Params[0].Scale, weightScales, b.Beta, out clipped);
        }
        if (clipped)
            _warnings.Add($"Bias '{b.Bias}' of node '{b.NodeName}' exceeds int32 at scale input*weight and was clipped; the input or weight scale is too small for it.");
        var scales = BiasQuantizer.Scales(input.Params[0].Scale, weightScales, b.Beta);

        bool perAxis = scales.Length > 1;
        string qName = _names.Take(TensorNames.Quantized(b.Bias));
        string scale = _names.Take(TensorNames.Scale(qName));
        _g.Initializer.Add(TensorData.FromArray<int>(qName, ElementTypes.Int32, t.Dims.ToArray(), values));
        _g.Initializer.Add(TensorData.FromFloats(scale, perAxis ? new long[] { scales.Length } : Array.Empty<long>(), scales));
        // No zero-point input: DequantizeLinear defaults it to 0, and an int32 zero vector per channel
        // costs 4 bytes a channel (the reference tool stores one).
        if (perAxis) _usesAxis = true;
        string dqOut = _names.Take(TensorNames.DequantizeOutput(b.Bias));
        _newNodes.Add(DqNode(qName, scale, null, dqOut, _names.Take(TensorNames.DequantizeNode(b.Bias)), perAxis ? 0 : null));
        ReplaceInputs(b.Bias, dqOut);
        _replacedConstants.Add(b.Bias);
    }

    /// <summary>A bias that overflows int32 at scale input*weight sits on a channel whose weights are all
    /// near zero (so its weight scale is tiny) while the bias is not: clipping it would change that
    /// channel's output everywhere (PaddleOCR det has one such channel, rec three). As the reference tool does
    /// (<c>_adjust_weight_scale_for_int32_bias</c>), the weight scale of such a channel grows to the
    /// smallest one at which the bias fits, and the channel's weights are quantized again with it. Only for
    /// weights quantized with zero point 0 and read by this one node; returns false when nothing changed.</summary>
    private bool WidenWeightScalesForBias(BiasRequest b, float[] bias, float inputScale)
    {
        if (!_quantized.TryGetValue(b.Weight, out var w) || w.Params.Any(p => p.ZeroPoint != 0)) return false;
        var dq = _newNodes.FirstOrDefault(n => n.OpType == "DequantizeLinear" && n.Input.Count >= 2 && n.Input[1] == w.Scale);
        if (dq == null || _g.Node.Concat(_newNodes).Count(n => n.Input.Contains(dq.Output[0])) != 1) return false;
        var qInit = _g.Initializer.FirstOrDefault(t => t.Name == dq.Input[0]);
        var sInit = _g.Initializer.FirstOrDefault(t => t.Name == w.Scale);
        var source = _ctx.Constant(b.Weight);
        if (qInit == null || sInit == null || source == null) return false;

        var ps = (QuantParams[])w.Params.Clone();
        bool changed = false;
        for (int c = 0; c < ps.Length; c++)
        {
            double maxBias = ps.Length == 1 ? bias.Max(v => Math.Abs(v)) : Math.Abs(bias[c]);
            // The smallest weight scale with |bias| / (input * weight * beta) within int32, with a little headroom
            // for the float32 products BiasQuantizer computes.
            double needed = maxBias / ((double)int.MaxValue * inputScale * b.Beta) * (1 + 1e-5);
            if (ps[c].Scale >= needed) continue;
            ps[c] = ps[c] with { Scale = (float)needed };
            changed = true;
        }
        if (!changed) return false;

        var weights = _ctx.Model.GetFloats(source);
        var dims = source.Dims.ToArray();
        long inner = 1;
        if (w.Axis is int axis) for (int d = axis + 1; d < dims.Length; d++) inner *= dims[d];
        var q = new int[weights.Length];
        for (int i = 0; i < q.Length; i++)
        {
            var p = ps[w.Axis is int ax ? (int)(i / inner % dims[ax]) : 0];
            // The wider scale only shrinks the values, so they stay within the type's range.
            q[i] = (int)Math.Round(weights[i] / (double)p.Scale, MidpointRounding.ToEven) + p.ZeroPoint;
        }
        var type = ps[0].Type;
        var newQ = TensorData.FromRaw(qInit.Name, type.OnnxDataType(), qInit.Dims.ToArray(), WeightQuantizer.Pack(q, type));
        var newS = ScaleTensor(sInit.Name, ps, w.Axis != null);
        _g.Initializer[_g.Initializer.IndexOf(qInit)] = newQ;
        _g.Initializer[_g.Initializer.IndexOf(sInit)] = newS;
        _quantized[b.Weight] = (w.Scale, w.ZeroPoint, ps, w.Axis);
        _warnings.Add($"Bias '{b.Bias}' of node '{b.NodeName}' did not fit int32 at scale input*weight: the weight scale of {ps.Where((p, c) => p.Scale != w.Params[c].Scale).Count()} channel(s) of '{b.Weight}' was widened so that it fits.");
        return true;
    }

    // ---- cleanup and bookkeeping ----

    /// <summary>Drops float initializers and Constant nodes that quantization replaced and nothing reads any more.</summary>
    private void RemoveUnusedConstants() => GraphEdits.RemoveReplacedConstants(_g, _g.Node.Concat(_newNodes), _replacedConstants);

    private void FixOpsets()
    {
        if (_ctx.Opset < OpsetUpgrade.QdqOpset)
        {
            // The validator checked that no op of the model changes meaning in opset 10.
            foreach (var o in _proto.OpsetImport.Where(o => o.Domain is "" or "ai.onnx")) o.Version = OpsetUpgrade.QdqOpset;
            _warnings.Add($"The model's opset was raised from {_ctx.Opset} to {OpsetUpgrade.QdqOpset}, where quantized operators exist; its Slice/TopK nodes were converted to their opset-10 form.");
        }
        if (_qdqDomain.Length > 0)
        {
            if (!_proto.OpsetImport.Any(o => o.Domain == _qdqDomain))
                _proto.OpsetImport.Add(new OperatorSetIdProto { Domain = _qdqDomain, Version = 1 });
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

    private static TensorProto ScaleTensor(string name, QuantParams[] ps, bool perAxis) =>
        TensorData.FromFloats(name, perAxis ? new long[] { ps.Length } : Array.Empty<long>(), ps.Select(p => p.Scale).ToArray());

    private static TensorProto ZeroPointTensor(string name, QuantParams[] ps, bool perAxis)
    {
        var type = ps[0].Type;
        return TensorData.FromRaw(name, type.OnnxDataType(), perAxis ? new long[] { ps.Length } : Array.Empty<long>(),
            WeightQuantizer.Pack(ps.Select(p => p.ZeroPoint).ToArray(), type));
    }
}
