using EvoQuant.Numerics;
using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;
using EvoQuant.Quantization.Provenance;

namespace EvoQuant.Evaluation;

// Activations: each reference tensor against the candidate tensor holding its value; each activation's
// own Q/DQ pair on the reference value; the quantized readers of each quantized tensor.
internal sealed partial class PerTensorPlanBuilder
{
    private List<ActivationPair> PairActivations()
    {
        var pairs = new List<ActivationPair>();
        foreach (var input in _rg.RuntimeInputs) Pair(input.Name, null, -1);
        foreach (var node in _rg.Nodes)
        {
            if (IsConstantNode(node)) continue;
            // A node something was folded into writes that node's value, not its own.
            string? skip = HasFolded(ProvenanceReader.SourceId(node)) ? ProvenanceReader.SourceId(node) : null;
            foreach (var o in node.Output)
                if (o.Length > 0 && o != skip) Pair(o, node, _refOrder[o]);
        }
        return pairs;

        void Pair(string tensor, NodeProto? node, int order)
        {
            _work.Add();
            if (_rg.IsConstant(tensor) || CandidateValue(tensor) is not var (candidate, range)) return;
            pairs.Add(new ActivationPair(tensor, _exposedRef.Expose(tensor), candidate, _exposedCand.Expose(candidate),
                node == null ? null : PerTensorPlan.DisplayName(node), node?.OpType, order, range));
        }
    }

    /// <summary>The candidate tensor holding the float value of a source tensor, and the range its
    /// QuantizeLinear represents: the dequantized tensor of its Q/DQ pair; for an integer tensor (QOperator),
    /// a DequantizeLinear added with its scale and zero point; else the float tensor under its output name.</summary>
    private (string Tensor, (double, double)? Range)? CandidateValue(string source)
    {
        if (ActivationOf(source) is { } t)
        {
            bool simulated = t.QuantizedTensor != null && _cg.Producer(t.QuantizedTensor) is { OpType: "QuantizeLinear" };
            if (t.DequantizedTensor != null && HasTensor(_cg, _candInputs, t.DequantizedTensor))
                return (t.DequantizedTensor, simulated && t.Axis == null ? RangeOf(t) : null);
            if (!simulated && t.QuantizedTensor != null && _integer.ContainsKey(t.QuantizedTensor) && IsConstantScale(t))
                return (Dequantize(t), null);
        }
        string name = _provenance.OutputNameOf(source);
        if (!HasTensor(_cg, _candInputs, name) || _integer.ContainsKey(name)) return null;
        return (name, null);
    }

    /// <summary>A DequantizeLinear of an integer tensor added to the candidate; returns its output.</summary>
    private string Dequantize(TensorProvenance t)
    {
        string output = PerTensorPlan.Prefix + "deq/" + t.QuantizedTensor;
        if (_dequantized.Add(output))
        {
            var dq = new NodeProto { OpType = "DequantizeLinear", Name = output };
            dq.Input.Add(t.QuantizedTensor);
            dq.Input.Add(t.Scale);
            if (t.ZeroPoint != null) dq.Input.Add(t.ZeroPoint);
            if (t.Axis is int a) dq.Attribute.Add(new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = a });
            dq.Output.Add(output);
            _augmented.Graph.Node.Add(dq);
        }
        return output;
    }

    private readonly HashSet<string> _dequantized = new(StringComparer.Ordinal);

    /// <summary>The float range a per-tensor quantization represents: [(qmin-zp)s, (qmax-zp)s].</summary>
    private (double, double)? RangeOf(TensorProvenance t)
    {
        var scale = t.Scale != null ? _cg.GetConstant(t.Scale) : null;
        if (scale == null || TensorData.ElementCount(scale) != 1) return null;
        float s = TensorData.ToFloatArray(scale)[0];
        int type = ElementTypes.UInt8;
        float zp = 0;
        if (t.ZeroPoint != null)
        {
            var z = _cg.GetConstant(t.ZeroPoint);
            if (z == null || TensorData.ElementCount(z) != 1) return null;
            type = z.DataType;
            try { zp = TensorData.ToFloatArray(z)[0]; } catch (NotSupportedException) { return null; }
        }
        if (!QuantTypeInfo.TryFromOnnxDataType(type, out var qt)) return null;
        var (qmin, qmax) = qt.StorageRange();
        return ((qmin - zp) * (double)s, (qmax - zp) * (double)s);
    }

    /// <summary>Each activation's Q/DQ pair applied to the reference value (qdq_loss_debug's pre/post
    /// comparison, on float inputs): the error of that tensor's quantization alone.</summary>
    private List<QdqBranch> BuildQdqBranches()
    {
        var result = new List<QdqBranch>();
        foreach (var t in _provenance.Tensors.Values)
        {
            _work.Add();
            if (t.Kind != ProvenanceKind.Activation || t.QuantizedTensor == null || t.DequantizedTensor == null) continue;
            if (!IsReferenceValue(t.SourceTensor) || _rg.IsConstant(t.SourceTensor)) continue;
            if (_cg.Producer(t.QuantizedTensor) is not { OpType: "QuantizeLinear" } q || _cg.IsConstant(q.Input[0])) continue;
            if (_cg.Producer(t.DequantizedTensor) is not { OpType: "DequantizeLinear" } dq) continue;
            string f = t.SourceTensor;
            var nodes = new List<NodeProto>();
            string p = $"{PerTensorPlan.Prefix}qdq{result.Count}/";
            _feeds[f] = _exposedRef.Expose(f);
            string qo = _branches.CopyNode(q, p + "q", nodes, null, f);
            string dqo = _branches.CopyNode(dq, p + "dq", nodes, null, qo);
            _branches.Proto.Node.AddRange(nodes);
            _branches.Proto.Output.Add(new ValueInfoProto { Name = dqo });
            result.Add(new QdqBranch(f, _feeds[f], dqo));
        }
        return result;
    }

    /// <summary>For each quantized activation, the quantized source nodes that read its quantized value: its
    /// Q/DQ pair (or integer form) stays as long as any of them is quantized. A float op reading the
    /// dequantized output of an integer op (QOperator) does not keep it.</summary>
    private Dictionary<string, string[]> QuantizedConsumers()
    {
        var result = new Dictionary<string, string[]>(StringComparer.Ordinal);
        foreach (var t in _provenance.Tensors.Values)
        {
            if (t.Kind != ProvenanceKind.Activation || t.QuantizedTensor == null) continue;
            bool simulated = _cg.Producer(t.QuantizedTensor) is { OpType: "QuantizeLinear" };
            var readers = new List<string>();
            foreach (var r in _rg.Consumers(t.SourceTensor))
            {
                _work.Add();
                if (!_provenance.Nodes.TryGetValue(ProvenanceReader.SourceId(r), out var n) || n.Outcome != NodeOutcome.Quantized) continue;
                if (!simulated && !n.EmittedNodes.Any(e => _cg.Producer(e) is { } c && c.Input.Contains(t.QuantizedTensor))) continue;
                string name = PerTensorPlan.DisplayName(r);
                if (!readers.Contains(name)) readers.Add(name);
            }
            result[t.SourceTensor] = readers.ToArray();
        }
        return result;
    }
}
