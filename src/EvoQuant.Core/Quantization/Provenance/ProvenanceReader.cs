using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;

namespace EvoQuant.Quantization.Provenance;

/// <summary>
/// Infers the provenance of a quantized model from its graph and the float model's, for models this
/// module did not quantize (ONNX Runtime's tool names tensors its own way) or that were loaded from disk.
/// It follows structure, never names: the float nodes are walked in topological order, and each is
/// paired with the candidate node that reads the candidate values of its inputs (through
/// QuantizeLinear / DequantizeLinear / DynamicQuantizeLinear) and computes its op, in float (QDQ) or as an
/// integer form (QLinearConv, QGemm, MatMulInteger ...). A float node with no such reader whose input
/// only it reads was folded into that input's producer (Relu and Clip into the output range,
/// BatchNormalization into the Conv). Producer and consumer maps are built once: linear in the graph.
/// </summary>
public static class ProvenanceReader
{
    /// <summary>The provenance of <paramref name="candidate"/> as quantized from <paramref name="reference"/>
    /// (<see cref="QuantizationProvenance.Recorded"/> false). Nodes it cannot pair are left out.</summary>
    public static QuantizationProvenance Infer(OnnxModel reference, OnnxModel candidate)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(candidate);
        return Infer(reference.Graph, candidate.Graph, null);
    }

    internal static QuantizationProvenance Infer(GraphView reference, GraphView candidate, WorkCounter? work) =>
        new Reading(reference, candidate, work ?? new WorkCounter()).Run();

    private sealed class Reading(GraphView rg, GraphView cg, WorkCounter work)
    {
        // candidate tensor -> the candidate tensor whose value it carries through Q, DQ or DynamicQuantizeLinear
        private readonly Dictionary<string, string> _canon = new(StringComparer.Ordinal);
        // canonical candidate tensor -> compute nodes reading it (directly or through Q/DQ)
        private readonly Dictionary<string, List<NodeProto>> _readers = new(StringComparer.Ordinal);
        // reference tensor -> candidate tensor holding its value (float, or integer in QOperator graphs)
        private readonly Dictionary<string, string> _value = new(StringComparer.Ordinal);
        private readonly Dictionary<string, TensorProvenance> _tensors = new(StringComparer.Ordinal);
        private readonly Dictionary<string, string> _renames = new(StringComparer.Ordinal);
        private readonly List<NodeProvenance> _nodes = new();
        // candidate integer activation -> its source tensor
        private readonly Dictionary<string, string> _integerSource = new(StringComparer.Ordinal);
        private readonly Dictionary<NodeProto, NodeProto> _match = new(ReferenceEqualityComparer.Instance);
        // reference node -> the paired node that computes it, or for a folded node the one it was folded into
        private readonly Dictionary<NodeProto, NodeProto> _root = new(ReferenceEqualityComparer.Instance);
        private readonly HashSet<NodeProto> _claimed = new(ReferenceEqualityComparer.Instance);
        private readonly HashSet<string> _referenceOutputs = rg.Proto.Output.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);

        public QuantizationProvenance Run()
        {
            IndexCandidate();
            var candidateInputs = cg.Proto.Input.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
            foreach (var input in rg.RuntimeInputs)
            {
                work.Add();
                if (!candidateInputs.Contains(input.Name)) continue;
                _value[input.Name] = input.Name;
                DescribeFloat(input.Name, input.Name);
            }
            foreach (var r in rg.Nodes)
            {
                work.Add();
                if (IsConstantNode(r)) continue;
                if (Match(r) is var (c, form)) Record(r, c, form);
                else if (!TryFold(r)) ByName(r);
            }
            var provenance = new QuantizationProvenance { Recorded = false };
            foreach (var n in _nodes) provenance.AddNode(n);
            foreach (var t in _tensors.Values) provenance.AddTensor(t);
            foreach (var (source, output) in _renames) provenance.AddRename(source, output);
            return provenance;
        }

        private void IndexCandidate()
        {
            foreach (var n in cg.Nodes)
            {
                work.Add(1 + n.Input.Count);
                if (IsQuantizeOrDequantize(n))
                {
                    if (n.Input.Count > 0 && n.Output.Count > 0) _canon[n.Output[0]] = Canon(n.Input[0]);
                    continue;
                }
                if (IsConstantNode(n)) continue;
                foreach (var x in n.Input)
                {
                    if (x.Length == 0) continue;
                    string c = Canon(x);
                    if (!_readers.TryGetValue(c, out var list)) _readers[c] = list = new List<NodeProto>();
                    if (list.Count == 0 || !ReferenceEquals(list[^1], n)) list.Add(n);
                }
            }
        }

        private string Canon(string tensor) => _canon.GetValueOrDefault(tensor, tensor);

        /// <summary>The unclaimed candidate node computing <paramref name="r"/>: among the readers of its first
        /// activation's value, one whose op fits and whose every input lines up; weight shapes break ties.</summary>
        private (NodeProto, QuantizedOpForm?)? Match(NodeProto r)
        {
            string? first = r.Input.FirstOrDefault(x => x.Length > 0 && !rg.IsConstant(x));
            if (first == null || !_value.TryGetValue(first, out var value) || !_readers.TryGetValue(value, out var readers)) return null;
            (NodeProto, QuantizedOpForm?)? fallback = null;
            foreach (var c in readers)
            {
                work.Add();
                if (_claimed.Contains(c)) continue;
                bool same = c.OpType == r.OpType && (c.Domain ?? "") == (r.Domain ?? "");
                var form = same ? null : QuantizedOpForm.Of(c);
                if (!same && (form == null || !form.Computes(r.OpType))) continue;
                int fit = Fits(r, c, form);
                if (fit == 2) return (c, form);
                if (fit == 1) fallback ??= (c, form);
            }
            return fallback;
        }

        /// <summary>0: an input does not line up; 1: they do; 2: and the weights have the reference's shapes.</summary>
        private int Fits(NodeProto r, NodeProto c, QuantizedOpForm? form)
        {
            bool shapes = true;
            for (int j = 0; j < r.Input.Count; j++)
            {
                string x = r.Input[j];
                if (x.Length == 0) continue;
                work.Add();
                int at = form == null ? j : form.InputAt(j);
                string? cx = at >= 0 && at < c.Input.Count && c.Input[at].Length > 0 ? c.Input[at] : null;
                if (!rg.IsConstant(x))
                {
                    if (cx == null || !_value.TryGetValue(x, out var v) || Canon(cx) != v) return 0;
                    continue;
                }
                if (cx == null) continue;
                var rt = rg.GetConstant(x);
                var ct = cg.GetConstant(Canon(cx));
                if (rt == null || ct == null || !rt.Dims.SequenceEqual(ct.Dims)) shapes = false;
            }
            return shapes ? 2 : 1;
        }

        private void Record(NodeProto r, NodeProto c, QuantizedOpForm? form)
        {
            _claimed.Add(c);
            _match[r] = c;
            _root[r] = r;
            var emitted = new List<NodeProto>();
            foreach (var x in c.Input)
                if (x.Length > 0 && cg.Producer(x) is { OpType: "DynamicQuantizeLinear" } dql && !emitted.Contains(dql)) emitted.Add(dql);
            emitted.Add(c);
            bool quantized = form != null || IsQdqCompute(c);
            string? accumulatorScale = null;

            if (form is { IntegerAccumulator: true })
            {
                bool bias = r.Input.Count > 2 && r.Input[2].Length > 0;
                var (end, scale) = FollowAccumulator(c, emitted, bias);
                accumulatorScale = scale;
                if (r.Output.Count > 0 && r.Output[0].Length > 0) MapFloat(r.Output[0], end);
            }
            else if (form != null && form.OutputScaleAt >= 0 && c.Input.Count > form.OutputScaleAt && c.Input[form.OutputScaleAt].Length > 0)
            {
                int s = form.OutputScaleAt;
                string o = c.Output[0];
                _value[r.Output[0]] = o;
                AddInteger(new TensorProvenance(r.Output[0], ProvenanceKind.Activation, o, c.Input[s], Optional(c, s + 1),
                    DequantizedTensor: Dequantized(o)));
            }
            else
            {
                for (int k = 0; k < r.Output.Count && k < c.Output.Count; k++)
                {
                    string ro = r.Output[k], co = c.Output[k];
                    if (ro.Length == 0 || co.Length == 0) continue;
                    work.Add();
                    // An op moving integers (MaxPool, Reshape ... in QOperator graphs) keeps its input's parameters.
                    if (k == 0 && form == null && c.Input.Count > 0 && _integerSource.TryGetValue(c.Input[0], out var from) && _tensors.TryGetValue(from, out var src))
                    {
                        _value[ro] = co;
                        AddInteger(new TensorProvenance(ro, ProvenanceKind.Activation, co, src.Scale, src.ZeroPoint, src.Axis, Dequantized(co), SharedWith: from));
                        quantized = true;
                        continue;
                    }
                    MapFloat(ro, co);
                }
            }
            RecordWeights(r, c, form, accumulatorScale);
            _nodes.Add(new NodeProvenance(SourceId(r), r.OpType, quantized ? NodeOutcome.Quantized : NodeOutcome.Float,
                emitted.Select(SourceId).ToList(), quantized ? null : "float in the quantized model"));
        }

        /// <summary>Each float constant input of the reference node and where its integer form lives.</summary>
        private void RecordWeights(NodeProto r, NodeProto c, QuantizedOpForm? form, string? accumulatorScale)
        {
            for (int j = 0; j < r.Input.Count; j++)
            {
                string x = r.Input[j];
                if (x.Length == 0 || rg.GetConstant(x) is not { DataType: ElementTypes.Float }) continue;
                work.Add();
                int at = form == null ? j : form.InputAt(j);
                if (at < 0 || at >= c.Input.Count || c.Input[at].Length == 0) continue;
                string cx = c.Input[at];
                if (cg.Producer(cx) is { OpType: "DequantizeLinear" } dq && dq.Input.Count > 1 && cg.GetConstant(dq.Input[0]) is { } q)
                {
                    string scale = dq.Input[1];
                    int? axis = IsPerAxis(scale) ? (int)(dq.Attribute.FirstOrDefault(a => a.Name == "axis")?.I ?? 1) : null;
                    _tensors[x] = new TensorProvenance(x, q.DataType == ElementTypes.Int32 ? ProvenanceKind.Bias : ProvenanceKind.Weight, dq.Input[0], scale,
                        Optional(dq, 2), axis, DequantizedTensor: cx);
                }
                else if (form != null && cg.GetConstant(cx) is { } qc && qc.DataType != ElementTypes.Float)
                {
                    var (s, z) = form.ParamsAt(at);
                    string? scale = s == -2 ? accumulatorScale : s >= 0 ? Optional(c, s) : null;
                    int? axis = scale != null && IsPerAxis(scale) && form.ChannelAxis(c) is var a && a >= 0 ? a : null;
                    // Gemm's B with transB, computed by a MatMul form, is stored transposed.
                    bool transposed = r.OpType == "Gemm" && form.OpType != "QGemm" && j == 1 && r.Attribute.Any(a => a.Name == "transB" && a.I != 0);
                    _tensors[x] = new TensorProvenance(x, qc.DataType == ElementTypes.Int32 ? ProvenanceKind.Bias : ProvenanceKind.Weight, cx, scale,
                        z >= 0 ? Optional(c, z) : null, axis, Permutation: transposed ? [1, 0] : null);
                }
            }
        }

        /// <summary>MatMulInteger / ConvInteger -> Cast -> Mul(activation scale x weight scale) [-> Add bias]: the
        /// float tensor at the end, and the weight scale constant.</summary>
        private (string End, string? WeightScale) FollowAccumulator(NodeProto c, List<NodeProto> emitted, bool bias)
        {
            string t = c.Output[0];
            string? weightScale = null;
            while (cg.Consumers(t) is [var n] && n.Output.Count > 0)
            {
                work.Add();
                if (n.OpType == "Cast") { emitted.Add(n); t = n.Output[0]; continue; }
                if (n.Input.Count != 2) break;
                string other = n.Input[0] == t ? n.Input[1] : n.Input[0];
                if (n.OpType == "Mul")
                {
                    if (cg.IsConstant(other)) weightScale ??= other;
                    else if (cg.Producer(other) is { OpType: "Mul" } scales)
                    {
                        weightScale ??= scales.Input.FirstOrDefault(cg.IsConstant);
                        emitted.Add(scales);
                    }
                    else if (cg.Producer(other) is not { OpType: "DynamicQuantizeLinear" }) break;
                    emitted.Add(n);
                    t = n.Output[0];
                    continue;
                }
                if (n.OpType == "Add" && bias && cg.IsConstant(other)) { emitted.Add(n); t = n.Output[0]; }
                break;
            }
            return (t, weightScale);
        }

        /// <summary>A float node with no counterpart, whose one activation input only it reads, from a node
        /// that has one (or was itself folded into one): the quantizer folded it into that node, which now
        /// writes its value (Conv -> BatchNormalization -> Relu is one Conv).</summary>
        private bool TryFold(NodeProto r)
        {
            var acts = r.Input.Where(x => x.Length > 0 && !rg.IsConstant(x)).ToList();
            if (acts.Count != 1 || r.Output.Count == 0 || r.Output[0].Length == 0 || r.Output.Skip(1).Any(o => o.Length > 0)) return false;
            string u = acts[0];
            if (!_value.TryGetValue(u, out var value) || rg.Producer(u) is not { } p || !_root.TryGetValue(p, out var root)) return false;
            if (rg.Consumers(u).Count != 1 || _referenceOutputs.Contains(u)) return false;
            work.Add();
            _root[r] = root;
            string ro = r.Output[0];
            _value.Remove(u);
            _value[ro] = value;
            _renames.Remove(u);
            if (_tensors.Remove(u, out var tp))
            {
                _tensors[ro] = tp with { SourceTensor = ro };
                if (tp.QuantizedTensor != null && _integerSource.ContainsKey(tp.QuantizedTensor)) _integerSource[tp.QuantizedTensor] = ro;
            }
            if (value != ro && !_integerSource.ContainsKey(value)) _renames[ro] = value;
            // The producer's weights were replaced by new values (BatchNormalization folded into a Conv).
            if (r.OpType == "BatchNormalization")
                foreach (var w in root.Input)
                    if (w.Length > 0 && rg.IsConstant(w)) _tensors.Remove(w);
            _nodes.Add(new NodeProvenance(SourceId(r), r.OpType, NodeOutcome.Folded, Array.Empty<string>(),
                r.OpType == "BatchNormalization" ? "folded into its Conv" : "folded into its producer, whose output quantization applies it", SourceId(root)));
            return true;
        }

        /// <summary>Last resort for nodes the structure does not pair (a graph another tool rewrote): a node of
        /// the same op writing the same tensor name.</summary>
        private void ByName(NodeProto r)
        {
            string id = SourceId(r);
            if (id.Length == 0) return;
            if (cg.Producer(id) is { } c && c.OpType == r.OpType && !_claimed.Contains(c))
            {
                Record(r, c, null);
                return;
            }
            foreach (var o in r.Output)
                if (o.Length > 0 && cg.Producer(o) != null) MapFloat(o, o);
        }

        private void MapFloat(string source, string tensor)
        {
            _value[source] = tensor;
            DescribeFloat(source, tensor);
        }

        /// <summary>A float candidate tensor holding a source tensor: quantized when a QuantizeLinear (static) or a
        /// DynamicQuantizeLinear (dynamic) reads it.</summary>
        private void DescribeFloat(string source, string tensor)
        {
            if (tensor != source) _renames[source] = tensor;
            foreach (var n in cg.Consumers(tensor))
            {
                work.Add();
                if (n.Input.Count == 0 || n.Input[0] != tensor || n.Output.Count == 0) continue;
                if (n.OpType == "QuantizeLinear" && n.Input.Count > 1)
                {
                    int? axis = IsPerAxis(n.Input[1]) ? (int)(n.Attribute.FirstOrDefault(a => a.Name == "axis")?.I ?? 1) : null;
                    AddInteger(new TensorProvenance(source, ProvenanceKind.Activation, n.Output[0], n.Input[1], Optional(n, 2), axis, Dequantized(n.Output[0])));
                    return;
                }
                if (n.OpType == "DynamicQuantizeLinear" && n.Output.Count > 2)
                {
                    _tensors[source] = new TensorProvenance(source, ProvenanceKind.Activation, n.Output[0], n.Output[1], n.Output[2]);
                    return;
                }
            }
        }

        private void AddInteger(TensorProvenance t)
        {
            _tensors[t.SourceTensor] = t;
            if (t.QuantizedTensor != null) _integerSource[t.QuantizedTensor] = t.SourceTensor;
        }

        /// <summary>The output of a DequantizeLinear reading the integer tensor, if any.</summary>
        private string? Dequantized(string integer)
        {
            foreach (var n in cg.Consumers(integer))
            {
                work.Add();
                if (n.OpType == "DequantizeLinear" && n.Input[0] == integer && n.Output.Count > 0) return n.Output[0];
            }
            return null;
        }

        /// <summary>A compute node of a QDQ graph: it reads a DequantizeLinear or writes into a QuantizeLinear.</summary>
        private bool IsQdqCompute(NodeProto n)
        {
            foreach (var x in n.Input)
            {
                work.Add();
                if (x.Length > 0 && cg.Producer(x) is { OpType: "DequantizeLinear" }) return true;
            }
            foreach (var o in n.Output)
            {
                if (o.Length == 0) continue;
                foreach (var c in cg.Consumers(o))
                {
                    work.Add();
                    if (c.OpType == "QuantizeLinear") return true;
                }
            }
            return false;
        }

        private bool IsPerAxis(string scale) => cg.GetConstant(scale) is { } s && TensorData.ElementCount(s) > 1;

        private static string? Optional(NodeProto n, int at) => at < n.Input.Count && n.Input[at].Length > 0 ? n.Input[at] : null;
    }

    /// <summary>How provenance names a node: its first output (unique, present when names are not).</summary>
    public static string SourceId(NodeProto node) => node.Output.FirstOrDefault(o => o.Length > 0) ?? node.Name;

    private static bool IsConstantNode(NodeProto n) => n.OpType == "Constant" && string.IsNullOrEmpty(n.Domain);

    private static bool IsQuantizeOrDequantize(NodeProto n) => n.OpType is "QuantizeLinear" or "DequantizeLinear" or "DynamicQuantizeLinear";
}
