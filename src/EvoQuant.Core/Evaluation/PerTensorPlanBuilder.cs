using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;
using EvoQuant.Quantization.Provenance;

namespace EvoQuant.Evaluation;

/// <summary>
/// Builds a <see cref="PerTensorPlan"/> from a provenance. It reads only what the provenance documents
/// (source node → emitted nodes, source tensor → quantized tensor, scale, zero point, axis, dequantized
/// tensor, renames, folds), so a recorded and an inferred provenance give the same plan. Every lookup is
/// a dictionary built once: the build is linear in the two graphs.
/// </summary>
internal sealed partial class PerTensorPlanBuilder
{
    private readonly OnnxModel _reference, _candidate;
    private readonly GraphView _rg, _cg;
    private readonly QuantizationProvenance _provenance;
    private readonly WorkCounter _work;

    private readonly ModelProto _analysis, _augmented, _branchModel;
    private readonly BranchGraph _branches;
    private readonly OutputAdder _exposedRef, _exposedCand;
    private readonly Dictionary<string, string> _feeds = new(StringComparer.Ordinal);

    // reference tensor -> index of its producer in topological order
    private readonly Dictionary<string, int> _refOrder = new(StringComparer.Ordinal);
    private readonly HashSet<string> _refInputs, _candInputs;
    // candidate tensor -> the source tensor whose value it holds (float name, quantized or dequantized tensor)
    private readonly Dictionary<string, string> _sourceOf = new(StringComparer.Ordinal);
    // candidate integer activation -> its source tensor's provenance
    private readonly Dictionary<string, TensorProvenance> _integer = new(StringComparer.Ordinal);
    // source node -> the nodes folded into it
    private readonly Dictionary<string, List<NodeProvenance>> _foldedInto = new(StringComparer.Ordinal);
    // candidate nodes that compute quantized source nodes
    private readonly HashSet<NodeProto> _quantizedCandidates = new(ReferenceEqualityComparer.Instance);

    public PerTensorPlanBuilder(OnnxModel reference, OnnxModel candidate, QuantizationProvenance provenance, WorkCounter work)
    {
        _reference = reference;
        _candidate = candidate;
        _rg = reference.Graph;
        _cg = candidate.Graph;
        _provenance = provenance;
        _work = work;
        _analysis = reference.CloneProto();
        _augmented = candidate.CloneProto();
        _branchModel = new ModelProto { IrVersion = candidate.Proto.IrVersion, Graph = new GraphProto { Name = "evq_eval_branches" } };
        _branchModel.OpsetImport.AddRange(candidate.Proto.OpsetImport.Select(o => o.Clone()));
        _branches = new BranchGraph(_cg, _branchModel.Graph);
        _exposedRef = new OutputAdder(_analysis.Graph, "ref");
        _exposedCand = new OutputAdder(_augmented.Graph, "cand");
        _refInputs = _rg.Proto.Input.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        _candInputs = _cg.Proto.Input.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        Index();
    }

    private void Index()
    {
        var nodes = _rg.Nodes;
        for (int i = 0; i < nodes.Count; i++)
            foreach (var o in nodes[i].Output)
            {
                _work.Add();
                if (o.Length == 0) continue;
                _refOrder[o] = i;
                MapSource(_provenance.OutputNameOf(o), o);
            }
        foreach (var input in _rg.Proto.Input) MapSource(_provenance.OutputNameOf(input.Name), input.Name);
        foreach (var t in _provenance.Tensors.Values)
        {
            _work.Add();
            if (t.Kind != ProvenanceKind.Activation) continue;
            if (t.DequantizedTensor != null) _sourceOf[t.DequantizedTensor] = t.SourceTensor;
            if (t.QuantizedTensor != null && _cg.GetConstant(t.QuantizedTensor) == null) _integer[t.QuantizedTensor] = t;
        }
        foreach (var n in _provenance.Nodes.Values)
        {
            _work.Add(1 + n.EmittedNodes.Count);
            if (n.Outcome == NodeOutcome.Folded && n.FoldedInto != null)
            {
                if (!_foldedInto.TryGetValue(n.FoldedInto, out var list)) _foldedInto[n.FoldedInto] = list = new();
                list.Add(n);
            }
            if (n.Outcome == NodeOutcome.Quantized)
                foreach (var e in n.EmittedNodes)
                    if (_cg.Producer(e) is { } c) _quantizedCandidates.Add(c);
        }
    }

    /// <summary>Later sources win: a tensor a folded node now writes belongs to that node, not its producer.</summary>
    private void MapSource(string candidateTensor, string source)
    {
        if (HasTensor(_cg, _candInputs, candidateTensor)) _sourceOf[candidateTensor] = source;
    }

    public PerTensorPlan Build()
    {
        var activations = PairActivations();
        var (branches, weights) = BuildOwnBranches();
        var qdq = BuildQdqBranches();
        return new PerTensorPlan
        {
            ReferenceModel = _analysis, BranchModel = _branchModel, BranchFeeds = _feeds, CandidateModel = _augmented,
            Activations = activations, Branches = branches, Weights = weights, QdqBranches = qdq,
            QuantizedConsumers = QuantizedConsumers(), Provenance = _provenance,
        };
    }

    // ---- lookups ----

    private static bool HasTensor(GraphView g, HashSet<string> inputs, string tensor) => g.Producer(tensor) != null || inputs.Contains(tensor);

    private bool IsReferenceValue(string tensor) => _rg.Producer(tensor) != null || _refInputs.Contains(tensor);

    /// <summary>The source tensor a candidate float tensor holds, when it is a runtime value of the reference.</summary>
    private string? SourceValue(string candidateTensor) =>
        _sourceOf.TryGetValue(candidateTensor, out var s) && IsReferenceValue(s) && !_rg.IsConstant(s) ? s : null;

    private TensorProvenance? ActivationOf(string source) =>
        _provenance.Tensors.TryGetValue(source, out var t) && t.Kind == ProvenanceKind.Activation ? t : null;

    private bool HasFolded(string sourceNode) => _foldedInto.ContainsKey(sourceNode);

    /// <summary>The tensor holding a source node's result in the candidate: its first output, or the output
    /// of the last node folded into it (Conv -> BatchNormalization -> Relu writes the Relu's value).</summary>
    private string FinalTensor(NodeProto r)
    {
        string id = ProvenanceReader.SourceId(r);
        string t = id;
        if (!_foldedInto.TryGetValue(id, out var folded)) return t;
        for (int guard = 0; guard <= folded.Count; guard++)
        {
            var next = folded.FirstOrDefault(f => _rg.Producer(f.SourceNode) is { } n && n.Input.Contains(t));
            if (next == null) break;
            t = next.SourceNode;
        }
        return t;
    }

    private bool IsConstantScale(TensorProvenance t) =>
        t.Scale != null && _cg.IsConstant(t.Scale) && (t.ZeroPoint == null || _cg.IsConstant(t.ZeroPoint));

    private static bool IsConstantNode(NodeProto n) => n.OpType == "Constant" && string.IsNullOrEmpty(n.Domain);
}
