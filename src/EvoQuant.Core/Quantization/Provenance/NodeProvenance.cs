namespace EvoQuant.Quantization.Provenance;

/// <summary>What the rewrite did with one node of the float model.</summary>
public enum NodeOutcome
{
    /// <summary>Runs on integers (QOperator, dynamic) or between Q/DQ pairs (QDQ).</summary>
    Quantized,
    /// <summary>Removed: folded into its producer (a Relu or Clip whose range the producer's quantization clamps,
    /// a BatchNormalization folded into its Conv).</summary>
    Folded,
    /// <summary>Left in float on purpose (excluded, unsupported, slower on the target), with a reason.</summary>
    Float,
}

/// <summary>One node of the float model and the nodes of the output model that now compute it.
/// Nodes are identified by their first output tensor name (unique in an ONNX graph, present when names are not).</summary>
/// <param name="SourceNode">First output of the node in the float model.</param>
/// <param name="OpType">Its op type in the float model.</param>
/// <param name="Outcome">Quantized, folded or kept float.</param>
/// <param name="EmittedNodes">First outputs of the output-model nodes that compute it (QDQ: the node itself;
/// QOperator: QLinearConv...; dynamic: DynamicQuantizeLinear + MatMulInteger + ...). Empty when folded.</param>
/// <param name="Reason">Why it was folded or kept float, in words a user understands; null when quantized.</param>
/// <param name="FoldedInto">For a folded node, the first output of the source node that absorbed it.</param>
public sealed record NodeProvenance(
    string SourceNode,
    string OpType,
    NodeOutcome Outcome,
    IReadOnlyList<string> EmittedNodes,
    string? Reason = null,
    string? FoldedInto = null);
