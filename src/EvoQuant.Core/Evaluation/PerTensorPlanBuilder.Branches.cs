using EvoQuant.Onnx.Proto;
using EvoQuant.Quantization.Provenance;

namespace EvoQuant.Evaluation;

// Own error: what computes each quantized source node, re-run on the reference's float inputs.
internal sealed partial class PerTensorPlanBuilder
{
    private (List<OwnBranch> Branches, List<TensorComparison> Weights) BuildOwnBranches()
    {
        var branches = new List<OwnBranch>();
        var weights = new List<TensorComparison>();
        int index = 0;
        foreach (var r in _rg.Nodes)
        {
            _work.Add();
            if (IsConstantNode(r) || !_provenance.Nodes.TryGetValue(ProvenanceReader.SourceId(r), out var np) || np.Outcome != NodeOutcome.Quantized) continue;
            var emitted = new List<NodeProto>(np.EmittedNodes.Count);
            foreach (var e in np.EmittedNodes)
                if (_cg.Producer(e) is { } c) emitted.Add(c);
            if (emitted.Count == 0) continue;
            CompareWeights(r, weights);
            var branch = emitted.Count == 1 && !WritesInteger(emitted[0])
                ? TryBuildQdqBranch(r, emitted[0], index++)
                : TryBuildIntegerBranch(r, emitted, index++);
            if (branch != null) branches.Add(branch);
        }
        return (branches, weights);
    }

    private bool WritesInteger(NodeProto c) => c.Output.Any(o => o.Length > 0 && _integer.ContainsKey(o));

    /// <summary>
    /// A QDQ node copied into the branch model, fed from the reference's float tensors. Why this isolates
    /// the node: every input is the exact float value, weights are the candidate's dequantized ones, and
    /// the output goes through the candidate's Q/DQ. An input's Q/DQ is applied here only when no quantized
    /// node produces that input (a graph input or a float producer); otherwise that Q/DQ is the producer's
    /// output quantization and is charged to the producer, so each Q/DQ pair is counted once (this is how
    /// a bad scale on one tensor points at one node).
    /// </summary>
    private OwnBranch? TryBuildQdqBranch(NodeProto r, NodeProto c, int index)
    {
        if (HasSubgraph(c)) return null;
        string p = $"{PerTensorPlan.Prefix}own{index}/";
        var newNodes = new List<NodeProto>();
        var inputs = new List<string>();
        var pending = new List<string>(); // reference tensors the copy reads: branch model inputs
        foreach (var x in c.Input)
        {
            _work.Add();
            if (x.Length == 0) { inputs.Add(""); continue; }
            var dq = _cg.Producer(x);
            if (dq?.OpType == "DequantizeLinear")
            {
                string src = dq.Input[0];
                if (_cg.IsConstant(src))
                {
                    inputs.Add(_branches.CopyNode(dq, p + "w/" + x, newNodes, src)); // dequantized weight
                    continue;
                }
                if (_cg.Producer(src) is not { OpType: "QuantizeLinear" } q || SourceValue(q.Input[0]) is not { } f) return null;
                var fp = _cg.Producer(q.Input[0]);
                if (fp == null || !_quantizedCandidates.Contains(fp))
                {
                    string qo = _branches.CopyNode(q, p + "q/" + x, newNodes, null, f);
                    inputs.Add(_branches.CopyNode(dq, p + "dq/" + x, newNodes, null, qo));
                }
                else inputs.Add(f);
                pending.Add(f);
                continue;
            }
            if (_cg.IsConstant(x)) { inputs.Add(_branches.CopyConstant(x)); continue; }
            if (SourceValue(x) is not { } v) return null;
            inputs.Add(v);
            pending.Add(v);
        }

        // The compared output: the first the reference has, under the name of what now holds its value.
        int k = -1;
        for (int i = 0; i < r.Output.Count && i < c.Output.Count && k < 0; i++)
            if (r.Output[i].Length > 0 && c.Output[i].Length > 0) k = i;
        if (k < 0) return null;
        string tensor = k == 0 ? FinalTensor(r) : r.Output[k];
        if (_rg.IsConstant(tensor) || !IsReferenceValue(tensor)) return null;

        var copy = c.Clone();
        copy.Name = p + "node";
        copy.Input.Clear();
        copy.Input.AddRange(inputs);
        for (int i = 0; i < copy.Output.Count; i++)
            if (copy.Output[i].Length > 0) copy.Output[i] = p + "out" + i;
        newNodes.Add(copy);
        string own = copy.Output[k];
        var outQ = _cg.Consumers(c.Output[k]).FirstOrDefault(n => n.OpType == "QuantizeLinear" && n.Input[0] == c.Output[k]);
        if (outQ != null && _cg.Consumers(outQ.Output[0]).FirstOrDefault(n => n.OpType == "DequantizeLinear") is { } outDq)
        {
            string qo = _branches.CopyNode(outQ, p + "oq", newNodes, null, own);
            own = _branches.CopyNode(outDq, p + "own", newNodes, null, qo);
        }
        return Finish(r, c, tensor, own, newNodes, pending);
    }

    /// <summary>
    /// The integer nodes computing a source node (QOperator: one QLinear op or an op moving integers;
    /// dynamic: DynamicQuantizeLinear, MatMulInteger, Cast, Mul ...) copied into the branch model: each
    /// integer input is the reference's float value quantized with that input's scale and zero point, float
    /// inputs are the reference's, constants are copied, and an integer output is dequantized with its own
    /// parameters. Unlike the QDQ case the input quantization cannot be left out (the op computes on
    /// integers), so a badly quantized tensor shows in its producer and in its readers; the readers are also
    /// what keep it quantized when the producer is excluded.
    /// </summary>
    private OwnBranch? TryBuildIntegerBranch(NodeProto r, List<NodeProto> emitted, int index)
    {
        if (emitted.Any(HasSubgraph)) return null;
        string p = $"{PerTensorPlan.Prefix}qop{index}/";
        var newNodes = new List<NodeProto>();
        var pending = new List<string>();
        var inside = new Dictionary<string, string>(StringComparer.Ordinal); // candidate output -> its copy
        var quantizedInputs = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int e = 0; e < emitted.Count; e++)
        {
            var c = emitted[e];
            var copy = c.Clone();
            copy.Name = p + "node" + e;
            copy.Input.Clear();
            foreach (var x in c.Input)
            {
                _work.Add();
                if (x.Length == 0) { copy.Input.Add(""); continue; }
                if (inside.TryGetValue(x, out var made)) { copy.Input.Add(made); continue; }
                if (_cg.IsConstant(x)) { copy.Input.Add(_branches.CopyConstant(x)); continue; }
                if (_integer.TryGetValue(x, out var t))
                {
                    if (!IsConstantScale(t) || !IsReferenceValue(t.SourceTensor) || _rg.IsConstant(t.SourceTensor)) return null;
                    if (!quantizedInputs.TryGetValue(x, out var q))
                        quantizedInputs[x] = q = _branches.AddQdq("QuantizeLinear", p + "q/" + x, t.SourceTensor, t.Scale!, t.ZeroPoint, t.Axis, newNodes);
                    copy.Input.Add(q);
                    pending.Add(t.SourceTensor);
                    continue;
                }
                if (SourceValue(x) is not { } f) return null;
                copy.Input.Add(f);
                pending.Add(f);
            }
            for (int i = 0; i < copy.Output.Count; i++)
                if (copy.Output[i].Length > 0) inside[c.Output[i]] = copy.Output[i] = p + "n" + e + "o" + i;
            newNodes.Add(copy);
        }

        string tensor = FinalTensor(r);
        if (_rg.IsConstant(tensor) || !IsReferenceValue(tensor)) return null;
        string own;
        if (ActivationOf(tensor) is { QuantizedTensor: { } integer } t2 && inside.TryGetValue(integer, out var madeInteger) && _integer.ContainsKey(integer))
        {
            if (!IsConstantScale(t2)) return null;
            own = _branches.AddQdq("DequantizeLinear", p + "own", madeInteger, t2.Scale!, t2.ZeroPoint, t2.Axis, newNodes);
        }
        else if (inside.TryGetValue(_provenance.OutputNameOf(tensor), out var madeFloat)) own = madeFloat;
        else return null;
        return Finish(r, emitted.FirstOrDefault(n => n.OpType != "DynamicQuantizeLinear") ?? emitted[0], tensor, own, newNodes, pending);
    }

    private OwnBranch Finish(NodeProto r, NodeProto c, string tensor, string own, List<NodeProto> newNodes, List<string> pending)
    {
        _branches.Proto.Node.AddRange(newNodes);
        foreach (var f in pending) _feeds[f] = _exposedRef.Expose(f);
        _branches.Proto.Output.Add(new ValueInfoProto { Name = own });
        // Named after the reference node: that name is what ExcludeNodes takes.
        return new OwnBranch(PerTensorPlan.DisplayName(r), r.OpType, _refOrder.GetValueOrDefault(tensor, -1), tensor, _exposedRef.Expose(tensor), own)
        {
            CandidateNode = c.Name,
        };
    }

    private static bool HasSubgraph(NodeProto n) => n.Attribute.Any(a => a.G != null || a.Graphs.Count > 0);
}
