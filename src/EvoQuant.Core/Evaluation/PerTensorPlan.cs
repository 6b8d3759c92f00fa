using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;
using EvoQuant.Quantization.Provenance;

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
/// The three models of the per-tensor analysis, built from the provenance of the candidate (recorded by
/// the rewrite, or inferred from the graphs by <see cref="ProvenanceReader"/>), never from names:
/// <list type="bullet">
/// <item>the candidate, with the value of every reference activation exposed as an output: the
/// DequantizeLinear output of its Q/DQ pair, or for an integer tensor (QOperator) a DequantizeLinear
/// added with its scale and zero point, or the float tensor that holds it;</item>
/// <item>the reference, with every activation exposed;</item>
/// <item>the branch model: for every quantized source node, a copy of what now computes it (with its
/// dequantized weights and its output quantization) whose float inputs are graph inputs, fed with the
/// reference run's values of those tensors. Its output against the reference output is the node's own
/// error. It keeps the candidate's opsets (a quantizer may raise them), so the reference keeps its own.</item>
/// </list>
/// Weights are compared offline (float initializer vs its integer form dequantized by the kernels).
/// </summary>
internal sealed class PerTensorPlan
{
    internal const string Prefix = "evq_eval/";

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

    /// <summary>Tensor name → quantized nodes that read its quantized value (they keep it quantized while any is).</summary>
    public required Dictionary<string, string[]> QuantizedConsumers { get; init; }

    /// <summary>The provenance the plan was built from.</summary>
    public required QuantizationProvenance Provenance { get; init; }

    /// <param name="provenance">What the rewrite recorded; null infers it from the two graphs. A recorded map takes
    /// its node outcomes from the graphs (<see cref="QuantizationProvenance.WithRuntimeOutcomes"/>): both give one report.</param>
    /// <param name="work">Counts the steps of the build (tests show it is linear).</param>
    public static PerTensorPlan Build(OnnxModel reference, OnnxModel candidate, QuantizationProvenance? provenance = null, WorkCounter? work = null)
    {
        work ??= new WorkCounter();
        var read = ProvenanceReader.Infer(reference.Graph, candidate.Graph, work);
        provenance = provenance?.WithRuntimeOutcomes(read) ?? read;
        return new PerTensorPlanBuilder(reference, candidate, provenance, work).Build();
    }

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
}
