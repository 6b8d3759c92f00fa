using EvoQuant.Numerics;
using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;

namespace EvoQuant.Quantization.QOperator;

/// <summary>Rewrites a model to the QOperator format from the same plan and activation parameters as
/// the QDQ emitter: each planned node becomes its integer operator (QLinearConv, QLinearMatMul, QGemm,
/// QLinearAdd ...) that reads and writes quantized tensors, data-movement ops run on those tensors
/// directly, a QuantizeLinear is inserted where a float tensor enters integer ops and a DequantizeLinear
/// (writing the original name) where a float op or a graph output reads an integer result. Works on a copy.</summary>
internal sealed class QOperatorRewriter
{
    public const string MicrosoftDomain = "com.microsoft";

    private readonly QuantizationContext _ctx;
    private readonly QuantizationPlan _plan;
    private readonly IReadOnlyDictionary<string, QuantParams> _activationParams;
    private readonly List<string> _warnings;
    private readonly ModelProto _proto;
    private readonly GraphProto _g;
    private readonly UniqueNames _names;
    private readonly List<NodeProto> _output = new();
    /// <summary>Integer version of a tensor: name, scale and zero-point initializers, parameters, channel axis.</summary>
    private readonly Dictionary<string, QTensor> _q = new(StringComparer.Ordinal);
    /// <summary>Scale/zero-point initializers of each tensor's parameters, created on first use.</summary>
    private readonly Dictionary<string, (string Scale, string ZeroPoint)> _paramNames = new(StringComparer.Ordinal);
    private readonly HashSet<NodeProto> _planned = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<NodeProto, NodeProto> _originalOf = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<string, BiasRequest> _biases;
    private bool _usesMicrosoft;

    public QOperatorRewriter(QuantizationContext ctx, QuantizationPlan plan, IReadOnlyDictionary<string, QuantParams> activationParams, List<string> warnings)
    {
        _ctx = ctx;
        _plan = plan;
        _activationParams = activationParams;
        _warnings = warnings;
        _proto = ctx.Model.CloneProto();
        _g = _proto.Graph;
        _names = new UniqueNames(GraphEdits.AllNames(_g));
        _biases = plan.Biases.ToDictionary(b => b.Bias, StringComparer.Ordinal);
    }

    /// <summary>Planned nodes that the emitter had to leave in float (reported as warnings too).</summary>
    public List<NodeProto> LeftFloat { get; } = new();

    public ModelProto Rewrite(CancellationToken ct)
    {
        if (_ctx.Opset < OpsetUpgrade.QdqOpset && !OpsetUpgrade.ConvertNodesTo10(_g, _names))
            throw new QuantizationException("The model's opset-9 Slice/TopK nodes in subgraphs cannot be converted to opset 10.");
        MapPlannedNodes();
        foreach (var node in new GraphView(_g).Nodes)
        {
            ct.ThrowIfCancellationRequested();
            if (!_planned.Contains(node) || !TryEmit(node))
            {
                if (_planned.Contains(node))
                {
                    LeftFloat.Add(node);
                    _warnings.Add(node.OpType is "Clip"
                        ? $"Node '{QuantizationPlanner.DisplayName(node)}' ({node.OpType}) could not fold into its producer and runs in float between a DequantizeLinear and a QuantizeLinear (the QOperator format has no integer {node.OpType})."
                        : $"Node '{QuantizationPlanner.DisplayName(node)}' ({node.OpType}) stays float in the QOperator format: its inputs, weight or output are not all quantized.");
                }
                _output.Add(node);
            }
        }
        // The result lists only nodes that really run as integer operators.
        foreach (var n in LeftFloat) _plan.QuantizedNodes.Remove(_originalOf[n]);
        AddDequantizeForFloatReaders();
        if (_ctx.Options.ActivationType == QuantType.Int8 && _output.Any(n => n.OpType == "QLinearConv"))
            _warnings.Add("QLinearConv with int8 activations runs on a slow path of ONNX Runtime's x86 CPU kernel (about 7x slower than uint8 on fashion-cnn); ActivationType UInt8 is the fast choice for the QOperator format.");
        _g.Node.Clear();
        _g.Node.AddRange(_output);
        RemoveUnusedConstants();
        GraphEdits.SortTopologically(_g);
        FixOpsets();
        _proto.ProducerName = "EvoQuant";
        _proto.ProducerVersion = typeof(QOperatorRewriter).Assembly.GetName().Version?.ToString(3) ?? "";
        return _proto;
    }

    // ---- structure ----

    /// <summary>Plan nodes belong to the caller's graph; the copy keeps the order, so map by index.
    /// Folded Relu/Clip go away and their producer writes their output.</summary>
    private void MapPlannedNodes()
    {
        var original = _ctx.Graph.Proto.Node;
        var index = new Dictionary<NodeProto, int>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < original.Count; i++) index[original[i]] = i;
        var copy = _g.Node.ToList();
        foreach (var n in _plan.QuantizedNodes)
            if (index.TryGetValue(n, out int i))
            {
                _planned.Add(copy[i]);
                _originalOf[copy[i]] = n;
            }
        var removed = _plan.RemovedNodes.Where(index.ContainsKey).Select(n => copy[index[n]]).ToHashSet(ReferenceEqualityComparer.Instance);
        _g.Node.Clear();
        _g.Node.AddRange(copy.Where(n => !removed.Contains(n)));
        foreach (var (oldName, newName) in _plan.OutputRenames)
            foreach (var n in _g.Node)
                for (int k = 0; k < n.Output.Count; k++)
                    if (n.Output[k] == oldName) n.Output[k] = newName;
    }

    // ---- emitters ----

    private bool TryEmit(NodeProto node)
    {
        switch (node.OpType)
        {
            case "Conv": return EmitConv(node);
            case "MatMul": return EmitMatMul(node);
            case "Gemm": return EmitGemm(node);
            case "Add": return EmitBinary(node, "QLinearAdd");
            case "Mul": return EmitBinary(node, "QLinearMul");
            case "GlobalAveragePool": return EmitUnary(node, "QLinearGlobalAveragePool", new AttributeProto { Name = "channels_last", Type = AttributeProto.Types.AttributeType.Int, I = 0 });
            case "AveragePool": return EmitUnary(node, "QLinearAveragePool", node.Attribute.ToArray());
            case "Sigmoid": return EmitUnary(node, "QLinearSigmoid");
            case "LeakyRelu": return EmitUnary(node, "QLinearLeakyRelu", node.Attribute.ToArray());
            // A Relu that cannot fold into its producer: LeakyRelu with alpha 0 is the same function.
            case "Relu": return EmitUnary(node, "QLinearLeakyRelu", new AttributeProto { Name = "alpha", Type = AttributeProto.Types.AttributeType.Float, F = 0f });
            case "Concat": return EmitConcat(node);
            case "MaxPool" or "Reshape" or "Transpose" or "Flatten" or "Squeeze" or "Unsqueeze": return EmitPassThrough(node);
            default: return false;
        }
    }

    private bool EmitConv(NodeProto node)
    {
        if (!Ready(node.Input[0], node.Output[0]) || !IsWeight(node.Input[1])) return false;
        string bias = node.Input.Count > 2 ? node.Input[2] : "";
        if (bias.Length > 0 && !_biases.ContainsKey(bias)) return false;
        var x = Input(node.Input[0]);
        var w = Weight(node.Input[1], forceSignedPerChannel: true);
        var inputs = new List<string> { x.Name, x.Scale, x.ZeroPoint, w.Name, w.Scale, w.ZeroPoint };
        var (ys, yz) = ParamNames(node.Output[0]);
        inputs.Add(ys);
        inputs.Add(yz);
        if (bias.Length > 0) inputs.Add(Bias(bias, x, w));
        Emit(node, "QLinearConv", "", inputs, node.Attribute);
        return true;
    }

    private bool EmitMatMul(NodeProto node)
    {
        if (!Ready(node.Output[0]) || !node.Input.All(i => IsWeight(i) || Ready(i))) return false;
        var a = IsWeight(node.Input[0]) ? Weight(node.Input[0], false) : Input(node.Input[0]);
        var b = IsWeight(node.Input[1]) ? Weight(node.Input[1], false) : Input(node.Input[1]);
        var (ys, yz) = ParamNames(node.Output[0]);
        Emit(node, "QLinearMatMul", "", new List<string> { a.Name, a.Scale, a.ZeroPoint, b.Name, b.Scale, b.ZeroPoint, ys, yz }, Array.Empty<AttributeProto>());
        return true;
    }

    private bool EmitGemm(NodeProto node)
    {
        if (!Ready(node.Input[0], node.Output[0]) || !IsWeight(node.Input[1])) return false;
        string bias = node.Input.Count > 2 ? node.Input[2] : "";
        if (bias.Length > 0 && !_biases.ContainsKey(bias)) return false;
        var a = Input(node.Input[0]);
        var b = Weight(node.Input[1], false);
        var (ys, yz) = ParamNames(node.Output[0]);
        // Beta is folded into the int32 bias (scale = a * b * beta), so the attribute goes.
        var inputs = new List<string> { a.Name, a.Scale, a.ZeroPoint, b.Name, b.Scale, b.ZeroPoint, bias.Length > 0 ? Bias(bias, a, b) : "", ys, yz };
        Emit(node, "QGemm", MicrosoftDomain, inputs, node.Attribute.Where(x => x.Name != "beta"));
        return true;
    }

    private bool EmitBinary(NodeProto node, string op)
    {
        if (node.Input.Count != 2 || !Ready(node.Output[0]) || !node.Input.All(i => Ready(i) || IsConstantInput(i))) return false;
        var a = Operand(node.Input[0]);
        var b = Operand(node.Input[1]);
        var (ys, yz) = ParamNames(node.Output[0]);
        Emit(node, op, MicrosoftDomain, new List<string> { a.Name, a.Scale, a.ZeroPoint, b.Name, b.Scale, b.ZeroPoint, ys, yz }, Array.Empty<AttributeProto>());
        return true;
    }

    private bool EmitUnary(NodeProto node, string op, params AttributeProto[] attributes)
    {
        if (!Ready(node.Input[0], node.Output[0])) return false;
        var x = Input(node.Input[0]);
        var (ys, yz) = ParamNames(node.Output[0]);
        Emit(node, op, MicrosoftDomain, new List<string> { x.Name, x.Scale, x.ZeroPoint, ys, yz }, attributes);
        return true;
    }

    private bool EmitConcat(NodeProto node)
    {
        if (!Ready(node.Output[0]) || !node.Input.All(i => Ready(i) || IsConstantInput(i))) return false;
        var (ys, yz) = ParamNames(node.Output[0]);
        var inputs = new List<string> { ys, yz };
        foreach (var i in node.Input)
        {
            var t = Operand(i);
            inputs.AddRange(new[] { t.Name, t.Scale, t.ZeroPoint });
        }
        Emit(node, "QLinearConcat", MicrosoftDomain, inputs, node.Attribute);
        return true;
    }

    /// <summary>Data movement on the integer tensor itself: the output shares the input's parameters.</summary>
    private bool EmitPassThrough(NodeProto node)
    {
        string x = node.Input[0], y = node.Output[0];
        if (node.Output.Count(o => o.Length > 0) != 1 || !Ready(x, y) || _plan.Get(y)?.SharedWith != x) return false;
        var qx = Input(x);
        var copy = node.Clone();
        copy.Input[0] = qx.Name;
        string qy = _names.Take(TensorNames.Quantized(y));
        copy.Output[0] = qy;
        copy.Name = node.Name.Length > 0 ? _names.Take(node.Name + "_quant") : "";
        _output.Add(copy);
        _q[y] = qx with { Name = qy };
        return true;
    }

    private void Emit(NodeProto node, string op, string domain, List<string> inputs, IEnumerable<AttributeProto> attributes)
    {
        string y = node.Output[0];
        var (scale, zp) = ParamNames(y);
        string qy = _names.Take(TensorNames.Quantized(y));
        var n = new NodeProto { OpType = op, Domain = domain, Name = node.Name.Length > 0 ? _names.Take(node.Name + "_quant") : "" };
        n.Input.AddRange(inputs);
        n.Output.Add(qy);
        n.Attribute.AddRange(attributes.Select(a => a.Clone()));
        _output.Add(n);
        _usesMicrosoft |= domain == MicrosoftDomain;
        _q[y] = new QTensor(qy, scale, zp, ParamsOf(y), null);
    }

    // ---- tensors ----

    private sealed record QTensor(string Name, string Scale, string ZeroPoint, QuantParams[] Params, int? Axis);

    /// <summary>A run-time tensor with parameters in the plan (its own or shared).</summary>
    private bool Ready(params string[] tensors) =>
        tensors.All(t => t.Length > 0 && !_ctx.IsConstant(t) && _plan.Get(t) is { Role: TensorRole.Activation } && HasParams(t));

    private bool HasParams(string t) =>
        _activationParams.ContainsKey(t) || (_plan.Get(t)?.SharedWith is string s && s != t && HasParams(s));

    private bool IsWeight(string t) => _ctx.IsConstant(t) && _plan.Get(t) is { Role: TensorRole.Weight };

    private bool IsConstantInput(string t) => _ctx.IsConstant(t) && _plan.Get(t) != null;

    private QuantParams[] ParamsOf(string t) =>
        _activationParams.TryGetValue(t, out var p) ? new[] { p } : ParamsOf(_plan.Get(t)!.SharedWith!);

    /// <summary>Scale and zero-point initializers of an activation; shared tensors reuse their source's.</summary>
    private (string Scale, string ZeroPoint) ParamNames(string t)
    {
        if (_paramNames.TryGetValue(t, out var names)) return names;
        if (!_activationParams.ContainsKey(t) && _plan.Get(t)?.SharedWith is string source)
            return _paramNames[t] = ParamNames(source);
        var p = _activationParams[t];
        names = (_names.Take(TensorNames.Scale(t)), _names.Take(TensorNames.ZeroPoint(t)));
        _g.Initializer.Add(TensorData.FromFloats(names.Scale, Array.Empty<long>(), new[] { p.Scale }));
        _g.Initializer.Add(TensorData.FromRaw(names.ZeroPoint, p.Type.OnnxDataType(), Array.Empty<long>(), WeightQuantizer.Pack(new[] { p.ZeroPoint }, p.Type)));
        return _paramNames[t] = names;
    }

    /// <summary>The integer version of a run-time tensor: the producer's output, or a new QuantizeLinear of the float.</summary>
    private QTensor Input(string t)
    {
        if (_q.TryGetValue(t, out var q)) return q;
        var (scale, zp) = ParamNames(t);
        string qName = _names.Take(TensorNames.QuantizeOutput(t));
        var n = new NodeProto { OpType = "QuantizeLinear", Name = _names.Take(TensorNames.QuantizeNode(t)) };
        n.Input.AddRange(new[] { t, scale, zp });
        n.Output.Add(qName);
        _output.Add(n);
        return _q[t] = new QTensor(qName, scale, zp, ParamsOf(t), null);
    }

    /// <summary>A constant read by an integer op as an activation (Add's constant operand): quantized
    /// offline per tensor with the activation type.</summary>
    private QTensor Operand(string t) => _ctx.IsConstant(t) ? Constant(t, _ctx.TypeFor(t, isWeight: false), _ctx.Options.ActivationSymmetric, false, null) : Input(t);

    private QTensor Weight(string t, bool forceSignedPerChannel)
    {
        var r = _plan.Get(t)!;
        var type = _ctx.TypeFor(t, isWeight: true);
        if (r.Axis != null && forceSignedPerChannel && type == QuantType.UInt8)
        {
            // QLinearConv wants one zero point for every channel: symmetric int8 gives 0 everywhere.
            type = QuantType.Int8;
            _warnings.Add($"Per-channel weight '{t}' is stored as int8 instead of uint8: ONNX Runtime's QLinearConv needs the same zero point on every channel.");
        }
        bool reduce = _ctx.WeightGuard == Targets.SaturationGuard.ReduceRange;
        return Constant(t, type, _ctx.Options.WeightSymmetric || (r.Axis != null && forceSignedPerChannel), reduce, r.Axis, _ctx.PairSafeLayout(r), isWeight: true);
    }

    private QTensor Constant(string t, QuantType type, bool symmetric, bool reduceRange, int? axis, ReductionLayout? pairSafe = null, bool isWeight = false)
    {
        if (_q.TryGetValue(t, out var cached)) return cached;
        var c = _ctx.Constant(t)!;
        _ctx.Options.TensorOverrides.TryGetValue(t, out var ov);
        var qt = WeightQuantizer.Quantize(_ctx.Model.GetFloats(c), c.Dims.ToArray(), type, symmetric, reduceRange, axis, ov, pairSafe, c.Name);
        if (isWeight) _ctx.Tally.Count(qt);
        string q = _names.Take(TensorNames.Quantized(t)), s = _names.Take(TensorNames.Scale(t)), z = _names.Take(TensorNames.ZeroPoint(t));
        long[] pd = qt.Axis != null ? new long[] { qt.Params.Length } : Array.Empty<long>();
        _g.Initializer.Add(TensorData.FromRaw(q, qt.Type.OnnxDataType(), qt.Dims, qt.Raw));
        _g.Initializer.Add(TensorData.FromFloats(s, pd, qt.Params.Select(p => p.Scale).ToArray()));
        _g.Initializer.Add(TensorData.FromRaw(z, qt.Type.OnnxDataType(), pd, WeightQuantizer.Pack(qt.Params.Select(p => p.ZeroPoint).ToArray(), qt.Type)));
        return _q[t] = new QTensor(q, s, z, qt.Params, qt.Axis);
    }

    /// <summary>An int32 bias with scale input * weight (* beta) per output channel, zero point 0.</summary>
    private string Bias(string bias, QTensor input, QTensor weight)
    {
        var b = _biases[bias];
        var t = _ctx.Constant(bias)!;
        var values = BiasQuantizer.Quantize(_ctx.Model.GetFloats(t), input.Params[0].Scale, weight.Params.Select(p => p.Scale).ToArray(), b.Beta, out bool clipped);
        if (clipped)
            _warnings.Add($"Bias '{bias}' of node '{b.NodeName}' exceeds int32 at scale input*weight and was clipped; the input or weight scale is too small for it.");
        string name = _names.Take(TensorNames.Quantized(bias));
        _g.Initializer.Add(TensorData.FromArray<int>(name, ElementTypes.Int32, t.Dims.ToArray(), values));
        return name;
    }

    // ---- borders, cleanup ----

    /// <summary>Float readers of a tensor now produced only in integer form (float ops, graph outputs,
    /// subgraphs) get a DequantizeLinear that writes the original name.</summary>
    private void AddDequantizeForFloatReaders()
    {
        var produced = new HashSet<string>(_output.SelectMany(n => n.Output), StringComparer.Ordinal);
        foreach (var i in _g.Input) produced.Add(i.Name);
        foreach (var t in _g.Initializer) produced.Add(t.Name);
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
        foreach (var o in _g.Output) needed.Add(o.Name);
        foreach (var (t, q) in _q.ToList())
        {
            if (produced.Contains(t) || !needed.Contains(t) || _ctx.IsConstant(t)) continue;
            var n = new NodeProto { OpType = "DequantizeLinear", Name = _names.Take(TensorNames.DequantizeNode(t)) };
            n.Input.AddRange(new[] { q.Name, q.Scale, q.ZeroPoint });
            n.Output.Add(t);
            // Right after the integer producer: an If/Loop body may read the float from the outer scope,
            // which a sort over explicit inputs alone would not see.
            int at = _output.FindIndex(p => p.Output.Contains(q.Name));
            _output.Insert(at + 1, n);
        }
    }

    /// <summary>Drops initializers and Constant nodes nothing reads any more (replaced float weights,
    /// the bounds of folded Clips). Initializers listed as graph inputs stay.</summary>
    private void RemoveUnusedConstants()
    {
        var used = GraphEdits.ReadNames(_g.Node, _g.Output);
        var inputs = _g.Input.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        var keepInit = _g.Initializer.Where(t => used.Contains(t.Name) || inputs.Contains(t.Name)).ToList();
        _g.Initializer.Clear();
        _g.Initializer.AddRange(keepInit);
        var keepNodes = _g.Node.Where(n => !(n.OpType == "Constant" && string.IsNullOrEmpty(n.Domain) && n.Output.All(o => !used.Contains(o)))).ToList();
        _g.Node.Clear();
        _g.Node.AddRange(keepNodes);
        var keepVi = _g.ValueInfo.Where(v => used.Contains(v.Name)).ToList();
        _g.ValueInfo.Clear();
        _g.ValueInfo.AddRange(keepVi);
    }

    private void FixOpsets()
    {
        if (_ctx.Opset < OpsetUpgrade.QdqOpset)
        {
            foreach (var o in _proto.OpsetImport.Where(o => o.Domain is "" or "ai.onnx")) o.Version = OpsetUpgrade.QdqOpset;
            _warnings.Add($"The model's opset was raised from {_ctx.Opset} to {OpsetUpgrade.QdqOpset}, where QLinearConv and QuantizeLinear exist; its Slice/TopK nodes were converted to their opset-10 form.");
        }
        if (_usesMicrosoft && !_proto.OpsetImport.Any(o => o.Domain == MicrosoftDomain))
            _proto.OpsetImport.Add(new OperatorSetIdProto { Domain = MicrosoftDomain, Version = 1 });
    }
}
