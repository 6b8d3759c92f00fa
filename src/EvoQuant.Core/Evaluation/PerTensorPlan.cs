using EvoQuant.Numerics;
using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;

namespace EvoQuant.Evaluation;

/// <summary>An activation of the reference paired with the candidate tensor that carries its value.</summary>
internal sealed record ActivationPair(string Tensor, string ReferenceOutput, string CandidateTensor, string CandidateOutput,
    string? Node, string? OpType, int Order, (double Min, double Max)? QuantRange);

/// <summary>A candidate Q/DQ pair applied to the reference value of its tensor: the tensor's own quantization error.</summary>
internal sealed record QdqBranch(string Tensor, string ReferenceOutput, string QdqOutput);

/// <summary>A quantized candidate node re-run on the reference's float inputs inside the branch model.</summary>
internal sealed record OwnBranch(string Node, string OpType, int Order, string Tensor, string ReferenceOutput, string OwnOutput)
{
    /// <summary>Name of the candidate node that was copied.</summary>
    public string CandidateNode { get; init; } = "";
}

/// <summary>
/// Builds the three models of the per-tensor analysis, matching tensors by graph structure:
/// <list type="bullet">
/// <item>the candidate, with the value of every reference activation exposed as an output: for a QDQ
/// tensor the output of the DequantizeLinear fed by the QuantizeLinear that reads it; for an integer
/// QOperator output, a DequantizeLinear added with the scale and zero point of its producer;</item>
/// <item>the reference, with every activation exposed;</item>
/// <item>the branch model: for every quantized node of the candidate, a copy of that node (with its
/// dequantized weights and its output Q/DQ) whose float inputs are graph inputs, fed with the reference
/// run's values of those tensors. Its output against the reference output is the node's own error. It
/// keeps the candidate's opsets (a quantizer may raise them), so the reference keeps its own.</item>
/// </list>
/// Weights are compared offline (float initializer vs DequantizeLinear of the integer initializer).
/// </summary>
internal sealed class PerTensorPlan
{
    private const string Prefix = "evq_eval/";

    public required ModelProto ReferenceModel { get; init; }

    /// <summary>Copies of quantized candidate nodes; inputs are added by <see cref="BranchModelBytes"/>.</summary>
    public required ModelProto BranchModel { get; init; }

    /// <summary>Branch model inputs: reference tensor name → the reference model output that carries it.</summary>
    public required Dictionary<string, string> BranchFeeds { get; init; }
    public required ModelProto CandidateModel { get; init; }
    public required List<ActivationPair> Activations { get; init; }
    public required List<OwnBranch> Branches { get; init; }
    public required List<TensorComparison> Weights { get; init; }
    public required List<QdqBranch> QdqBranches { get; init; }

    /// <summary>Tensor name → quantized nodes that read its Q/DQ value (they keep it quantized while any is).</summary>
    public required Dictionary<string, string[]> QuantizedConsumers { get; init; }

    public static PerTensorPlan Build(OnnxModel reference, OnnxModel candidate)
    {
        var rg = reference.Graph;
        var cg = candidate.Graph;
        var analysis = reference.CloneProto();
        var augmented = candidate.CloneProto();
        var branchModel = new ModelProto { IrVersion = candidate.Proto.IrVersion, Graph = new GraphProto { Name = "evq_eval_branches" } };
        branchModel.OpsetImport.AddRange(candidate.Proto.OpsetImport.Select(o => o.Clone()));
        var bg = branchModel.Graph;
        var feeds = new Dictionary<string, string>(StringComparer.Ordinal);

        var refOrder = new Dictionary<string, int>(StringComparer.Ordinal);   // tensor -> producer index
        var refProducer = new Dictionary<string, NodeProto>(StringComparer.Ordinal);
        var refNodes = rg.Nodes;
        for (int i = 0; i < refNodes.Count; i++)
            foreach (var o in refNodes[i].Output)
                if (o.Length > 0) { refOrder[o] = i; refProducer[o] = refNodes[i]; }

        var exposedRef = new OutputAdder(analysis.Graph, "ref");
        var exposedCand = new OutputAdder(augmented.Graph, "cand");

        // ---- activations ----
        var activations = new List<ActivationPair>();
        var integerToReference = new Dictionary<string, string>(StringComparer.Ordinal); // QOperator tensors
        foreach (var q in cg.Nodes)
            if (q.OpType == "QuantizeLinear" && IsReferenceValue(q.Input[0], rg) && !rg.IsConstant(q.Input[0]))
                integerToReference.TryAdd(q.Output[0], q.Input[0]);
        var refInputs = rg.RuntimeInputs.Select(i => i.Name).ToList();
        var refTensors = refInputs.Select(n => (Tensor: n, Node: (NodeProto?)null, Order: -1))
            .Concat(refNodes.Where(n => !IsConstantNode(n))
                .SelectMany(n => n.Output.Where(o => o.Length > 0).Select(o => (Tensor: o, Node: (NodeProto?)n, Order: refOrder[o]))));
        foreach (var (tensor, node, order) in refTensors)
        {
            if (rg.IsConstant(tensor)) continue;
            var counterpart = FindCounterpart(tensor, node, rg, cg, augmented.Graph, integerToReference);
            if (counterpart == null) continue;
            var (candTensor, range) = counterpart.Value;
            activations.Add(new ActivationPair(tensor, exposedRef.Expose(tensor), candTensor, exposedCand.Expose(candTensor),
                node == null ? null : DisplayName(node), node?.OpType, order, range));
        }

        // ---- own error of each quantized node, and weights ----
        var branches = new List<OwnBranch>();
        var weights = new List<TensorComparison>();
        var copied = new Dictionary<string, string>(StringComparer.Ordinal);
        var quantizedNodes = cg.Nodes.Where(n => IsQuantizedCompute(n, cg)).ToHashSet();
        var refByName = refNodes.Where(n => n.Name.Length > 0).GroupBy(n => n.Name).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
        // QOperator: each integer node's reference node, found once (the longest name wins: "conv10_quant"
        // belongs to "conv10", not "conv1").
        var origin = new Dictionary<NodeProto, NodeProto>();
        if (integerToReference.Count > 0)
            foreach (var n in refNodes)
                if (QOperatorNode(n, cg) is { } made && (!origin.TryGetValue(made, out var prev) || prev.Name.Length < n.Name.Length))
                    origin[made] = n;
        int index = 0;
        foreach (var c in cg.Nodes)
        {
            if (c.OpType is not ("QuantizeLinear" or "DequantizeLinear") && c.Output.Count > 0 && integerToReference.ContainsKey(c.Output[0]))
            {
                // QOperator: an integer node, made from the reference node it is named after.
                var rq = origin.GetValueOrDefault(c);
                if (c.OpType is "QLinearConv" or "QLinearMatMul" or "QGemm") CompareWeights(c, rq, rg, cg, candidate, reference, weights, refOrder);
                var qb = TryBuildQOperatorBranch(c, rq, index++, rg, cg, bg, copied, refOrder, exposedRef, feeds, integerToReference);
                if (qb != null) branches.Add(qb);
                continue;
            }
            if (!quantizedNodes.Contains(c)) continue;
            var r = c.Name.Length > 0 ? refByName.GetValueOrDefault(c.Name) : null;
            r ??= c.Output.Select(o => refProducer.GetValueOrDefault(o)).FirstOrDefault(n => n != null && n.OpType == c.OpType);
            CompareWeights(c, r, rg, cg, candidate, reference, weights, refOrder);
            var branch = TryBuildBranch(c, index++, rg, cg, quantizedNodes, bg, copied, refOrder, exposedRef, feeds);
            if (branch != null) branches.Add(branch);
        }

        // ---- each activation Q/DQ pair on the reference value (qdq_loss_debug's pre/post comparison, on float inputs) ----
        var qdqBranches = new List<QdqBranch>();
        var consumers = new Dictionary<string, string[]>(StringComparer.Ordinal);
        foreach (var q in cg.Nodes)
        {
            if (q.OpType != "QuantizeLinear" || cg.IsConstant(q.Input[0]) || !IsReferenceValue(q.Input[0], rg) || rg.IsConstant(q.Input[0])) continue;
            string f = q.Input[0];
            var dqs = cg.Consumers(q.Output[0]).Where(n => n.OpType == "DequantizeLinear").ToList();
            if (dqs.Count == 0) continue;
            var readers = dqs.SelectMany(dq => cg.Consumers(dq.Output[0])).Where(quantizedNodes.Contains).Select(DisplayName);
            consumers[f] = consumers.TryGetValue(f, out var known) ? known.Concat(readers).Distinct().ToArray() : readers.Distinct().ToArray();
            if (qdqBranches.Any(b => b.Tensor == f)) continue;
            var nodes = new List<NodeProto>();
            string p = $"{Prefix}qdq{qdqBranches.Count}/";
            feeds[f] = exposedRef.Expose(f);
            string qo = CopyNode(q, p + "q", nodes, cg, bg, copied, null, f);
            string dqo = CopyNode(dqs[0], p + "dq", nodes, cg, bg, copied, null, qo);
            bg.Node.AddRange(nodes);
            bg.Output.Add(new ValueInfoProto { Name = dqo });
            qdqBranches.Add(new QdqBranch(f, feeds[f], dqo));
        }

        // QOperator: the integer nodes reading an integer tensor keep it quantized.
        var byCandidate = branches.Where(b => b.CandidateNode.Length > 0).GroupBy(b => b.CandidateNode).ToDictionary(g => g.Key, g => g.First().Node, StringComparer.Ordinal);
        foreach (var (integer, tensor) in integerToReference)
        {
            var readers = cg.Consumers(integer).Where(n => n.OpType != "DequantizeLinear" && n.Output.Count > 0 && integerToReference.ContainsKey(n.Output[0]))
                .Select(n => byCandidate.GetValueOrDefault(n.Name)).OfType<string>();
            consumers[tensor] = consumers.TryGetValue(tensor, out var known) ? known.Concat(readers).Distinct().ToArray() : readers.Distinct().ToArray();
        }

        return new PerTensorPlan
        {
            ReferenceModel = analysis, BranchModel = branchModel, BranchFeeds = feeds, CandidateModel = augmented, Activations = activations, Branches = branches, Weights = weights,
            QdqBranches = qdqBranches, QuantizedConsumers = consumers,
        };
    }

    /// <summary>The candidate tensor holding the value of reference tensor <paramref name="tensor"/>, and the
    /// float range its quantization represents. Same-named tensors are followed through their Q/DQ pair;
    /// otherwise (QOperator) the integer node made from the reference node gives its output at the same
    /// position, dequantized; <paramref name="integerToReference"/> records that pairing.</summary>
    private static (string Tensor, (double, double)? Range)? FindCounterpart(string tensor, NodeProto? refNode, GraphView rg, GraphView cg, GraphProto augmented,
        Dictionary<string, string> integerToReference)
    {
        if (cg.Producer(tensor) != null || cg.Proto.Input.Any(i => i.Name == tensor))
        {
            if (cg.ElementType(tensor) is int t && t != ElementTypes.Float && t != ElementTypes.Float16 && t != ElementTypes.Double)
                return DequantizedInteger(tensor, cg, augmented);
            // QOperator: a graph output is the DequantizeLinear of the last integer node's output.
            if (cg.Producer(tensor) is { OpType: "DequantizeLinear" } dq && cg.Producer(dq.Input[0]) is { OpType: not "QuantizeLinear" })
                integerToReference.TryAdd(dq.Input[0], tensor);
            return FollowQdq(tensor, cg);
        }
        if (refNode == null || refNode.Name.Length == 0) return null;
        int k = refNode.Output.IndexOf(tensor);
        var c = QOperatorNode(refNode, cg);
        if (c == null)
        {
            // A Relu/Clip the quantizer folded into its producer: the producer's integer output is its value.
            if (refNode.OpType is not ("Relu" or "Clip") || k != 0 || rg.Producer(refNode.Input[0]) is not { } p || rg.Consumers(refNode.Input[0]).Count != 1) return null;
            c = QOperatorNode(p, cg);
            if (c == null || c.Output.Count == 0) return null;
            k = 0;
        }
        else if (k == 0 && rg.Consumers(tensor) is [{ OpType: "Relu" or "Clip" } act] && QOperatorNode(act, cg) == null && !rg.IsGraphOutput(tensor))
        {
            return null; // folded: the integer output holds the activation's value, not this one
        }
        if (c.Output.Count <= k) return null;
        string ct = c.Output[k];
        // A name the reference uses for another tensor means the node was fused with its successor.
        if (ct.Length == 0 || rg.Producer(ct) != null) return null;
        var deq = DequantizedInteger(ct, cg, augmented);
        if (deq != null) integerToReference[ct] = tensor;
        return deq ?? FollowQdq(ct, cg);
    }

    /// <summary>The integer (QOperator) node the quantizer made from a reference node: named after it
    /// ("conv" -> "conv_quant"), a QLinear op, QGemm, or the same op on integers (MaxPool, Reshape ...);
    /// the shortest such name, so "conv10_quant" is not taken for "conv1".</summary>
    private static NodeProto? QOperatorNode(NodeProto refNode, GraphView cg)
    {
        if (refNode.Name.Length == 0) return null;
        return cg.Nodes.Where(n => n.Name.Length > refNode.Name.Length && n.Name.StartsWith(refNode.Name, StringComparison.Ordinal)
                && (n.OpType.StartsWith("QLinear", StringComparison.Ordinal) || n.OpType == "QGemm"
                    // the same op moving integers ("/Conv_1" in a QDQ model is another float node, not this one)
                    || (n.OpType == refNode.OpType && n.Input.Count > 0 && OutputQuantParams(n.Input[0], cg, 0) != null)))
            .MinBy(n => n.Name.Length);
    }

    /// <summary>The DequantizeLinear output fed by a QuantizeLinear reading the tensor, or the tensor itself.</summary>
    private static (string, (double, double)?) FollowQdq(string tensor, GraphView cg)
    {
        foreach (var q in cg.Consumers(tensor))
        {
            if (q.OpType != "QuantizeLinear" || q.Input[0] != tensor) continue;
            foreach (var dq in cg.Consumers(q.Output[0]))
                if (dq.OpType == "DequantizeLinear") return (dq.Output[0], RangeOf(q, cg));
        }
        return (tensor, null);
    }

    /// <summary>For an integer tensor (a QOperator output), adds a DequantizeLinear with its producer's
    /// output scale and zero point; null when they cannot be found.</summary>
    private static (string, (double, double)?)? DequantizedInteger(string tensor, GraphView cg, GraphProto augmented)
    {
        var qp = OutputQuantParams(tensor, cg, 0);
        if (qp == null) return null;
        string output = Prefix + "deq/" + tensor;
        var dq = new NodeProto { OpType = "DequantizeLinear", Name = output };
        dq.Input.Add(tensor);
        dq.Input.Add(qp.Value.Scale);
        if (qp.Value.ZeroPoint.Length > 0) dq.Input.Add(qp.Value.ZeroPoint);
        dq.Output.Add(output);
        augmented.Node.Add(dq);
        return (output, null);
    }

    /// <summary>Scale and zero-point tensor names of an integer tensor, from its producer: QuantizeLinear, a
    /// QLinear op (the output scale input), or a pass-through op (MaxPool, Reshape ...) that keeps its input's.</summary>
    private static (string Scale, string ZeroPoint)? OutputQuantParams(string tensor, GraphView cg, int depth)
    {
        var p = cg.Producer(tensor);
        if (p == null || depth > 32 || p.OpType == "DequantizeLinear") return null; // a float tensor
        int at = p.OpType switch
        {
            "QuantizeLinear" or "DynamicQuantizeLinear" => 1,
            "QLinearConv" or "QLinearMatMul" or "QLinearAdd" or "QLinearMul" => 6,
            "QGemm" => 7,
            "QLinearGlobalAveragePool" or "QLinearAveragePool" or "QLinearSigmoid" or "QLinearLeakyRelu" or "QLinearSoftmax" => 3,
            "QLinearConcat" => 0,
            _ => -1,
        };
        if (p.OpType == "DynamicQuantizeLinear") return (p.Output[1], p.Output[2]);
        if (at >= 0 && p.Input.Count > at)
            return (p.Input[at], p.Input.Count > at + 1 ? p.Input[at + 1] : "");
        if (at < 0 && p.Input.Count > 0 && !p.OpType.StartsWith("QLinear", StringComparison.Ordinal))
            return OutputQuantParams(p.Input[0], cg, depth + 1);
        return null;
    }

    /// <summary>The float range a per-tensor QuantizeLinear represents: [(qmin-zp)s, (qmax-zp)s].</summary>
    private static (double, double)? RangeOf(NodeProto q, GraphView g)
    {
        var scale = g.GetConstant(q.Input[1]);
        if (scale == null || TensorData.ElementCount(scale) != 1) return null;
        float s = TensorData.ToFloatArray(scale)[0];
        int type = ElementTypes.UInt8;
        float zp = 0;
        if (q.Input.Count > 2 && q.Input[2].Length > 0)
        {
            var z = g.GetConstant(q.Input[2]);
            if (z == null || TensorData.ElementCount(z) != 1) return null;
            type = z.DataType;
            try { zp = TensorData.ToFloatArray(z)[0]; } catch (NotSupportedException) { return null; }
        }
        if (!QuantTypeInfo.TryFromOnnxDataType(type, out var qt)) return null;
        var (qmin, qmax) = qt.StorageRange();
        return ((qmin - zp) * (double)s, (qmax - zp) * (double)s);
    }

    /// <summary>A compute node of the candidate that reads a DequantizeLinear or writes into a QuantizeLinear.</summary>
    private static bool IsQuantizedCompute(NodeProto n, GraphView cg)
    {
        if (n.OpType is "QuantizeLinear" or "DequantizeLinear" || IsConstantNode(n)) return false;
        if (n.Attribute.Any(a => a.G != null || a.Graphs.Count > 0)) return false; // control flow: not re-run alone
        bool inQ = n.Input.Any(i => i.Length > 0 && cg.Producer(i)?.OpType == "DequantizeLinear");
        bool outQ = n.Output.Any(o => o.Length > 0 && cg.Consumers(o).Any(c => c.OpType == "QuantizeLinear"));
        return inQ || outQ;
    }

    /// <summary>
    /// Copies candidate node <paramref name="c"/> into the branch model, fed from the reference's float
    /// tensors. Why this isolates the node: every input is the exact float value, weights are the
    /// candidate's dequantized ones, and the output goes through the candidate's Q/DQ. An input's Q/DQ is
    /// applied here only when no quantized node produces that input (a graph input or a float producer);
    /// otherwise that Q/DQ is the producer's output quantization and is charged to the producer, so each
    /// Q/DQ pair is counted once (this is how a bad scale on one tensor points at one node).
    /// </summary>
    private static OwnBranch? TryBuildBranch(NodeProto c, int index, GraphView rg, GraphView cg, HashSet<NodeProto> quantized,
        GraphProto branches, Dictionary<string, string> copied, Dictionary<string, int> refOrder, OutputAdder exposed, Dictionary<string, string> feeds)
    {
        string p = $"{Prefix}own{index}/";
        var newNodes = new List<NodeProto>();
        var inputs = new List<string>();
        var pending = new List<string>(); // reference tensors the copy reads: branch model inputs
        foreach (var x in c.Input)
        {
            if (x.Length == 0) { inputs.Add(""); continue; }
            var dq = cg.Producer(x);
            if (dq?.OpType == "DequantizeLinear")
            {
                string src = dq.Input[0];
                if (cg.IsConstant(src))
                {
                    inputs.Add(CopyNode(dq, p + "w/" + x, newNodes, cg, branches, copied, src)); // dequantized weight
                    continue;
                }
                var q = cg.Producer(src);
                if (q?.OpType != "QuantizeLinear") return null;
                string f = q.Input[0];
                if (!IsReferenceValue(f, rg) || rg.IsConstant(f)) return null;
                var fp = cg.Producer(f);
                if (fp == null || !quantized.Contains(fp))
                {
                    string qo = CopyNode(q, p + "q/" + x, newNodes, cg, branches, copied, null, f);
                    inputs.Add(CopyNode(dq, p + "dq/" + x, newNodes, cg, branches, copied, null, qo));
                }
                else inputs.Add(f);
                pending.Add(f);
                continue;
            }
            if (cg.IsConstant(x)) { inputs.Add(CopyConstant(x, cg, branches, copied)); continue; }
            if (!IsReferenceValue(x, rg) || rg.IsConstant(x)) return null;
            inputs.Add(x);
            pending.Add(x);
        }

        // The first output whose value the reference also has is the one compared: under its own name, or
        // under the name its Q/DQ pair gives it (a graph output the quantizer moved behind the pair).
        int k = -1;
        string tensor = "";
        for (int i = 0; i < c.Output.Count && k < 0; i++)
        {
            if (c.Output[i].Length == 0) continue;
            if (IsReferenceValue(c.Output[i], rg)) (k, tensor) = (i, c.Output[i]);
            else if (FollowQdq(c.Output[i], cg).Item1 is var after && after != c.Output[i] && IsReferenceValue(after, rg)) (k, tensor) = (i, after);
        }
        if (k < 0 || rg.IsConstant(tensor)) return null;

        var copy = c.Clone();
        copy.Name = p + "node";
        copy.Input.Clear();
        copy.Input.AddRange(inputs);
        for (int i = 0; i < copy.Output.Count; i++)
            if (copy.Output[i].Length > 0) copy.Output[i] = p + "out" + i;
        newNodes.Add(copy);
        string own = copy.Output[k];
        var outQ = cg.Consumers(c.Output[k]).FirstOrDefault(n => n.OpType == "QuantizeLinear" && n.Input[0] == c.Output[k]);
        if (outQ != null && cg.Consumers(outQ.Output[0]).FirstOrDefault(n => n.OpType == "DequantizeLinear") is { } outDq)
        {
            string qo = CopyNode(outQ, p + "oq", newNodes, cg, branches, copied, null, own);
            own = CopyNode(outDq, p + "own", newNodes, cg, branches, copied, null, qo);
        }
        branches.Node.AddRange(newNodes);
        foreach (var f in pending) feeds[f] = exposed.Expose(f);
        branches.Output.Add(new ValueInfoProto { Name = own });
        string ownOutput = own;
        string refOutput = exposed.Expose(tensor);
        int order = refOrder.GetValueOrDefault(tensor, -1);
        return new OwnBranch(DisplayName(c), c.OpType, order, tensor, refOutput, ownOutput) { CandidateNode = c.Name };
    }

    /// <summary>
    /// Copies an integer (QOperator) node into the branch model: each integer input is the reference's
    /// float value quantized with that input's scale and zero point, constants are copied, and the integer
    /// output is dequantized with the node's output parameters. Unlike the QDQ case the input quantization
    /// cannot be left out (the op computes on integers), so a badly quantized tensor shows in its producer
    /// and in its readers; the readers are also what keep it quantized when the producer is excluded.
    /// </summary>
    private static OwnBranch? TryBuildQOperatorBranch(NodeProto c, NodeProto? r, int index, GraphView rg, GraphView cg, GraphProto branches,
        Dictionary<string, string> copied, Dictionary<string, int> refOrder, OutputAdder exposed, Dictionary<string, string> feeds,
        Dictionary<string, string> integerToReference)
    {
        if (c.Attribute.Any(a => a.G != null || a.Graphs.Count > 0)) return null;
        string p = $"{Prefix}qop{index}/";
        var newNodes = new List<NodeProto>();
        var inputs = new List<string>();
        var pending = new List<string>();
        foreach (var x in c.Input)
        {
            if (x.Length == 0) { inputs.Add(""); continue; }
            if (cg.IsConstant(x)) { inputs.Add(CopyConstant(x, cg, branches, copied)); continue; }
            if (integerToReference.TryGetValue(x, out var f))
            {
                var qp = OutputQuantParams(x, cg, 0);
                if (qp == null || !cg.IsConstant(qp.Value.Scale) || (qp.Value.ZeroPoint.Length > 0 && !cg.IsConstant(qp.Value.ZeroPoint))) return null;
                var q = new NodeProto { OpType = "QuantizeLinear", Name = p + "q/" + x };
                q.Input.Add(f);
                q.Input.Add(CopyConstant(qp.Value.Scale, cg, branches, copied));
                if (qp.Value.ZeroPoint.Length > 0) q.Input.Add(CopyConstant(qp.Value.ZeroPoint, cg, branches, copied));
                q.Output.Add(q.Name);
                newNodes.Add(q);
                inputs.Add(q.Name);
                pending.Add(f);
                continue;
            }
            if (!IsReferenceValue(x, rg) || rg.IsConstant(x)) return null;
            inputs.Add(x);
            pending.Add(x);
        }
        var outParams = OutputQuantParams(c.Output[0], cg, 0);
        if (outParams == null || !cg.IsConstant(outParams.Value.Scale) || (outParams.Value.ZeroPoint.Length > 0 && !cg.IsConstant(outParams.Value.ZeroPoint))) return null;

        var copy = c.Clone();
        copy.Name = p + "node";
        copy.Input.Clear();
        copy.Input.AddRange(inputs);
        for (int i = 0; i < copy.Output.Count; i++)
            if (copy.Output[i].Length > 0) copy.Output[i] = p + "out" + i;
        newNodes.Add(copy);
        var dq = new NodeProto { OpType = "DequantizeLinear", Name = p + "own" };
        dq.Input.Add(copy.Output[0]);
        dq.Input.Add(CopyConstant(outParams.Value.Scale, cg, branches, copied));
        if (outParams.Value.ZeroPoint.Length > 0) dq.Input.Add(CopyConstant(outParams.Value.ZeroPoint, cg, branches, copied));
        dq.Output.Add(dq.Name);
        newNodes.Add(dq);

        branches.Node.AddRange(newNodes);
        foreach (var f in pending) feeds[f] = exposed.Expose(f);
        branches.Output.Add(new ValueInfoProto { Name = dq.Name });
        string tensor = integerToReference[c.Output[0]];
        // Named after the reference node: that name is what ExcludeNodes takes.
        var named = r ?? rg.Producer(tensor);
        return new OwnBranch(named != null ? DisplayName(named) : DisplayName(c), named?.OpType ?? c.OpType, refOrder.GetValueOrDefault(tensor, -1),
            tensor, exposed.Expose(tensor), dq.Name) { CandidateNode = c.Name };
    }

    private static bool IsReferenceValue(string name, GraphView rg) =>
        rg.Producer(name) != null || rg.Proto.Input.Any(i => i.Name == name) || rg.IsConstant(name);

    /// <summary>Adds a copy of a Q or DQ node reading <paramref name="firstInput"/> (or its own first input,
    /// copied as a constant), with its constant inputs copied; returns the copy's output.</summary>
    private static string CopyNode(NodeProto n, string output, List<NodeProto> nodes, GraphView cg, GraphProto target,
        Dictionary<string, string> copied, string? constantInput, string? firstInput = null)
    {
        var copy = n.Clone();
        copy.Name = output;
        copy.Input.Clear();
        for (int i = 0; i < n.Input.Count; i++)
        {
            string x = n.Input[i];
            if (i == 0) copy.Input.Add(firstInput ?? CopyConstant(constantInput ?? x, cg, target, copied));
            else copy.Input.Add(x.Length == 0 ? "" : CopyConstant(x, cg, target, copied));
        }
        copy.Output.Clear();
        copy.Output.Add(output);
        nodes.Add(copy);
        return output;
    }

    /// <summary>Copies a candidate constant (initializer or Constant node) into the branch model under a
    /// prefixed name, once.</summary>
    private static string CopyConstant(string name, GraphView cg, GraphProto target, Dictionary<string, string> copied)
    {
        if (copied.TryGetValue(name, out var done)) return done;
        var t = cg.GetConstant(name) ?? throw new InvalidOperationException($"Candidate tensor '{name}' is not a constant.");
        var clone = t.Clone();
        clone.Name = Prefix + "c/" + name;
        target.Initializer.Add(clone);
        copied[name] = clone.Name;
        return clone.Name;
    }

    /// <summary>Each float weight of the reference node against its dequantized integer version in the
    /// candidate: a DequantizeLinear of an integer constant (QDQ), or the weight inputs of a QLinearConv /
    /// QLinearMatMul / QGemm (QOperator: weight, scale, zero point at inputs 3, 4, 5).</summary>
    private static void CompareWeights(NodeProto c, NodeProto? r, GraphView rg, GraphView cg, OnnxModel candidate, OnnxModel reference,
        List<TensorComparison> rows, Dictionary<string, int> refOrder)
    {
        if (r == null) return;
        bool qop = c.OpType is "QLinearConv" or "QLinearMatMul" or "QGemm";
        for (int j = 0; j < r.Input.Count; j++)
        {
            string w = r.Input[j];
            var rw = rg.GetConstant(w);
            if (rw == null || rw.DataType != ElementTypes.Float) continue;
            float[]? deq;
            string candName;
            if (qop)
            {
                if (j != 1 || c.Input.Count < 6 || !cg.IsConstant(c.Input[3]) || !c.Input[3].StartsWith(w, StringComparison.Ordinal)) continue;
                // Per-channel QOperator weights are sliced along the output channels: axis 0 for Conv
                // and transposed Gemm, 1 for MatMul and plain Gemm.
                bool transB = c.Attribute.Any(a => a.Name == "transB" && a.I != 0);
                int axis = c.OpType == "QLinearConv" || (c.OpType == "QGemm" && transB) ? 0 : 1;
                deq = Dequantize(c.Input[3], c.Input[4], c.Input[5], axis, cg, candidate);
                candName = c.Input[3];
            }
            else
            {
                if (j >= c.Input.Count) continue;
                var dq = cg.Producer(c.Input[j]);
                if (dq?.OpType != "DequantizeLinear" || !cg.IsConstant(dq.Input[0])) continue;
                // A weight the rewrite replaced by new values (a BatchNormalization folded in) is not this one.
                if (!dq.Input[0].StartsWith(w, StringComparison.Ordinal)) continue;
                long axisAttr = dq.Attribute.FirstOrDefault(a => a.Name == "axis")?.I ?? 1;
                deq = Dequantize(dq.Input[0], dq.Input[1], dq.Input.Count > 2 ? dq.Input[2] : "", (int)axisAttr, cg, candidate);
                candName = dq.Output[0];
            }
            if (deq == null) continue;
            float[] refValues = reference.GetFloats(rw);
            if (deq.Length != refValues.Length) continue;
            var s = ErrorMetrics.Summarize(refValues, deq);
            int order = r.Output.Count > 0 ? refOrder.GetValueOrDefault(r.Output[0], -1) : -1;
            rows.Add(TensorComparison.From(w, TensorKind.Weight, DisplayName(r), r.OpType, order, candName, s, null));
        }
    }

    /// <summary>x = (q - zp) * scale, per tensor or per axis; null for encodings we do not read (4-bit, blocked).</summary>
    private static float[]? Dequantize(string quantized, string scale, string zeroPoint, int axis, GraphView cg, OnnxModel candidate)
    {
        var qt = cg.GetConstant(quantized);
        var st = cg.GetConstant(scale);
        var zt = zeroPoint.Length > 0 ? cg.GetConstant(zeroPoint) : null;
        if (qt == null || st == null) return null;
        float[] q, s, z;
        try
        {
            q = candidate.GetFloats(qt);
            s = candidate.GetFloats(st);
            z = zt != null ? candidate.GetFloats(zt) : new float[s.Length];
        }
        catch (NotSupportedException) { return null; }
        if (s.Length == 1)
        {
            var r = new float[q.Length];
            for (int i = 0; i < q.Length; i++) r[i] = (q[i] - z[0]) * s[0];
            return r;
        }
        var dims = qt.Dims.ToArray();
        if (axis < 0) axis += dims.Length;
        if (axis < 0 || axis >= dims.Length || dims[axis] != s.Length || z.Length != s.Length) return null;
        long inner = 1;
        for (int d = axis + 1; d < dims.Length; d++) inner *= dims[d];
        var result = new float[q.Length];
        for (long i = 0; i < q.Length; i++)
        {
            long ch = i / inner % s.Length;
            result[i] = (q[i] - z[ch]) * s[ch];
        }
        return result;
    }

    private static bool IsConstantNode(NodeProto n) => n.OpType == "Constant" && string.IsNullOrEmpty(n.Domain);

    internal static string DisplayName(NodeProto n) => n.Name.Length > 0 ? n.Name : $"({n.OpType} -> {string.Join(",", n.Output)})";

    /// <summary>The branch model with its inputs typed as the reference run produces them (ONNX Runtime
    /// needs input types; the reference may declare none for intermediates). Null when there are no branches.</summary>
    public byte[]? BranchModelBytes(Func<string, int?> elementTypeOfReferenceOutput)
    {
        if (BranchModel.Graph.Node.Count == 0) return null;
        var proto = BranchModel.Clone();
        foreach (var (tensor, exposedName) in BranchFeeds)
        {
            int type = elementTypeOfReferenceOutput(exposedName) ?? ElementTypes.Float;
            proto.Graph.Input.Add(new ValueInfoProto { Name = tensor, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = type } } });
        }
        return Google.Protobuf.MessageExtensions.ToByteArray(proto);
    }

    /// <summary>Adds graph outputs (untyped: ONNX Runtime infers their types), once per tensor; graph
    /// inputs are exposed through an Identity, as an input cannot also be an output name of a node.</summary>
    private sealed class OutputAdder
    {
        private readonly GraphProto _g;
        private readonly string _tag;
        private readonly Dictionary<string, string> _done = new(StringComparer.Ordinal);

        public OutputAdder(GraphProto g, string tag)
        {
            _g = g;
            _tag = tag;
            foreach (var o in g.Output) _done[o.Name] = o.Name;
        }

        public string Expose(string tensor)
        {
            if (_done.TryGetValue(tensor, out var name)) return name;
            name = tensor;
            if (_g.Input.Any(i => i.Name == tensor))
            {
                name = $"{Prefix}{_tag}/{tensor}";
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
}
